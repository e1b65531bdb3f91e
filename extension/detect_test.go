package extension

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/audittrail/audittrail/schema"
	"github.com/audittrail/audittrail/sinks"
)

// stubInspector finds one thing in every finished invocation, or panics.
// It stands in for package detect, whose detectors have their own tests:
// this tests how the pipeline carries findings and survives failures.
type stubInspector struct{ panicIn string }

func (s stubInspector) Exchange(*schema.Record, schema.Exchange, *schema.HTTPParts) {
	if s.panicIn == "exchange" {
		panic("detector bug")
	}
}

func (s stubInspector) Finished(rec *schema.Record) {
	if s.panicIn == "finished" {
		panic(fmt.Errorf("detector bug in %s", rec.Event.ID))
	}
	rec.Security = &schema.Security{Findings: []schema.Finding{{Type: schema.FindingAnomaly, Severity: schema.SeverityLow, Reason: "stub"}}}
}

func pipelineWithInspector(t *testing.T, in schema.Inspector, findingRecords bool) (*pipeline, *recordingSink, *bytes.Buffer) {
	t.Helper()
	sink := &recordingSink{name: "a"}
	obs, err := openOutboxes(delivery{QueueBytes: 1 << 20, Retry: sinks.DefaultRetryConfig()}, []sinks.Sink{sink})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	env := schema.Environment{EnvID: "env-1", FunctionName: "fn", Inspector: in}
	p := newPipeline(slog.New(slog.NewJSONHandler(&logs, nil)), env, schema.Chain{}, obs, &bytes.Buffer{})
	p.findingRecords = findingRecords
	return p, sink, &logs
}

func TestFindingsAreSealedAfterTheirInvocation(t *testing.T) {
	for _, tt := range []struct {
		findingRecords bool
		want           string
	}{
		{true, "invocation,security_finding,invocation,security_finding"},
		{false, "invocation,invocation"},
	} {
		p, sink, _ := pipelineWithInspector(t, stubInspector{}, tt.findingRecords)
		p.telemetry(invocationTelemetry("r1"), 0, nil)
		p.telemetry(invocationTelemetry("r2"), 0, nil)
		p.flush(t.Context(), false)
		if got := strings.Join(actions(t, sink.got), ","); got != tt.want {
			t.Errorf("finding records %v: sink got %s, want %s", tt.findingRecords, got, tt.want)
		}
		v := schema.NewVerifier()
		for _, r := range sink.got {
			v.Add([]byte(r))
		}
		if rep := v.Report(); len(rep) != 1 || !rep[0].OK() {
			t.Errorf("the trail does not verify: %+v", rep)
		}
	}
}

// TestDetectorPanicCostsOnlyItsFindings: a detector that panics leaves the
// invocation record whole and delivered, and an internal_error gap says
// what happened.
func TestDetectorPanicCostsOnlyItsFindings(t *testing.T) {
	p, sink, logs := pipelineWithInspector(t, stubInspector{panicIn: "finished"}, true)
	p.telemetry(invocationTelemetry("r1"), 0, nil)
	p.flush(t.Context(), false)
	got := strings.Join(actions(t, sink.got), ",")
	if !strings.Contains(got, "invocation") || !strings.Contains(got, "coverage_gap:internal_error") || strings.Contains(got, "security_finding") {
		t.Errorf("sink got %s; want the invocation and an internal_error gap, no finding", got)
	}
	if !strings.Contains(logs.String(), "detector failed") {
		t.Errorf("no log line about the failure: %s", logs.String())
	}
}
