package extension_test

// End-to-end tests: the real audittrail binary runs as an external extension
// next to the real sample function, both as separate processes under
// lambdasim, and the trail is read back from the file store.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/audittrail/audittrail/internal/lambdasim"
	"github.com/audittrail/audittrail/internal/lambdasim/samplefn"
	"github.com/audittrail/audittrail/layer"
	"github.com/audittrail/audittrail/schema"
	"github.com/audittrail/audittrail/sinks/file"
)

// binary is the audittrail binary built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "audittrail-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "audittrail")
	build := exec.Command("go", "build", "-o", binary, "../cmd/audittrail")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building audittrail: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer is a bytes.Buffer safe for the simulator's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lambda is one simulated function with audittrail attached as a layer.
type lambda struct {
	sim   *lambdasim.Sim
	trail string
	logs  *syncBuffer
}

// newLambda lays out /opt as the layer does and starts lambdasim. withExt
// false runs the same function without any extension (the baseline).
func newLambda(tb testing.TB, withExt bool, mutate func(*lambdasim.Config)) *lambda {
	tb.Helper()
	opt := tb.TempDir()
	if withExt {
		if err := layer.Install(opt, binary); err != nil {
			tb.Fatal(err)
		}
	}
	l := &lambda{trail: tb.TempDir(), logs: &syncBuffer{}}
	cfg := lambdasim.Config{
		OptDir:        opt,
		Runtime:       []string{binary, "demo-function"},
		OSOnlyRuntime: true,
		Env: map[string]string{
			"AUDITTRAIL_SINKS":    "file",
			"AUDITTRAIL_FILE_DIR": l.trail,
		},
		Timeout: 2 * time.Second,
		Logs:    l.logs,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	sim, err := lambdasim.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	l.sim = sim
	tb.Cleanup(func() {
		_ = sim.Close()
		if tb.Failed() {
			tb.Logf("lambda logs:\n%s", l.logs.String())
		}
	})
	return l
}

func (l *lambda) invoke(tb testing.TB, method, path string) *lambdasim.Result {
	tb.Helper()
	res, err := l.sim.Invoke(tb.Context(), samplefn.HTTPEvent(method, path, samplefn.EventOptions{}))
	if err != nil {
		tb.Fatalf("invoke %s %s: %v", method, path, err)
	}
	return res
}

func (l *lambda) shutdown(tb testing.TB) *lambdasim.ShutdownResult {
	tb.Helper()
	res, err := l.sim.Shutdown(tb.Context())
	if err != nil {
		tb.Fatalf("shutdown: %v", err)
	}
	return res
}

// records reads the whole trail back from the file store.
func (l *lambda) records(t *testing.T) []schema.Record {
	t.Helper()
	var recs []schema.Record
	err := file.Scan(l.trail, func(b []byte) error {
		var r schema.Record
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("record %s: %w", b, err)
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatalf("reading the trail: %v", err)
	}
	return recs
}

func byAction(recs []schema.Record, action string) []schema.Record {
	var out []schema.Record
	for _, r := range recs {
		if r.Event.Action == action {
			out = append(out, r)
		}
	}
	return out
}

func invocation(t *testing.T, recs []schema.Record, requestID string) schema.Record {
	t.Helper()
	for _, r := range byAction(recs, schema.ActionInvocation) {
		if r.FaaS.InvocationID == requestID {
			return r
		}
	}
	t.Fatalf("no invocation record for request %s", requestID)
	return schema.Record{}
}

func TestColdStartInvocationsAndShutdown(t *testing.T) {
	l := newLambda(t, true, nil)
	paths := []struct{ method, path string }{
		{"GET", "/health"}, {"GET", "/users/42"}, {"DELETE", "/users/42"}, {"GET", "/slow?ms=120"},
	}
	var results []*lambdasim.Result
	for _, p := range paths {
		results = append(results, l.invoke(t, p.method, p.path))
	}
	sd := l.shutdown(t)
	if !sd.Exited["audittrail"] {
		t.Errorf("extension did not exit by itself before the shutdown deadline: %+v", sd)
	}
	recs := l.records(t)

	inits := byAction(recs, schema.ActionInit)
	if len(inits) != 1 {
		t.Fatalf("init records = %d, want 1", len(inits))
	}
	if in := inits[0]; in.Event.Outcome != schema.OutcomeSuccess || in.AWS == nil || in.AWS.Lambda.InitializationType != "on-demand" {
		t.Errorf("init record = %+v", in)
	}
	if n := len(byAction(recs, schema.ActionInvocation)); n != len(paths) {
		t.Fatalf("invocation records = %d, want %d", n, len(paths))
	}
	for i, res := range results {
		r := invocation(t, recs, res.RequestID)
		if r.Audit.Incomplete {
			t.Errorf("%s: record incomplete (platform.report never arrived)", res.RequestID)
		}
		if r.FaaS.Coldstart == nil || *r.FaaS.Coldstart != (i == 0) {
			t.Errorf("%s: coldstart = %v, want %v", res.RequestID, r.FaaS.Coldstart, i == 0)
		}
		if r.Event.Outcome != schema.OutcomeSuccess || r.AWS.Lambda.Status != "success" {
			t.Errorf("%s: outcome %q status %q", res.RequestID, r.Event.Outcome, r.AWS.Lambda.Status)
		}
		lam := r.AWS.Lambda
		if lam.DurationMs == nil || lam.BilledDurationMs == nil || lam.MaxMemoryUsedMB == nil || lam.MemorySizeMB == nil {
			t.Fatalf("%s: report metrics missing: %+v", res.RequestID, lam)
		}
		if *lam.MemorySizeMB != 128 || float64(*lam.BilledDurationMs) < *lam.DurationMs {
			t.Errorf("%s: memory %d MB, billed %d ms < duration %.2f ms", res.RequestID, *lam.MemorySizeMB, *lam.BilledDurationMs, *lam.DurationMs)
		}
		if r.Audit.Capture != schema.CaptureTelemetry || r.Audit.EnvID != inits[0].Audit.EnvID {
			t.Errorf("%s: capture %q env %q", res.RequestID, r.Audit.Capture, r.Audit.EnvID)
		}
	}
	// The slow route's duration is measured by the platform, not guessed.
	if d := *invocation(t, recs, results[3].RequestID).AWS.Lambda.DurationMs; d < 120 {
		t.Errorf("slow invocation duration %.1f ms, want >= 120", d)
	}
	shut := byAction(recs, schema.ActionShutdown)
	if len(shut) != 1 || shut[0].AWS.Lambda.ShutdownReason != "spindown" {
		t.Fatalf("shutdown records = %+v", shut)
	}
	if gaps := byAction(recs, schema.ActionCoverageGap); len(gaps) != 0 {
		t.Errorf("unexpected coverage gaps: %+v", gaps)
	}
	ids := map[string]bool{}
	for _, r := range recs {
		if ids[r.Event.ID] {
			t.Errorf("duplicate event.id %s", r.Event.ID)
		}
		ids[r.Event.ID] = true
	}
	l.verify(t)
}

// verify checks the whole trail as `audittrail verify` does.
func (l *lambda) verify(t *testing.T) {
	t.Helper()
	v := schema.NewVerifier()
	if err := file.Scan(l.trail, func(b []byte) error { v.Add(b); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, r := range v.Report() {
		if !r.OK() || !r.Closed {
			t.Errorf("environment %s does not verify: %+v", r.EnvID, r)
		}
	}
}

func TestTimeoutResetsAndIsRecorded(t *testing.T) {
	l := newLambda(t, true, func(c *lambdasim.Config) { c.Timeout = time.Second })
	timedOut := l.invoke(t, "GET", "/timeout")
	if timedOut.ErrorType != "Sandbox.Timedout" {
		t.Fatalf("error type = %q, want Sandbox.Timedout", timedOut.ErrorType)
	}
	after := l.invoke(t, "GET", "/health")
	if !after.ColdStart {
		t.Errorf("invoke after a timeout should re-initialise the environment")
	}
	l.shutdown(t)
	recs := l.records(t)

	r := invocation(t, recs, timedOut.RequestID)
	if r.Event.Outcome != schema.OutcomeFailure || r.AWS.Lambda.Status != "timeout" || r.Error == nil || r.Error.Type != "Sandbox.Timedout" {
		t.Errorf("timed-out invocation record: outcome %q, lambda %+v, error %+v", r.Event.Outcome, r.AWS.Lambda, r.Error)
	}
	var reasons []string
	for _, s := range byAction(recs, schema.ActionShutdown) {
		reasons = append(reasons, s.AWS.Lambda.ShutdownReason)
	}
	slices.Sort(reasons)
	if !slices.Equal(reasons, []string{"spindown", "timeout"}) {
		t.Errorf("shutdown reasons = %v, want [spindown timeout]", reasons)
	}
	if n := len(byAction(recs, schema.ActionInit)); n != 2 {
		t.Errorf("init records = %d, want 2 (cold start, then re-init after the reset)", n)
	}
	if invocation(t, recs, after.RequestID).Event.Outcome != schema.OutcomeSuccess {
		t.Errorf("invocation after the reset not recorded as success")
	}
	l.verify(t)
}

func TestRuntimeCrashIsRecorded(t *testing.T) {
	l := newLambda(t, true, nil)
	crashed := l.invoke(t, "GET", "/panic")
	if crashed.ErrorType != "Runtime.ExitError" {
		t.Fatalf("error type = %q, want Runtime.ExitError", crashed.ErrorType)
	}
	l.shutdown(t)
	recs := l.records(t)
	r := invocation(t, recs, crashed.RequestID)
	if r.Event.Outcome != schema.OutcomeFailure || r.Error == nil || r.Error.Type != "Runtime.ExitError" {
		t.Errorf("crashed invocation: outcome %q error %+v", r.Event.Outcome, r.Error)
	}
	shut := byAction(recs, schema.ActionShutdown)
	if len(shut) != 1 || shut[0].AWS.Lambda.ShutdownReason != "failure" {
		t.Errorf("shutdown records = %+v, want one with reason failure", shut)
	}
}

func TestLogsDroppedBecomesCoverageGap(t *testing.T) {
	l := newLambda(t, true, func(c *lambdasim.Config) {
		c.Env["AUDITTRAIL_TELEMETRY_TYPES"] = "platform,function"
		// A subscriber may have at most 4 KiB pending: a burst of lines
		// between two deliveries (25 ms apart) overflows it.
		c.TelemetryBufferBytes = 4 << 10
	})
	l.invoke(t, "GET", "/logs?n=5000")
	l.shutdown(t)
	recs := l.records(t)
	var dropped int64
	for _, g := range byAction(recs, schema.ActionCoverageGap) {
		if g.Gap.Reason == schema.GapLambdaLogsDropped && g.Gap.Source == "lambda" {
			dropped += g.Gap.Records
		}
	}
	if dropped == 0 {
		t.Fatalf("no lambda_logs_dropped coverage gap; gaps: %+v", byAction(recs, schema.ActionCoverageGap))
	}
	logs := byAction(recs, schema.ActionLog)
	if len(logs) == 0 || int64(len(logs))+dropped < 5000 {
		t.Errorf("log records %d + dropped %d < 5000 lines printed", len(logs), dropped)
	}
	l.verify(t)
}

func TestOwnLogsNeverReenterTheTrail(t *testing.T) {
	l := newLambda(t, true, func(c *lambdasim.Config) {
		c.Env["AUDITTRAIL_TELEMETRY_TYPES"] = "platform,function,extension"
		c.Env["AUDITTRAIL_LOG_LEVEL"] = "debug"
		c.LogFormat = "JSON"
	})
	l.invoke(t, "GET", "/health")
	l.invoke(t, "GET", "/users/7")
	l.shutdown(t)
	if !bytes.Contains([]byte(l.logs.String()), []byte(`"logger":"audittrail"`)) {
		t.Fatal("the extension logged nothing, so this test would prove nothing")
	}
	recs := l.records(t)
	var function int
	for _, r := range byAction(recs, schema.ActionLog) {
		if schema.IsOwnLogLine([]byte(r.Log.Message)) || bytes.Contains([]byte(r.Log.Message), []byte("audittrail")) {
			t.Errorf("own log line re-entered the trail: %+v", r.Log)
		}
		if r.Log.Origin == "function" {
			function++
		}
	}
	if function == 0 {
		t.Error("no function log records, although function logs were subscribed")
	}
}

func TestManagedInstancesConcurrentInvokes(t *testing.T) {
	l := newLambda(t, true, func(c *lambdasim.Config) {
		c.ManagedInstances = true
		c.MaxConcurrency = 4
	})
	const n = 8
	var wg sync.WaitGroup
	results := make([]*lambdasim.Result, n)
	for i := range n {
		wg.Go(func() {
			res, err := l.sim.Invoke(t.Context(), samplefn.HTTPEvent("GET", "/slow?ms=150", samplefn.EventOptions{}))
			if err != nil {
				t.Errorf("invoke %d: %v", i, err)
				return
			}
			results[i] = res
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	l.shutdown(t)
	recs := l.records(t)
	if got := len(byAction(recs, schema.ActionInvocation)); got != n {
		t.Fatalf("invocation records = %d, want %d", got, n)
	}
	for _, res := range results {
		r := invocation(t, recs, res.RequestID)
		if r.AWS == nil || r.AWS.Lambda.DurationMs == nil || *r.AWS.Lambda.DurationMs < 150 {
			t.Errorf("%s: duration missing or too short: %+v", res.RequestID, r.AWS)
		}
	}
	if len(byAction(recs, schema.ActionShutdown)) != 1 {
		t.Error("no shutdown record")
	}
}

// TestKeyedChain: with AUDITTRAIL_CHAIN_KEY the hashes are HMACs under the
// key: `audittrail verify` checks them with the key, finds them all wrong
// with another key, and without one checks the links only.
func TestKeyedChain(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef"
	l := newLambda(t, true, func(c *lambdasim.Config) { c.Env["AUDITTRAIL_CHAIN_KEY"] = key })
	l.invoke(t, "GET", "/users/1")
	l.shutdown(t)
	for _, r := range l.records(t) {
		if r.Audit.HashAlg != schema.HashAlgHMACSHA256 {
			t.Fatalf("record %s: hash_alg %q", r.Event.ID, r.Audit.HashAlg)
		}
	}
	keyFile := filepath.Join(t.TempDir(), "key")
	wrongFile := filepath.Join(t.TempDir(), "wrong")
	_ = os.WriteFile(keyFile, []byte(key+"\n"), 0o600)
	_ = os.WriteFile(wrongFile, []byte("fedcba9876543210fedcba9876543210"), 0o600)
	for _, tt := range []struct {
		name   string
		args   []string
		ok     bool
		output string
	}{
		{"right key", []string{"--key-file", keyFile}, true, "keyed chain"},
		{"wrong key", []string{"--key-file", wrongFile}, false, "BROKEN"},
		{"no key", nil, true, "hashes not checked without the key"},
	} {
		cmd := exec.Command(binary, append(append([]string{"verify"}, tt.args...), l.trail)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if (err == nil) != tt.ok || !bytes.Contains(out, []byte(tt.output)) {
			t.Errorf("%s: exit %v, output:\n%s", tt.name, err, out)
		}
	}
}

// TestConfigProblemsAreInTheTrail: a sink that cannot work (no token) and
// a misspelled variable are disabled or ignored, the extension runs on, and
// the trail itself says what will not happen.
func TestConfigProblemsAreInTheTrail(t *testing.T) {
	l := newLambda(t, true, func(c *lambdasim.Config) {
		c.Env["AUDITTRAIL_SINKS"] = "file,splunk"
		c.Env["AUDITTRAIL_SPLUNK_URL"] = "https://hec.example.com:8088"
		c.Env["AUDITTRAIL_FLUSH_BUGDET"] = "10ms"
	})
	res := l.invoke(t, "GET", "/health")
	if res.ErrorType != "" {
		t.Fatalf("invoke: %s", res.ErrorType)
	}
	l.shutdown(t)
	var details []string
	for _, g := range byAction(l.records(t), schema.ActionCoverageGap) {
		details = append(details, g.Gap.Detail)
	}
	all := strings.Join(details, "\n")
	for _, want := range []string{"AUDITTRAIL_SPLUNK_TOKEN: required", "AUDITTRAIL_FLUSH_BUGDET", "AUDITTRAIL_FLUSH_BUDGET"} {
		if !strings.Contains(all, want) {
			t.Errorf("no coverage-gap record mentions %q; gaps: %q", want, details)
		}
	}
	invocation(t, l.records(t), res.RequestID) // the extension worked on
	l.verify(t)
}
