package lambdasim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// maxPayload is Lambda's synchronous payload limit.
const maxPayload = 6 << 20

// routes serves the three APIs.
func (s *Sim) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", s.runtimeNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", s.runtimeResponse)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", s.runtimeResponse)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", s.runtimeInitError)
	mux.HandleFunc("POST /2020-01-01/extension/register", s.extRegister)
	mux.HandleFunc("GET /2020-01-01/extension/event/next", s.withExt(s.extNext))
	mux.HandleFunc("POST /2020-01-01/extension/init/error", s.withExt(s.extError))
	mux.HandleFunc("POST /2020-01-01/extension/exit/error", s.withExt(s.extError))
	mux.HandleFunc("PUT /2022-07-01/telemetry", s.withExt(s.telemetrySubscribe))
	return mux
}

// apiError writes Lambda's error body.
func apiError(w http.ResponseWriter, status int, errorType, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorType": errorType, "errorMessage": fmt.Sprintf(format, args...)})
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`+"\n")
}

// current returns the environment, or nil.
func (s *Sim) current() *environment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.env
}

// runtimeNext hands the runtime the next invocation, waiting for one.
func (s *Sim) runtimeNext(w http.ResponseWriter, r *http.Request) {
	env := s.current()
	if env == nil {
		apiError(w, http.StatusForbidden, "InvalidStateTransition", "no execution environment")
		return
	}
	var inv *invocation
	s.mu.Lock()
	env.runtimeUp = true
	s.broadcastLocked()
	s.mu.Unlock()
	ok := s.waitUntil(r.Context(), func() bool {
		if len(env.queue) > 0 {
			inv = env.queue[0]
			env.queue = env.queue[1:]
			inv.delivered = true
			return true
		}
		return false
	})
	if !ok {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", s.cfg.Region, s.cfg.AccountID, s.cfg.FunctionName))
	h.Set("Lambda-Runtime-Trace-Id", inv.trace)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

// runtimeResponse takes an invocation's response or error.
func (s *Sim) runtimeResponse(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	isError := filepath.Base(r.URL.Path) == "error"
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil {
		apiError(w, http.StatusBadRequest, "TruncatedHTTPRequest", "HTTP request detected as truncated")
		return
	}
	if len(body) > maxPayload {
		apiError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "Exceeded maximum allowed payload size (%d bytes).", maxPayload)
		return
	}
	env := s.current()
	s.mu.Lock()
	defer s.mu.Unlock()
	var inv *invocation
	if env != nil {
		inv = env.invs[id]
	}
	if inv == nil || !inv.delivered {
		apiError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID")
		return
	}
	if inv.done {
		apiError(w, http.StatusForbidden, "InvalidStateTransition", "State transition from ResponseSent to ResponseSent failed for runtime. Error: response already sent")
		return
	}
	inv.done, inv.doneAt, inv.response = true, time.Now(), body
	// A streamed response that failed midway says so in its trailers.
	if t := r.Trailer.Get("Lambda-Runtime-Function-Error-Type"); t != "" {
		inv.errorType = t
	}
	if isError {
		inv.errorType = r.Header.Get("Lambda-Runtime-Function-Error-Type")
		if inv.errorType == "" {
			inv.errorType = "Unhandled"
		}
	}
	s.broadcastLocked()
	accepted(w)
}

// runtimeInitError fails the init phase.
func (s *Sim) runtimeInitError(w http.ResponseWriter, r *http.Request) {
	env := s.current()
	s.mu.Lock()
	defer s.mu.Unlock()
	if env == nil || env.phase != phaseInit {
		apiError(w, http.StatusForbidden, "InvalidStateTransition", "init/error is only valid during init")
		return
	}
	env.initError = r.Header.Get("Lambda-Runtime-Function-Error-Type")
	if env.initError == "" {
		env.initError = "Runtime.InitError"
	}
	s.broadcastLocked()
	accepted(w)
}

// extRegister registers an extension during init.
func (s *Sim) extRegister(w http.ResponseWriter, r *http.Request) {
	name := r.Header.Get("Lambda-Extension-Name")
	if name == "" {
		apiError(w, http.StatusForbidden, "Extension.InvalidExtensionName", "Empty extension name")
		return
	}
	var req struct {
		Events []string `json:"events"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			apiError(w, http.StatusForbidden, "InvalidRequestFormat", "%s", err)
			return
		}
	}
	for _, ev := range req.Events {
		if ev != "INVOKE" && ev != "SHUTDOWN" {
			apiError(w, http.StatusForbidden, "Extension.InvalidEventType", "%s: invalid event type", ev)
			return
		}
		if ev == "INVOKE" && s.cfg.ManagedInstances {
			apiError(w, http.StatusForbidden, "Extension.InvalidEventType", "INVOKE: not supported on Lambda Managed Instances")
			return
		}
	}
	env := s.current()
	s.mu.Lock()
	defer s.mu.Unlock()
	if env == nil || env.phase != phaseInit {
		apiError(w, http.StatusForbidden, "Extension.RegistrationClosed", "Extension registration closed already")
		return
	}
	if env.extByName(name) != nil {
		apiError(w, http.StatusForbidden, "Extension.InvalidExtensionState", "Extension with this name already registered")
		return
	}
	if len(env.exts) >= MaxExtensions {
		apiError(w, http.StatusForbidden, "Extension.TooManyExtensions", "Extension limit (%d) reached", MaxExtensions)
		return
	}
	var p *proc
	for _, q := range env.procs {
		if q.name == name && q.origin == "extension" {
			p = q
		}
	}
	if p == nil {
		apiError(w, http.StatusForbidden, "Extension.InvalidExtensionName", "%s is not an extension of this function", name)
		return
	}
	e := &ext{name: name, id: uuid.NewString(), proc: p, events: slices.Clone(req.Events), registered: time.Now()}
	env.exts = append(env.exts, e)
	env.byID[e.id] = e
	s.broadcastLocked()
	events := e.events
	if events == nil {
		events = []string{}
	}
	env.tel.publish(event{time: time.Now(), typ: "platform.extension", record: map[string]any{
		"name": name, "state": "Ready", "events": events,
	}})
	resp := map[string]string{"functionName": s.cfg.FunctionName, "functionVersion": s.cfg.FunctionVersion, "handler": "bootstrap"}
	if slices.Contains(r.Header.Values("Lambda-Extension-Accept-Feature"), "accountId") {
		resp["accountId"] = s.cfg.AccountID
	}
	w.Header().Set("Lambda-Extension-Identifier", e.id)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// withExt resolves the Lambda-Extension-Identifier header, answering 403
// when it is missing or unknown.
func (s *Sim) withExt(h func(http.ResponseWriter, *http.Request, *environment, *ext)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("Lambda-Extension-Identifier")
		if id == "" {
			apiError(w, http.StatusForbidden, "Extension.MissingExtensionIdentifier", "Missing Lambda-Extension-Identifier header")
			return
		}
		env := s.current()
		s.mu.Lock()
		var e *ext
		if env != nil {
			e = env.byID[id]
		}
		s.mu.Unlock()
		if e == nil {
			apiError(w, http.StatusForbidden, "Extension.UnknownExtensionIdentifier", "Unknown extension %s", id)
			return
		}
		h(w, r, env, e)
	}
}

// extNext delivers an extension its next event, waiting for one.
func (s *Sim) extNext(w http.ResponseWriter, r *http.Request, env *environment, e *ext) {
	var ev []byte
	s.mu.Lock()
	e.idle = true
	if e.firstNext.IsZero() {
		e.firstNext = time.Now()
	}
	s.broadcastLocked()
	s.mu.Unlock()
	ok := s.waitUntil(r.Context(), func() bool {
		if e.pending != nil {
			ev, e.pending, e.idle = e.pending, nil, false
			return true
		}
		return false
	})
	if !ok {
		s.mu.Lock()
		e.idle = false
		s.mu.Unlock()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Lambda-Extension-Event-Identifier", uuid.NewString())
	_, _ = w.Write(ev)
}

// extError records an extension's init/error or exit/error.
func (s *Sim) extError(w http.ResponseWriter, r *http.Request, env *environment, e *ext) {
	errorType := r.Header.Get("Lambda-Extension-Function-Error-Type")
	if errorType == "" {
		apiError(w, http.StatusBadRequest, "Extension.MissingHeader", "Missing Lambda-Extension-Function-Error-Type header")
		return
	}
	s.mu.Lock()
	if filepath.Base(r.URL.Path) == "error" && filepath.Base(filepath.Dir(r.URL.Path)) == "init" {
		env.initError = "Extension.InitError"
	} else {
		env.exitError = "Extension.ExitError"
	}
	s.broadcastLocked()
	s.mu.Unlock()
	accepted(w)
}

// telemetrySubscribe subscribes an extension to the Telemetry API.
func (s *Sim) telemetrySubscribe(w http.ResponseWriter, r *http.Request, env *environment, e *ext) {
	var sub subscription
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(body, &sub); err != nil {
		apiError(w, http.StatusBadRequest, "ValidationError", "request body is not valid JSON: %s", err)
		return
	}
	addr, path, err := sub.validate(s.cfg.ManagedInstances)
	if err != nil {
		apiError(w, http.StatusBadRequest, "ValidationError", "%s", err)
		return
	}
	env.tel.subscribe(&subscriber{
		name:     e.name,
		schema:   sub.SchemaVersion,
		types:    sub.Types,
		url:      "http://" + addr + path,
		maxItems: *sub.Buffering.MaxItems,
		maxBytes: *sub.Buffering.MaxBytes,
		timeout:  time.Duration(*sub.Buffering.TimeoutMs) * time.Millisecond,
		limit:    s.cfg.TelemetryBufferBytes,
		jsonLogs: s.cfg.LogFormat == "JSON",
	})
	env.tel.publish(event{time: time.Now(), typ: "platform.telemetrySubscription", record: map[string]any{
		"name": e.name, "state": "Subscribed", "types": sub.Types,
	}})
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "OK")
}
