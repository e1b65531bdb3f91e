package lambdasim

// The test binary plays the processes lambdasim runs: started with the
// argument role=function it is the sample function, with role=extension a
// scripted extension (testExtension). So the lifecycle tests run real
// processes without building anything.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/audittrail/audittrail/internal/lambdasim/samplefn"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "role=function":
			os.Exit(samplefn.Main(context.Background(), os.Getenv, os.Stdout, os.Stderr))
		case "role=extension":
			os.Exit(testExtension())
		case "role=init-error":
			// A runtime whose initialisation fails, as a crashing handler
			// import would make it.
			req, _ := http.NewRequest("POST", "http://"+os.Getenv("AWS_LAMBDA_RUNTIME_API")+"/2018-06-01/runtime/init/error",
				strings.NewReader(`{"errorMessage":"cannot load handler","errorType":"Runtime.ImportModuleError"}`))
			req.Header.Set("Lambda-Runtime-Function-Error-Type", "Runtime.ImportModuleError")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// The scripted extension is configured by these variables and writes what
// it sees as JSON lines under TEST_EXT_DIR: events.jsonl (each event/next
// answer), batches.jsonl (each telemetry POST), steps.jsonl (API answers).
const (
	envDir    = "TEST_EXT_DIR"
	envEvents = "TEST_EXT_EVENTS" // register for these, e.g. "INVOKE,SHUTDOWN"
	envSchema = "TEST_EXT_SCHEMA" // subscribe with this schema ("" = do not subscribe)
	envTypes  = "TEST_EXT_TYPES"  // telemetry types
	envTry    = "TEST_EXT_TRY"    // "register-invoke", "subscribe-2022-12-13": extra calls first; "crash-before-register", "ignore-shutdown"
)

type step struct {
	Call   string    `json:"call"`
	Status int       `json:"status"`
	Body   string    `json:"body"`
	At     time.Time `json:"at"`
}

type batch struct {
	At     time.Time         `json:"at"`
	Events []json.RawMessage `json:"events"`
}

func testExtension() int {
	dir := os.Getenv(envDir)
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API")
	var mu sync.Mutex
	appendJSON := func(name string, v any) {
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return
		}
		b, _ := json.Marshal(v)
		_, _ = f.Write(append(b, '\n'))
		_ = f.Close()
	}
	call := func(name, method, path, id string, hdr map[string]string, body string) (*http.Response, string) {
		req, _ := http.NewRequest(method, api+path, strings.NewReader(body))
		if id != "" {
			req.Header.Set("Lambda-Extension-Identifier", id)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			appendJSON("steps.jsonl", step{Call: name, Status: -1, Body: err.Error(), At: time.Now()})
			return nil, ""
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		appendJSON("steps.jsonl", step{Call: name, Status: resp.StatusCode, Body: string(b), At: time.Now()})
		return resp, string(b)
	}
	name := os.Args[2] // the extension's file name, passed on by its script
	if strings.Contains(os.Getenv(envTry), "crash-before-register") {
		return 3
	}
	events := strings.Split(os.Getenv(envEvents), ",")
	eventsJSON, _ := json.Marshal(map[string][]string{"events": events})
	if strings.Contains(os.Getenv(envTry), "register-invoke") {
		call("register-invoke", "POST", "/2020-01-01/extension/register", "", map[string]string{"Lambda-Extension-Name": name}, `{"events":["INVOKE","SHUTDOWN"]}`)
	}
	resp, _ := call("register", "POST", "/2020-01-01/extension/register", "", map[string]string{"Lambda-Extension-Name": name}, string(eventsJSON))
	if resp == nil || resp.StatusCode != 200 {
		return 1
	}
	id := resp.Header.Get("Lambda-Extension-Identifier")
	// Like a careful extension, it waits for platform.runtimeDone before
	// asking for the next event, and at SHUTDOWN for the reports still due.
	seen := newSeenSet()
	if schema := os.Getenv(envSchema); schema != "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 1
		}
		go func() {
			_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var evs []json.RawMessage
				_ = json.NewDecoder(r.Body).Decode(&evs)
				appendJSON("batches.jsonl", batch{At: time.Now(), Events: evs})
				seen.add(evs)
			}))
		}()
		sub := func(name, schema string) {
			body := fmt.Sprintf(`{"schemaVersion":%q,"types":%s,"buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":25},"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:%d/t"}}`,
				schema, quoteList(os.Getenv(envTypes)), ln.Addr().(*net.TCPAddr).Port)
			call(name, "PUT", "/2022-07-01/telemetry", id, nil, body)
		}
		if strings.Contains(os.Getenv(envTry), "subscribe-2022-12-13") {
			sub("subscribe-2022-12-13", "2022-12-13")
		}
		sub("subscribe", schema)
	}
	for {
		resp, body := call("next", "GET", "/2020-01-01/extension/event/next", id, nil, "")
		if resp == nil || resp.StatusCode != 200 {
			return 1
		}
		var ev struct {
			EventType  string `json:"eventType"`
			RequestID  string `json:"requestId"`
			DeadlineMs int64  `json:"deadlineMs"`
		}
		_ = json.Unmarshal([]byte(body), &ev)
		appendJSON("events.jsonl", json.RawMessage(body))
		deadline := time.UnixMilli(ev.DeadlineMs)
		if os.Getenv(envSchema) == "" || !strings.Contains(os.Getenv(envTypes), "platform") {
			deadline = time.Now() // nothing to wait for
		}
		if ev.EventType == "SHUTDOWN" && strings.Contains(os.Getenv(envTry), "ignore-shutdown") {
			select {} // a misbehaving extension: lambdasim must kill it at the deadline
		}
		if ev.EventType == "SHUTDOWN" {
			seen.wait(deadline.Add(-300*time.Millisecond), func(s *seenSet) bool {
				for id := range s.started {
					if !s.reported[id] {
						return false
					}
				}
				return true
			})
			return 0
		}
		seen.wait(deadline.Add(-100*time.Millisecond), func(s *seenSet) bool { return s.runtimeDone[ev.RequestID] })
	}
}

// seenSet remembers which requests the scripted extension saw start, end
// and reported in telemetry.
type seenSet struct {
	mu                             sync.Mutex
	changed                        chan struct{}
	started, runtimeDone, reported map[string]bool
}

func newSeenSet() *seenSet {
	return &seenSet{changed: make(chan struct{}), started: map[string]bool{}, runtimeDone: map[string]bool{}, reported: map[string]bool{}}
}

func (s *seenSet) add(evs []json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, raw := range evs {
		var ev struct {
			Type   string `json:"type"`
			Record struct {
				RequestID string `json:"requestId"`
			} `json:"record"`
		}
		if json.Unmarshal(raw, &ev) != nil {
			continue
		}
		switch ev.Type {
		case "platform.start":
			s.started[ev.Record.RequestID] = true
		case "platform.runtimeDone":
			s.runtimeDone[ev.Record.RequestID] = true
		case "platform.report":
			s.reported[ev.Record.RequestID] = true
			s.runtimeDone[ev.Record.RequestID] = true
		}
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// wait blocks until cond holds or until the deadline.
func (s *seenSet) wait(deadline time.Time, cond func(*seenSet) bool) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		s.mu.Lock()
		ok, ch := cond(s), s.changed
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			return
		}
	}
}

func quoteList(s string) string {
	b, _ := json.Marshal(strings.Split(s, ","))
	return string(b)
}

// scenario is one simulated function with the scripted extension.
type scenario struct {
	sim *Sim
	dir string
}

func newScenario(t *testing.T, ext map[string]string, mutate func(*Config)) *scenario {
	t.Helper()
	dir := t.TempDir()
	opt := t.TempDir()
	if ext != nil {
		if err := os.MkdirAll(filepath.Join(opt, "extensions"), 0o755); err != nil {
			t.Fatal(err)
		}
		script := fmt.Sprintf("#!/bin/sh\nexec %q role=extension \"$(basename \"$0\")\"\n", os.Args[0])
		if err := os.WriteFile(filepath.Join(opt, "extensions", "scripted"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{envDir: dir}
	for k, v := range ext {
		env[k] = v
	}
	cfg := Config{OptDir: opt, Runtime: []string{os.Args[0], "role=function"}, OSOnlyRuntime: true, Env: env, Timeout: 2 * time.Second}
	if mutate != nil {
		mutate(&cfg)
	}
	sim, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return &scenario{sim: sim, dir: dir}
}

func (sc *scenario) invoke(t *testing.T, method, path string) *Result {
	t.Helper()
	res, err := sc.sim.Invoke(t.Context(), samplefn.HTTPEvent(method, path, samplefn.EventOptions{}))
	if err != nil {
		t.Fatalf("invoke %s %s: %v", method, path, err)
	}
	return res
}

func readLines[T any](t *testing.T, path string) []T {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, v)
	}
	return out
}

// telemetryEvent is one received Telemetry API event.
type telemetryEvent struct {
	Time   string          `json:"time"`
	Type   string          `json:"type"`
	Record json.RawMessage `json:"record"`
	At     time.Time       // when the batch holding it arrived
}

func (sc *scenario) telemetry(t *testing.T) []telemetryEvent {
	t.Helper()
	var out []telemetryEvent
	for _, b := range readLines[batch](t, filepath.Join(sc.dir, "batches.jsonl")) {
		for _, raw := range b.Events {
			var ev telemetryEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatalf("telemetry event %s: %v", raw, err)
			}
			ev.At = b.At
			out = append(out, ev)
		}
	}
	return out
}

func (sc *scenario) steps(t *testing.T) map[string]step {
	out := map[string]step{}
	for _, s := range readLines[step](t, filepath.Join(sc.dir, "steps.jsonl")) {
		if _, seen := out[s.Call]; !seen {
			out[s.Call] = s
		}
	}
	return out
}

func withType(evs []telemetryEvent, typ string) []telemetryEvent {
	var out []telemetryEvent
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func recordField(t *testing.T, ev telemetryEvent, field string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Record, &m); err != nil {
		t.Fatalf("%s record %s: %v", ev.Type, ev.Record, err)
	}
	return m[field]
}
