package lambdasim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Telemetry API facts (protocols.md B.1).
var schemaVersions = []string{"2022-07-01", "2022-12-13", "2025-01-29"}

const (
	minMaxItems, maxMaxItems   = 1000, 10000
	minMaxBytes, maxMaxBytes   = 262144, 1048576
	minTimeoutMs, maxTimeoutMs = 25, 30000
)

// timeFormat is how the Telemetry API writes times.
const timeFormat = "2006-01-02T15:04:05.000Z"

// event is one telemetry event before encoding for a subscriber.
type event struct {
	time   time.Time
	typ    string // platform.*, function, extension
	record any    // platform record; for logs, the line ([]byte)
}

// subscription is a validated Telemetry API subscription request.
type subscription struct {
	SchemaVersion string   `json:"schemaVersion"`
	Types         []string `json:"types"`
	Buffering     struct {
		MaxItems  *int `json:"maxItems"`
		MaxBytes  *int `json:"maxBytes"`
		TimeoutMs *int `json:"timeoutMs"`
	} `json:"buffering"`
	Destination struct {
		Protocol string `json:"protocol"`
		URI      string `json:"URI"`
	} `json:"destination"`
}

// validate checks the request as Lambda does and returns the delivery
// address (127.0.0.1:port, as sandbox.localdomain is local), or the
// validation message.
func (s *subscription) validate(managedInstances bool) (addr, path string, err error) {
	if !slices.Contains(schemaVersions, s.SchemaVersion) {
		return "", "", fmt.Errorf("schemaVersion must be one of %s", strings.Join(schemaVersions, ", "))
	}
	if managedInstances && s.SchemaVersion != "2025-01-29" {
		return "", "", fmt.Errorf("schemaVersion must be 2025-01-29 on Lambda Managed Instances")
	}
	if len(s.Types) == 0 {
		return "", "", fmt.Errorf("types must have at least 1 item")
	}
	for _, t := range s.Types {
		if t != "platform" && t != "function" && t != "extension" {
			return "", "", fmt.Errorf("types: %q is not one of platform, function, extension", t)
		}
	}
	b := &s.Buffering
	def := func(p **int, v int) {
		if *p == nil {
			*p = &v
		}
	}
	def(&b.MaxItems, 10000)
	def(&b.MaxBytes, 262144)
	def(&b.TimeoutMs, 1000)
	for _, c := range []struct {
		name     string
		v, lo, h int
	}{
		{"buffering.maxItems", *b.MaxItems, minMaxItems, maxMaxItems},
		{"buffering.maxBytes", *b.MaxBytes, minMaxBytes, maxMaxBytes},
		{"buffering.timeoutMs", *b.TimeoutMs, minTimeoutMs, maxTimeoutMs},
	} {
		if c.v < c.lo || c.v > c.h {
			return "", "", fmt.Errorf("%s must be between %d and %d, got %d", c.name, c.lo, c.h, c.v)
		}
	}
	if s.Destination.Protocol != "HTTP" {
		return "", "", fmt.Errorf("destination.protocol must be HTTP")
	}
	u, perr := url.Parse(s.Destination.URI)
	if perr != nil || u.Scheme != "http" || u.Port() == "" {
		return "", "", fmt.Errorf("destination.URI must be http://sandbox.localdomain:PORT/PATH")
	}
	if h := u.Hostname(); h != "sandbox.localdomain" && h != "sandbox" {
		return "", "", fmt.Errorf("destination.URI host must be sandbox.localdomain")
	}
	return net.JoinHostPort("127.0.0.1", u.Port()), u.RequestURI(), nil
}

// subscriber delivers one extension's subscription: a bounded queue of
// encoded events and one goroutine that POSTs batches.
type subscriber struct {
	name      string
	schema    string
	types     []string
	url       string
	maxItems  int
	maxBytes  int
	timeout   time.Duration
	limit     int // pending bytes beyond which events are dropped
	jsonLogs  bool
	client    *http.Client
	telemetry *telemetry

	queue        []json.RawMessage
	queueBytes   int
	firstQueued  time.Time
	dropRecords  int64
	dropBytes    int64
	inFlight     bool
	wake         chan struct{}
	stop, doneCh chan struct{}
}

// telemetry is the Telemetry API of one execution environment. Its lock is
// taken after Sim.mu, never before.
type telemetry struct {
	mu      sync.Mutex
	changed chan struct{}
	frozen  bool
	subs    []*subscriber
	// backlog holds what was produced before any subscription, so that an
	// extension subscribing during init still receives initStart.
	backlog []event
}

const maxBacklog = 1000

func newTelemetry() *telemetry { return &telemetry{changed: make(chan struct{})} }

func (t *telemetry) broadcastLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// publish records an event for every subscriber whose types include it.
func (t *telemetry) publish(ev event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.backlog) < maxBacklog {
		t.backlog = append(t.backlog, ev)
	}
	for _, s := range t.subs {
		s.enqueueLocked(ev)
	}
	t.broadcastLocked()
}

func typeOf(ev event) string {
	if ev.typ == "function" || ev.typ == "extension" {
		return ev.typ
	}
	return "platform"
}

// encode renders ev for this subscriber's schema and log format.
func (s *subscriber) encode(ev event) json.RawMessage {
	var record any = ev.record
	if line, ok := ev.record.([]byte); ok {
		record = s.logRecord(ev.time, line)
	}
	b, _ := json.Marshal(map[string]any{"time": ev.time.UTC().Format(timeFormat), "type": ev.typ, "record": record})
	return b
}

// logRecord is a function/extension record: the line as a string in text
// format (and always for schema 2022-07-01), an object in JSON format.
func (s *subscriber) logRecord(at time.Time, line []byte) any {
	if !s.jsonLogs || s.schema == "2022-07-01" {
		return string(line)
	}
	if len(line) > 0 && line[0] == '{' && json.Valid(line) {
		return json.RawMessage(slices.Clone(line))
	}
	return map[string]any{"timestamp": at.UTC().Format(timeFormat), "level": "INFO", "message": string(line)}
}

func (s *subscriber) enqueueLocked(ev event) {
	if !slices.Contains(s.types, typeOf(ev)) {
		return
	}
	b := s.encode(ev)
	if s.queueBytes+len(b) > s.limit {
		s.dropRecords++
		s.dropBytes += int64(len(b))
		return
	}
	if len(s.queue) == 0 {
		s.firstQueued = time.Now()
	}
	s.queue = append(s.queue, b)
	s.queueBytes += len(b)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// subscribe adds a subscriber and starts its delivery.
func (t *telemetry) subscribe(s *subscriber) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s.telemetry = t
	s.wake = make(chan struct{}, 1)
	s.stop, s.doneCh = make(chan struct{}), make(chan struct{})
	s.client = &http.Client{Timeout: 5 * time.Second}
	for _, ev := range t.backlog {
		s.enqueueLocked(ev)
	}
	t.subs = append(t.subs, s)
	go s.run()
}

// freeze stops deliveries; it waits (bounded) for a POST in flight, so that
// nothing is sent to a frozen process.
func (t *telemetry) freeze(ctx context.Context) {
	t.mu.Lock()
	t.frozen = true
	t.broadcastLocked()
	t.mu.Unlock()
	t.waitUntil(ctx, func() bool {
		return !slices.ContainsFunc(t.subs, func(s *subscriber) bool { return s.inFlight })
	})
}

// thaw resumes deliveries.
func (t *telemetry) thaw() {
	t.mu.Lock()
	t.frozen = false
	t.broadcastLocked()
	t.mu.Unlock()
}

// close stops every subscriber.
func (t *telemetry) close() {
	t.mu.Lock()
	subs := t.subs
	t.subs = nil
	t.mu.Unlock()
	for _, s := range subs {
		close(s.stop)
		<-s.doneCh
	}
}

// waitUntil blocks until cond (evaluated under t.mu) holds or ctx ends.
func (t *telemetry) waitUntil(ctx context.Context, cond func() bool) bool {
	for {
		t.mu.Lock()
		ok, ch := cond(), t.changed
		t.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		}
	}
}

// run delivers batches until stopped: a batch is sent when maxItems or
// maxBytes are reached or timeout has passed since its first event, never
// while the environment is frozen, one POST at a time. A failed POST is
// retried with backoff; its events stay queued meanwhile.
func (s *subscriber) run() {
	defer close(s.doneCh)
	t := s.telemetry
	backoff := 50 * time.Millisecond
	for {
		t.mu.Lock()
		ready := len(s.queue) > 0 && !t.frozen &&
			(len(s.queue) >= s.maxItems || s.queueBytes >= s.maxBytes || time.Since(s.firstQueued) >= s.timeout)
		var wait time.Duration = -1
		if len(s.queue) > 0 && !t.frozen && !ready {
			wait = s.timeout - time.Since(s.firstQueued)
		}
		changed := t.changed
		var batch []json.RawMessage
		if ready {
			batch = s.takeLocked()
			s.inFlight = true
		}
		t.mu.Unlock()

		if batch == nil {
			var timer <-chan time.Time
			if wait >= 0 {
				timer = time.After(wait)
			}
			select {
			case <-s.stop:
				return
			case <-s.wake:
			case <-changed:
			case <-timer:
			}
			continue
		}
		err := s.post(batch)
		t.mu.Lock()
		s.inFlight = false
		if err != nil {
			// Put the batch back in front, in order.
			s.queue = append(batch, s.queue...)
			for _, b := range batch {
				s.queueBytes += len(b)
			}
		} else {
			backoff = 50 * time.Millisecond
		}
		t.broadcastLocked()
		t.mu.Unlock()
		if err != nil {
			select {
			case <-s.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
		}
	}
}

// takeLocked removes one batch from the queue; when events were dropped
// and there is room again, it first reports the loss as platform.logsDropped.
func (s *subscriber) takeLocked() []json.RawMessage {
	n, size := 0, 0
	for n < len(s.queue) && n < s.maxItems && (n == 0 || size+len(s.queue[n]) <= s.maxBytes) {
		size += len(s.queue[n])
		n++
	}
	batch := slices.Clone(s.queue[:n])
	s.queue = s.queue[n:]
	s.queueBytes -= size
	if len(s.queue) > 0 {
		s.firstQueued = time.Now()
	}
	if s.dropRecords > 0 {
		batch = append(batch, s.encode(event{time: time.Now(), typ: "platform.logsDropped", record: map[string]any{
			"droppedBytes":   s.dropBytes,
			"droppedRecords": s.dropRecords,
			"reason":         "Some logs were dropped because the downstream consumer is slower than the logs production rate",
		}}))
		s.dropRecords, s.dropBytes = 0, 0
	}
	return batch
}

// post sends one batch as a JSON array.
func (s *subscriber) post(batch []json.RawMessage) error {
	var body bytes.Buffer
	body.WriteByte('[')
	for i, b := range batch {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(b)
	}
	body.WriteByte(']')
	resp, err := s.client.Post(s.url, "application/json", &body)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return fmt.Errorf("subscriber answered %d", resp.StatusCode)
	}
	return nil
}
