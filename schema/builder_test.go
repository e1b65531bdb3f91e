package schema

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// telemetryCase is one file of testdata/telemetry: what an extension hears
// during one execution environment, in order.
//
//	{"env": Environment,
//	 "steps": [ {"invoke": {"requestId", "invokedFunctionArn", "tracing", "at"}}
//	          | {"batch": [ Telemetry API events ]}
//	          | {"shutdown": {"reason", "at"}} ]}
type telemetryCase struct {
	Env   Environment `json:"env"`
	Steps []struct {
		Invoke *struct {
			RequestID  string    `json:"requestId"`
			InvokedARN string    `json:"invokedFunctionArn"`
			Tracing    string    `json:"tracing"`
			At         time.Time `json:"at"`
		} `json:"invoke"`
		Batch    json.RawMessage `json:"batch"`
		Shutdown *struct {
			Reason string    `json:"reason"`
			At     time.Time `json:"at"`
		} `json:"shutdown"`
	} `json:"steps"`
}

// run feeds the case to a builder and returns its output as NDJSON: one
// record per line, and one {"rejected": ...} line per rejected input.
func (c telemetryCase) run() []byte {
	b := NewBuilder(c.Env)
	var out bytes.Buffer
	emit := func(v any) {
		line, _ := json.Marshal(v)
		out.Write(append(line, '\n'))
	}
	for _, s := range c.Steps {
		switch {
		case s.Invoke != nil:
			b.Invoke(s.Invoke.RequestID, s.Invoke.InvokedARN, s.Invoke.Tracing, s.Invoke.At)
		case s.Batch != nil:
			events, err := ParseTelemetryBatch(s.Batch)
			if err != nil {
				emit(map[string]string{"rejected": err.Error()})
			}
			for _, ev := range events {
				recs, err := b.Add(ev)
				if err != nil {
					emit(map[string]string{"rejected": err.Error()})
				}
				for _, r := range recs {
					emit(r)
				}
			}
		case s.Shutdown != nil:
			for _, r := range b.Shutdown(s.Shutdown.Reason, s.Shutdown.At) {
				emit(r)
			}
		}
	}
	return out.Bytes()
}

func TestTelemetryGolden(t *testing.T) {
	paths, _ := filepath.Glob("testdata/telemetry/*.json")
	if len(paths) == 0 {
		t.Fatal("no test cases")
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var c telemetryCase
			if err := json.Unmarshal(data, &c); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			got := c.run()
			golden := strings.TrimSuffix(path, ".json") + ".golden.ndjson"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./schema -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run go test ./schema -update and review the diff):\n%s", golden, got)
			}
		})
	}
}

// TestTelemetryInvariants checks, on every case, what must hold whatever
// the golden files say.
func TestTelemetryInvariants(t *testing.T) {
	paths, _ := filepath.Glob("testdata/telemetry/*.json")
	for _, path := range paths {
		data, _ := os.ReadFile(path)
		var c telemetryCase
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		invocations := map[string]int{}
		for _, line := range bytes.Split(bytes.TrimSpace(c.run()), []byte("\n")) {
			var r Record
			if err := json.Unmarshal(line, &r); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if r.Event.ID == "" { // a {"rejected":...} line
				continue
			}
			if ids[r.Event.ID] {
				t.Errorf("%s: duplicate event.id %s", path, r.Event.ID)
			}
			ids[r.Event.ID] = true
			if r.Audit.SchemaVersion != Version || r.Audit.EnvID != c.Env.EnvID || r.Cloud.Provider != "aws" {
				t.Errorf("%s: common fields missing in %s", path, line)
			}
			if r.Event.Action == ActionInvocation {
				invocations[r.FaaS.InvocationID]++
				if r.FaaS.Coldstart == nil || r.Audit.Capture != CaptureTelemetry {
					t.Errorf("%s: invocation without coldstart or capture: %s", path, line)
				}
			}
		}
		for id, n := range invocations {
			if n != 1 {
				t.Errorf("%s: %d invocation records for %s, want 1", path, n, id)
			}
		}
		if len(ids) == 0 {
			t.Errorf("%s produced no record", path)
		}
	}
}

func TestParseTelemetryBatch(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		events   int
		wantErr  string
		nilSlice bool
	}{
		{"empty array", `[]`, 0, "", false},
		{"two events", `[{"time":"2026-11-22T10:00:00.000Z","type":"platform.start","record":{}},{"time":"2026-11-22T10:00:00.001Z","type":"function","record":"hi"}]`, 2, "", false},
		{"not an array", `{"type":"platform.start"}`, 0, "telemetry batch", true},
		{"not JSON", `[{`, 0, "telemetry batch", true},
		{"bad element kept apart", `[{"time":"yesterday","type":"platform.start","record":{}},{"time":"2026-11-22T10:00:00.000Z","type":"platform.start","record":{}}]`, 1, "element 0", false},
		{"element without type", `[{"time":"2026-11-22T10:00:00.000Z","record":{}}]`, 0, "element 0: no type", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := ParseTelemetryBatch([]byte(tt.body))
			if len(evs) != tt.events || (evs == nil) != tt.nilSlice {
				t.Errorf("events = %d (nil %v), want %d (nil %v)", len(evs), evs == nil, tt.events, tt.nilSlice)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestIsOwnLogLine(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{`{"time":"t","level":"INFO","msg":"x","logger":"audittrail"}`, true},
		{`  {"logger":"audittrail"}  `, true},
		{`{"audittrail.undelivered":"shutdown_deadline","record":{"a":1}}`, true},
		{`{"@timestamp":"t","audit":{"schema_version":"1","env_id":"e"}}`, true},
		{`{"logger":"other"}`, false},
		{`{"audit":"a string"}`, false},
		{`{"audit":{}}`, false},
		{`audittrail: a text line mentioning us`, false},
		{`{"logger":"audittrail"`, false},
		{``, false},
	}
	for _, tt := range tests {
		if got := IsOwnLogLine([]byte(tt.line)); got != tt.want {
			t.Errorf("IsOwnLogLine(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

func TestTraceAndARNParsing(t *testing.T) {
	var r Record
	setTrace(&r, "Root=1-5f35ae12-0c0fec141ab77a00bc047aa2;Parent=2be948a625588e32;Sampled=1")
	if r.AWS == nil || r.AWS.XRay.TraceID != "1-5f35ae12-0c0fec141ab77a00bc047aa2" || !*r.AWS.XRay.Sampled {
		t.Errorf("trace = %+v", r.AWS)
	}
	var empty Record
	setTrace(&empty, "Parent=2be948a625588e32")
	if empty.AWS != nil {
		t.Errorf("a header without Root set %+v", empty.AWS)
	}
	tests := []struct {
		arn, resource, account string
		ok                     bool
	}{
		{"arn:aws:lambda:us-east-1:123456789012:function:orders:live", "arn:aws:lambda:us-east-1:123456789012:function:orders", "123456789012", true},
		{"arn:aws:lambda:eu-west-1:210987654321:function:orders", "arn:aws:lambda:eu-west-1:210987654321:function:orders", "210987654321", true},
		{"arn:aws:s3:::bucket", "", "", false},
		{"not an arn", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		res, acc, ok := parseFunctionARN(tt.arn)
		if res != tt.resource || acc != tt.account || ok != tt.ok {
			t.Errorf("parseFunctionARN(%q) = %q %q %v", tt.arn, res, acc, ok)
		}
	}
}

func TestTrackedInvocationsAreBounded(t *testing.T) {
	b := NewBuilder(Environment{EnvID: "e"})
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var evicted []Record
	for i := range maxTracked + 5 {
		recs, err := b.Add(TelemetryEvent{Time: at, Type: "platform.start", Record: json.RawMessage(fmt.Sprintf(`{"requestId":"r%d"}`, i))})
		if err != nil {
			t.Fatal(err)
		}
		evicted = append(evicted, recs...)
	}
	// Eviction happens when a report finishes one more.
	recs, _ := b.Add(TelemetryEvent{Time: at, Type: "platform.report", Record: json.RawMessage(`{"requestId":"r9999","status":"success","metrics":{"durationMs":1}}`)})
	evicted = append(evicted, recs[1:]...)
	if got := len(b.Pending()); got > maxTracked {
		t.Fatalf("tracking %d invocations, bound is %d", got, maxTracked)
	}
	if len(evicted) != 4 {
		t.Fatalf("evicted %d records, want 4", len(evicted))
	}
	for i, r := range evicted {
		if !r.Audit.Incomplete || r.FaaS.InvocationID != fmt.Sprintf("r%d", i) {
			t.Errorf("evicted record %d = %s incomplete=%v, want the oldest first, incomplete", i, r.FaaS.InvocationID, r.Audit.Incomplete)
		}
	}
}

func TestLogMessageTruncation(t *testing.T) {
	b := NewBuilder(Environment{EnvID: "e", Logs: true})
	long := strings.Repeat("é", MaxLogMessage) // 2 bytes each
	line, _ := json.Marshal(long)
	recs, err := b.Add(TelemetryEvent{Type: "function", Record: line})
	if err != nil || len(recs) != 1 {
		t.Fatalf("recs %d, err %v", len(recs), err)
	}
	l := recs[0].Log
	if !l.Truncated || len(l.Message) > MaxLogMessage || !json.Valid([]byte(`"`+l.Message+`"`)) {
		t.Errorf("truncated=%v len=%d", l.Truncated, len(l.Message))
	}
	if _, err := b.Add(TelemetryEvent{Type: "function", Record: json.RawMessage(`42`)}); err == nil {
		t.Error("a log record that is neither string nor object should be rejected")
	}
}

func TestAnswered(t *testing.T) {
	b := NewBuilder(Environment{EnvID: "e"})
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	b.Invoke("r1", "", "", at)
	if b.Answered("r1") {
		t.Fatal("answered before anything was seen")
	}
	b.CaptureEvent("r1", []byte(`{}`), 2, false, at)
	if b.Answered("r1") {
		t.Fatal("the event alone is not an answer")
	}
	b.CaptureResult("r1", []byte(`{"statusCode":200}`), 18, false, "", at)
	if !b.Answered("r1") || b.RuntimeDone("r1") {
		t.Errorf("Answered %v RuntimeDone %v, want true false", b.Answered("r1"), b.RuntimeDone("r1"))
	}
	_, _ = b.Add(TelemetryEvent{Time: at, Type: "platform.runtimeDone", Record: json.RawMessage(`{"requestId":"r2","status":"success"}`)})
	if !b.Answered("r2") {
		t.Error("runtimeDone alone should count as answered")
	}
}
