package extension

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/audittrail/audittrail/schema"
	"github.com/audittrail/audittrail/sinks"
)

// recordingSink keeps what it is given, or fails while err is set. It is a
// stand-in for the sink interface itself; real sinks have their own tests.
type recordingSink struct {
	name  string
	err   error
	got   []string
	calls int
}

func (s *recordingSink) Name() string { return s.name }
func (s *recordingSink) Write(_ context.Context, batch [][]byte) error {
	s.calls++
	if s.err != nil {
		return s.err
	}
	for _, b := range batch {
		s.got = append(s.got, string(b))
	}
	return nil
}
func (s *recordingSink) Close(context.Context) error { return nil }

// newTestPipeline returns a pipeline whose sinks have memory only (no
// spool), queueBytes each.
func newTestPipeline(t *testing.T, queueBytes int, ss ...sinks.Sink) (*pipeline, *bytes.Buffer) {
	p, logs, _ := newTestPipelineStdout(t, queueBytes, ss...)
	return p, logs
}

func newTestPipelineStdout(t *testing.T, queueBytes int, ss ...sinks.Sink) (*pipeline, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	return newSpooledPipeline(t, "env-1", delivery{QueueBytes: queueBytes}, ss...)
}

// newSpooledPipeline returns a pipeline of environment envID delivering as
// d says (SpoolDir and SpoolBytes give each sink a spool).
func newSpooledPipeline(t *testing.T, envID string, d delivery, ss ...sinks.Sink) (*pipeline, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	var logs, stdout bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	env := schema.Environment{EnvID: envID, FunctionName: "fn", Region: "us-east-1", MemoryMB: 128, InitializationType: "on-demand"}
	if d.Retry == (sinks.RetryConfig{}) {
		d.Retry = sinks.DefaultRetryConfig()
	}
	obs, err := openOutboxes(d, ss)
	if err != nil {
		t.Fatal(err)
	}
	return newPipeline(log, env, schema.Chain{}, obs, &stdout), &logs, &stdout
}

// held counts the records still waiting for each sink, in memory or on the
// spool.
func held(p *pipeline) map[string]int {
	out := map[string]int{}
	for _, o := range p.outboxes {
		recs, _, _ := o.backlog.Held()
		out[o.name] = len(recs)
	}
	return out
}

// invocationTelemetry is the platform telemetry of one finished invocation.
func invocationTelemetry(requestID string) []schema.TelemetryEvent {
	ts := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	return []schema.TelemetryEvent{
		{Time: ts, Type: "platform.start", Record: json.RawMessage(`{"requestId":"` + requestID + `","version":"$LATEST"}`)},
		{Time: ts.Add(5 * time.Millisecond), Type: "platform.runtimeDone", Record: json.RawMessage(`{"requestId":"` + requestID + `","status":"success","metrics":{"durationMs":5.1,"producedBytes":12}}`)},
		{Time: ts.Add(6 * time.Millisecond), Type: "platform.report", Record: json.RawMessage(`{"requestId":"` + requestID + `","status":"success","metrics":{"durationMs":5.9,"billedDurationMs":6,"memorySizeMB":128,"maxMemoryUsedMB":20}}`)},
	}
}

func actions(t *testing.T, recs []string) []string {
	t.Helper()
	var out []string
	for _, r := range recs {
		var rec schema.Record
		if err := json.Unmarshal([]byte(r), &rec); err != nil {
			t.Fatalf("sink got invalid JSON %q: %v", r, err)
		}
		a := rec.Event.Action
		if rec.Gap != nil {
			a += ":" + rec.Gap.Reason
		}
		out = append(out, a)
	}
	return out
}

func TestFlushDeliversToEverySink(t *testing.T) {
	a, b := &recordingSink{name: "a"}, &recordingSink{name: "b"}
	p, _ := newTestPipeline(t, 1<<20, a, b)
	p.telemetry(invocationTelemetry("r1"), 0, nil)
	p.telemetry(invocationTelemetry("r2"), 0, nil)
	p.flush(t.Context(), false)
	for _, s := range []*recordingSink{a, b} {
		if got := strings.Join(actions(t, s.got), ","); got != "invocation,invocation" {
			t.Errorf("sink %s got %s", s.name, got)
		}
	}
	if h := held(p); h["a"]+h["b"] != 0 {
		t.Errorf("records held after flush: %v", h)
	}
}

// TestFailingSinkKeepsItsRecordsAndIsIsolated: a failing sink neither
// loses records nor holds up the healthy one; once it recovers it gets
// every record, in order.
func TestFailingSinkKeepsItsRecordsAndIsIsolated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bad := &recordingSink{name: "bad", err: errors.New("connection refused")}
		good := &recordingSink{name: "good"}
		p, logs, stdout := newSpooledPipeline(t, "env-1", delivery{QueueBytes: 1 << 20, SpoolDir: t.TempDir(), SpoolBytes: 8 << 20}, bad, good)
		for _, id := range []string{"r1", "r2", "r3"} {
			p.telemetry(invocationTelemetry(id), 0, nil)
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			p.flush(ctx, false)
			cancel()
		}
		if got := strings.Join(actions(t, good.got), ","); got != "invocation,invocation,invocation" {
			t.Fatalf("healthy sink got %s", got)
		}
		if h := held(p); h["bad"] != 3 || h["good"] != 0 {
			t.Fatalf("held %v, want the failing sink's 3 records kept", h)
		}
		if n := strings.Count(logs.String(), "sink failing"); n != 1 {
			t.Errorf("failure logged %d times, want once", n)
		}
		// Three failed flushes open the circuit: the sink rests until its
		// probe is due, and then gets one attempt.
		calls := bad.calls
		p.flush(t.Context(), false)
		if bad.calls != calls {
			t.Errorf("a resting sink was tried %d times", bad.calls-calls)
		}
		time.Sleep(probeCooldown) // fake time: the cooldown passes
		p.flush(t.Context(), false)
		if bad.calls != calls+1 {
			t.Errorf("probe after the cooldown: %d attempts, want 1", bad.calls-calls)
		}
		time.Sleep(2 * probeCooldown) // the cooldown doubled
		bad.err = nil
		p.flush(t.Context(), false)
		if got := strings.Join(actions(t, bad.got), ","); got != "invocation,invocation,invocation" {
			t.Fatalf("recovered sink got %s", got)
		}
		if !strings.Contains(logs.String(), "sink recovered") || stdout.Len() != 0 {
			t.Errorf("recovery not logged, or records went to stdout: %s", stdout)
		}
		checkComplete(t, bad.got)
	})
}

// checkComplete verifies that records form complete, unbroken chains.
func checkComplete(t *testing.T, records []string) {
	t.Helper()
	v := schema.NewVerifier()
	for _, r := range records {
		v.Add([]byte(r))
	}
	for _, r := range v.Report() {
		if !r.OK() {
			t.Errorf("environment %s: %+v", r.EnvID, r)
		}
	}
}

func TestQueueOverflowBecomesGap(t *testing.T) {
	s := &recordingSink{name: "s"}
	p, _ := newTestPipeline(t, 1500, s) // room for about two records
	for _, id := range []string{"r1", "r2", "r3", "r4", "r5"} {
		p.telemetry(invocationTelemetry(id), 0, nil)
	}
	p.flush(t.Context(), false)
	got := actions(t, s.got)
	i := slices.Index(got, "coverage_gap:queue_full")
	if i < 0 {
		t.Fatalf("no queue_full gap in %v", got)
	}
	var gap schema.Record
	_ = json.Unmarshal([]byte(s.got[i]), &gap)
	if delivered := len(got) - 1; int64(delivered)+gap.Gap.Records != 5 {
		t.Errorf("delivered %d + lost %d != 5 produced", delivered, gap.Gap.Records)
	}
}

func TestInvalidTelemetryBecomesGap(t *testing.T) {
	s := &recordingSink{name: "s"}
	p, _ := newTestPipeline(t, 1<<20, s)
	p.telemetry(nil, 2, errors.New("element 0: bad; element 3: bad"))
	p.telemetry([]schema.TelemetryEvent{{Type: "platform.report", Record: json.RawMessage(`"not an object"`)}}, 0, nil)
	p.flush(t.Context(), false)
	var lost int64
	for _, r := range s.got {
		var rec schema.Record
		_ = json.Unmarshal([]byte(r), &rec)
		if rec.Gap == nil || rec.Gap.Reason != schema.GapTelemetryInvalid {
			t.Errorf("unexpected record %s", r)
			continue
		}
		lost += rec.Gap.Records
	}
	if lost != 3 {
		t.Errorf("invalid telemetry recorded as %d lost, want 3", lost)
	}
}

func TestWaitUntilRuntimeDone(t *testing.T) {
	p, _ := newTestPipeline(t, 1<<20)
	done := func(b *schema.Builder) bool { return b.RuntimeDone("r1") }

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if p.waitUntil(ctx, done) {
		t.Fatal("waitUntil true before any telemetry")
	}
	result := make(chan bool)
	go func() { result <- p.waitUntil(t.Context(), done) }()
	p.telemetry(invocationTelemetry("r1")[:2], 0, nil) // start + runtimeDone
	if !<-result {
		t.Fatal("waitUntil did not see runtimeDone")
	}
}

func TestUndeliveredAreMarkedLines(t *testing.T) {
	p, _, out := newTestPipelineStdout(t, 1<<20, &recordingSink{name: "down"}, &recordingSink{name: "also-down"})
	p.telemetry(invocationTelemetry("r1"), 0, nil)
	p.gap(schema.GapSinkFailed, 1, 10, "x")
	if n := p.undelivered(schema.GapShutdownDeadline); n != 2 {
		t.Fatalf("undelivered = %d, want 2", n)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for _, line := range lines {
		var m struct {
			Reason string        `json:"audittrail.undelivered"`
			Record schema.Record `json:"record"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil || m.Reason != schema.GapShutdownDeadline || m.Record.Event.ID == "" {
			t.Errorf("line %q: %+v %v", line, m, err)
		}
		if !schema.IsOwnLogLine([]byte(line)) {
			t.Errorf("undelivered line not recognised as our own: %s", line)
		}
	}
}

func TestListenerAnswers(t *testing.T) {
	type call struct {
		events int
		bad    int
	}
	var calls []call
	l := &listener{handle: func(evs []schema.TelemetryEvent, bad int, _ error) {
		calls = append(calls, call{len(evs), bad})
	}}
	batch := `[{"time":"2026-11-22T10:00:00.000Z","type":"platform.start","record":{"requestId":"r1"}},` +
		`{"time":"2026-11-22T10:00:00.001Z","type":"platform.runtimeDone","record":{"requestId":"r1","status":"success"}}]`
	tests := []struct {
		name, method, body string
		status             int
		want               []call
	}{
		{"batch", http.MethodPost, batch, 200, []call{{2, 0}}},
		{"not an array", http.MethodPost, `{"a":1}`, 400, []call{{0, 1}}},
		{"wrong method", http.MethodGet, "", 405, nil},
		{"too large", http.MethodPost, "[" + strings.Repeat(" ", maxTelemetryBody) + "]", 413, []call{{0, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls = nil
			w := httptest.NewRecorder()
			l.ServeHTTP(w, httptest.NewRequest(tt.method, "/telemetry", strings.NewReader(tt.body)))
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			if len(calls) != len(tt.want) || (len(calls) > 0 && calls[0] != tt.want[0]) {
				t.Errorf("handled %+v, want %+v", calls, tt.want)
			}
		})
	}
}

func TestGapFloodIsBoundedAndCounted(t *testing.T) {
	s := &recordingSink{name: "s"}
	p, logs := newTestPipeline(t, 1<<20, s)
	bad := schema.TelemetryEvent{Type: "platform.report", Record: json.RawMessage(`"bad"`)}
	const batches = maxHeldGaps + 50
	for range batches {
		p.telemetry([]schema.TelemetryEvent{bad, bad}, 0, nil)
	}
	if len(p.gaps) > maxHeldGaps {
		t.Fatalf("holding %d gap records, bound %d", len(p.gaps), maxHeldGaps)
	}
	p.flush(t.Context(), false)
	var lost int64
	for _, r := range s.got {
		var rec schema.Record
		_ = json.Unmarshal([]byte(r), &rec)
		lost += rec.Gap.Records
	}
	if lost != 2*batches {
		t.Errorf("gap records count %d lost events, want %d", lost, 2*batches)
	}
	if n := strings.Count(logs.String(), "invalid telemetry skipped"); n != batches {
		t.Errorf("logged %d times, want once per batch (%d)", n, batches)
	}
}

// TestLossesAreAccountedInTheChain: records the full queue dropped are
// missing from the sink's copy, and the verifier finds every one of them
// accounted for by the queue_full gap.
func TestLossesAreAccountedInTheChain(t *testing.T) {
	s := &recordingSink{name: "s"}
	p, _ := newTestPipeline(t, 1500, s)
	for i := range 6 {
		p.telemetry(invocationTelemetry(fmt.Sprintf("r%d", i)), 0, nil)
	}
	p.flush(t.Context(), false)
	p.shutdown("spindown")
	p.flush(t.Context(), false)
	v := schema.NewVerifier()
	for _, r := range s.got {
		v.Add([]byte(r))
	}
	reps := v.Report()
	if len(reps) != 1 {
		t.Fatalf("reports %+v", reps)
	}
	r := reps[0]
	if !r.OK() || len(r.Accounted) == 0 || !r.Closed {
		t.Errorf("report %+v, want losses accounted for and a closed, unbroken chain", r)
	}
}

// partialSink takes every record but the first of each batch, refusing it
// for good, and asks once for the rest to be sent again.
type partialSink struct {
	recordingSink
	retried bool
}

func (s *partialSink) Write(_ context.Context, batch [][]byte) error {
	s.calls++
	if !s.retried {
		s.retried = true
		return &sinks.PartialError{Rejected: []int{0}, Retry: true, Err: errors.New("item 0: mapper_parsing_exception; others: es_rejected_execution_exception")}
	}
	for _, b := range batch {
		s.got = append(s.got, string(b))
	}
	return nil
}

func TestPartialFailureRejectsSomeAndResendsTheRest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &partialSink{recordingSink: recordingSink{name: "es"}}
		p, _, stdout := newSpooledPipeline(t, "env-1", delivery{QueueBytes: 1 << 20, SpoolDir: t.TempDir(), SpoolBytes: 8 << 20}, s)
		p.telemetry(invocationTelemetry("r1"), 0, nil)
		p.telemetry(invocationTelemetry("r2"), 0, nil)
		p.flush(t.Context(), false) // the first record refused, the rest sent again at once
		p.flush(t.Context(), false) // the gap naming the refused one
		if got := strings.Join(actions(t, s.got), ","); got != "invocation,coverage_gap:sink_rejected" {
			t.Fatalf("sink got %s", got)
		}
		var gap schema.Record
		_ = json.Unmarshal([]byte(s.got[1]), &gap)
		if gap.Gap.SeqFrom != 1 || gap.Gap.SeqTo != 1 || gap.Gap.Records != 1 {
			t.Errorf("gap %+v, want seq 1 rejected", gap.Gap)
		}
		p.shutdown("spindown")
		p.flush(t.Context(), true)
		if n := p.undelivered(schema.GapShutdownDeadline); n != 1 || !strings.Contains(stdout.String(), `"audittrail.undelivered":"sink_rejected"`) {
			t.Errorf("dead letters on stdout: %d: %s", n, stdout)
		}
		checkComplete(t, s.got)
	})
}
