package lambdasim

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/audittrail/audittrail/internal/lambdasim/samplefn"
)

var classicExt = map[string]string{envEvents: "INVOKE,SHUTDOWN", envSchema: "2025-01-29", envTypes: "platform,function"}

func TestClassicLifecycle(t *testing.T) {
	sc := newScenario(t, classicExt, nil)
	first := sc.invoke(t, "GET", "/health")
	if !first.ColdStart || first.InitDuration <= 0 || first.ErrorType != "" {
		t.Fatalf("first invoke = %+v", first)
	}

	// Init order: the runtime starts only after the extension registered.
	procs := sc.sim.Processes()
	if len(procs) != 2 || procs[0].Name != "scripted" || procs[1].Name != "runtime" {
		t.Fatalf("processes = %+v", procs)
	}
	if reg := procs[0].Registered; reg.IsZero() || !procs[1].Started.After(reg) {
		t.Errorf("runtime started %v, extension registered %v", procs[1].Started, reg)
	}
	// Frozen between invokes: every process is stopped.
	for _, p := range procs {
		if p.State != 'T' {
			t.Errorf("%s is in state %q after the invoke, want T (stopped)", p.Name, p.State)
		}
	}
	// The report of invoke 1 is generated after the freeze: not delivered yet.
	for _, ev := range withType(sc.telemetry(t), "platform.report") {
		t.Errorf("platform.report delivered before the thaw: %s", ev.Record)
	}
	if len(withType(sc.telemetry(t), "platform.runtimeDone")) != 1 {
		t.Errorf("runtimeDone of invoke 1 not delivered during the invoke")
	}

	thawedAt := time.Now()
	second := sc.invoke(t, "GET", "/users/1")
	if second.ColdStart {
		t.Error("second invoke is a cold start")
	}
	reports := withType(sc.telemetry(t), "platform.report")
	if len(reports) != 1 || recordField(t, reports[0], "requestId") != first.RequestID || reports[0].At.Before(thawedAt) {
		t.Fatalf("after invoke 2, reports = %+v, want invoke 1's, delivered after the thaw", reports)
	}
	metrics := recordField(t, reports[0], "metrics").(map[string]any)
	for _, k := range []string{"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB", "initDurationMs"} {
		if _, ok := metrics[k]; !ok {
			t.Errorf("cold-start report lacks metrics.%s: %v", k, metrics)
		}
	}

	sd, err := sc.sim.Shutdown(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !sd.Exited["scripted"] || sd.Reason != "spindown" {
		t.Errorf("shutdown = %+v", sd)
	}
	events := readLines[map[string]any](t, filepath.Join(sc.dir, "events.jsonl"))
	var types []string
	for _, e := range events {
		types = append(types, e["eventType"].(string))
	}
	if !slices.Equal(types, []string{"INVOKE", "INVOKE", "SHUTDOWN"}) {
		t.Fatalf("extension events = %v", types)
	}
	if events[0]["requestId"] != first.RequestID || events[0]["invokedFunctionArn"] == "" || events[0]["deadlineMs"] == nil {
		t.Errorf("INVOKE event = %v", events[0])
	}
	last := events[2]
	if last["shutdownReason"] != "spindown" {
		t.Errorf("shutdownReason = %v, want lower-case spindown", last["shutdownReason"])
	}
	if dl := int64(last["deadlineMs"].(float64)); dl < time.Now().Add(-ShutdownBudget).UnixMilli() {
		t.Errorf("shutdown deadline %d is in the past", dl)
	}
	tel := sc.telemetry(t)
	if n := len(withType(tel, "platform.report")); n != 2 {
		t.Errorf("reports after shutdown = %d, want 2 (invoke 2's delivered during shutdown)", n)
	}
	for _, typ := range []string{"platform.initStart", "platform.initRuntimeDone", "platform.initReport", "platform.extension", "platform.telemetrySubscription", "platform.start", "function"} {
		if len(withType(tel, typ)) == 0 {
			t.Errorf("no %s event delivered", typ)
		}
	}
	if phase := recordField(t, withType(tel, "platform.initStart")[0], "phase"); phase != "init" {
		t.Errorf("initStart phase = %v", phase)
	}
}

func TestTimeoutResetsAndKeepsTmp(t *testing.T) {
	sc := newScenario(t, classicExt, func(c *Config) { c.Timeout = 500 * time.Millisecond })
	sc.invoke(t, "GET", "/health")
	marker := filepath.Join(sc.sim.cfg.TmpDir, "kept")
	if err := os.WriteFile(marker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := sc.invoke(t, "GET", "/timeout")
	if res.ErrorType != "Sandbox.Timedout" {
		t.Fatalf("error type = %q", res.ErrorType)
	}
	if sc.sim.Processes() != nil {
		t.Error("processes still run after the reset")
	}
	events := readLines[map[string]any](t, filepath.Join(sc.dir, "events.jsonl"))
	if last := events[len(events)-1]; last["eventType"] != "SHUTDOWN" || last["shutdownReason"] != "timeout" {
		t.Fatalf("last event = %v, want SHUTDOWN timeout", last)
	}
	for _, ev := range withType(sc.telemetry(t), "platform.runtimeDone") {
		if recordField(t, ev, "requestId") == res.RequestID && recordField(t, ev, "status") != "timeout" {
			t.Errorf("runtimeDone of the timed-out invoke: %s", ev.Record)
		}
	}
	again := sc.invoke(t, "GET", "/health")
	if !again.ColdStart || again.ErrorType != "" {
		t.Fatalf("invoke after reset = %+v", again)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("/tmp not kept across the reset: %v", err)
	}
	var phases []any
	for _, ev := range withType(sc.telemetry(t), "platform.initStart") {
		phases = append(phases, recordField(t, ev, "phase"))
	}
	if !slices.Equal(phases, []any{"init", "invoke"}) {
		t.Errorf("initStart phases = %v, want [init invoke] (the init after a reset is suppressed into the invoke)", phases)
	}
}

func TestRuntimeCrashResetsWithFailure(t *testing.T) {
	sc := newScenario(t, classicExt, nil)
	res := sc.invoke(t, "GET", "/panic")
	if res.ErrorType != "Runtime.ExitError" {
		t.Fatalf("error type = %q", res.ErrorType)
	}
	events := readLines[map[string]any](t, filepath.Join(sc.dir, "events.jsonl"))
	if last := events[len(events)-1]; last["shutdownReason"] != "failure" {
		t.Fatalf("last event = %v, want SHUTDOWN failure", last)
	}
	var found bool
	for _, ev := range withType(sc.telemetry(t), "platform.runtimeDone") {
		if recordField(t, ev, "requestId") == res.RequestID {
			found = true
			if recordField(t, ev, "status") != "error" || recordField(t, ev, "errorType") != "Runtime.ExitError" {
				t.Errorf("runtimeDone = %s", ev.Record)
			}
		}
	}
	if !found {
		t.Error("no runtimeDone for the crashed invoke")
	}
}

func TestHandledErrorIsRuntimeDoneSuccess(t *testing.T) {
	sc := newScenario(t, classicExt, nil)
	res := sc.invoke(t, "GET", "/error")
	if res.ErrorType != "OrderNotFound" {
		t.Fatalf("error type = %q, want the runtime's OrderNotFound", res.ErrorType)
	}
	rd := withType(sc.telemetry(t), "platform.runtimeDone")
	if len(rd) != 1 || recordField(t, rd[0], "status") != "success" {
		t.Errorf("runtimeDone = %+v, want status success (as AWS does for handled errors)", rd)
	}
}

func TestSlowSubscriberGetsLogsDropped(t *testing.T) {
	sc := newScenario(t, classicExt, func(c *Config) { c.TelemetryBufferBytes = 4 << 10 })
	sc.invoke(t, "GET", "/logs?n=3000")
	if _, err := sc.sim.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	tel := sc.telemetry(t)
	dropped := withType(tel, "platform.logsDropped")
	if len(dropped) == 0 {
		t.Fatal("no platform.logsDropped")
	}
	var records float64
	for _, d := range dropped {
		records += recordField(t, d, "droppedRecords").(float64)
		if recordField(t, d, "droppedBytes").(float64) <= 0 || recordField(t, d, "reason") == "" {
			t.Errorf("logsDropped = %s", d.Record)
		}
	}
	if got := float64(len(withType(tel, "function"))); got+records < 3000 {
		t.Errorf("delivered %v + dropped %v function records < 3000 printed", got, records)
	}
}

func TestLogRecordFormats(t *testing.T) {
	tests := []struct {
		name, format, schema string
		wantObject           bool
	}{
		{"text", "Text", "2025-01-29", false},
		{"json", "JSON", "2025-01-29", true},
		{"json on 2022-12-13", "JSON", "2022-12-13", true},
		{"json on 2022-07-01 is a string", "JSON", "2022-07-01", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ext := map[string]string{envEvents: "INVOKE,SHUTDOWN", envSchema: tt.schema, envTypes: "platform,function"}
			sc := newScenario(t, ext, func(c *Config) { c.LogFormat = tt.format })
			sc.invoke(t, "GET", "/health")
			if _, err := sc.sim.Shutdown(t.Context()); err != nil {
				t.Fatal(err)
			}
			logs := withType(sc.telemetry(t), "function")
			if len(logs) == 0 {
				t.Fatal("no function records")
			}
			for _, l := range logs {
				if isObject := l.Record[0] == '{'; isObject != tt.wantObject {
					t.Errorf("record %s: object = %v, want %v", l.Record, isObject, tt.wantObject)
				}
				if tt.wantObject && recordField(t, l, "level") == nil {
					t.Errorf("JSON record without level: %s", l.Record)
				}
			}
		})
	}
}

func TestBatchesRespectMaxItems(t *testing.T) {
	sc := newScenario(t, classicExt, nil)
	sc.invoke(t, "GET", "/logs?n=2500")
	if _, err := sc.sim.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	batches := readLines[batch](t, filepath.Join(sc.dir, "batches.jsonl"))
	total := 0
	for _, b := range batches {
		if len(b.Events) > 1000 {
			t.Errorf("batch of %d events exceeds maxItems 1000", len(b.Events))
		}
		total += len(b.Events)
	}
	if got := len(withType(sc.telemetry(t), "function")); got < 2500 {
		t.Errorf("function records delivered = %d, want >= 2500 (no drops with the default buffer)", got)
	}
	if len(batches) < 3 {
		t.Errorf("%d events arrived in %d batches; maxItems should split them", total, len(batches))
	}
}

func TestManagedInstances(t *testing.T) {
	ext := map[string]string{envEvents: "SHUTDOWN", envSchema: "2025-01-29", envTypes: "platform",
		envTry: "register-invoke,subscribe-2022-12-13"}
	sc := newScenario(t, ext, func(c *Config) { c.ManagedInstances = true; c.MaxConcurrency = 4 })
	const n = 4
	var wg sync.WaitGroup
	results := make([]*Result, n)
	for i := range n {
		wg.Go(func() {
			res, err := sc.sim.Invoke(t.Context(), samplefn.HTTPEvent("GET", "/slow?ms=300", samplefn.EventOptions{}))
			if err != nil || res.ErrorType != "" {
				t.Errorf("invoke %d: %v %+v", i, err, res)
			}
			results[i] = res
		})
	}
	wg.Wait()
	steps := sc.steps(t)
	if s := steps["register-invoke"]; s.Status != 403 {
		t.Errorf("registering for INVOKE answered %d %s, want 403", s.Status, s.Body)
	}
	if s := steps["subscribe-2022-12-13"]; s.Status != 400 {
		t.Errorf("subscribing with 2022-12-13 answered %d %s, want 400", s.Status, s.Body)
	}
	if _, err := sc.sim.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	tel := sc.telemetry(t)
	if fn := withType(tel, "function"); len(fn) != 0 {
		t.Errorf("subscribed to platform only, got %d function records", len(fn))
	}
	if rd := withType(tel, "platform.runtimeDone"); len(rd) != 0 {
		t.Errorf("runtimeDone emitted on Managed Instances: %d", len(rd))
	}
	// The platform's own timings prove the invocations overlapped.
	starts := map[string]time.Time{}
	for _, ev := range withType(tel, "platform.start") {
		ts, _ := time.Parse(timeFormat, ev.Time)
		starts[recordField(t, ev, "requestId").(string)] = ts
	}
	var latestStart, earliestEnd time.Time
	for _, ev := range withType(tel, "platform.report") {
		id := recordField(t, ev, "requestId").(string)
		metrics := recordField(t, ev, "metrics").(map[string]any)
		if len(metrics) != 1 {
			t.Errorf("Managed Instances report metrics = %v, want durationMs only", metrics)
		}
		start := starts[id]
		end := start.Add(time.Duration(metrics["durationMs"].(float64) * float64(time.Millisecond)))
		if start.After(latestStart) {
			latestStart = start
		}
		if earliestEnd.IsZero() || end.Before(earliestEnd) {
			earliestEnd = end
		}
	}
	if len(starts) != n || !latestStart.Before(earliestEnd) {
		t.Errorf("invocations did not overlap: last start %v, first end %v (%d starts)", latestStart, earliestEnd, len(starts))
	}
	events := readLines[map[string]any](t, filepath.Join(sc.dir, "events.jsonl"))
	if len(events) != 1 || events[0]["eventType"] != "SHUTDOWN" {
		t.Errorf("extension events = %v, want only SHUTDOWN", events)
	}
}

func TestInitFailures(t *testing.T) {
	tests := []struct {
		name      string
		ext       map[string]string
		runtime   string
		wantError string
	}{
		{"runtime init/error", classicExt, "role=init-error", "Runtime.ImportModuleError"},
		{"extension crashes before registering", map[string]string{envEvents: "INVOKE,SHUTDOWN", envTry: "crash-before-register"}, "role=function", "Extension.Crash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := newScenario(t, tt.ext, func(c *Config) { c.Runtime = []string{os.Args[0], tt.runtime} })
			res := sc.invoke(t, "GET", "/health")
			if res.ErrorType != tt.wantError {
				t.Fatalf("error type = %q, want %q", res.ErrorType, tt.wantError)
			}
			if sc.sim.Processes() != nil {
				t.Error("processes still run after the failed init")
			}
		})
	}
}

func TestShutdownKillsAtTheDeadline(t *testing.T) {
	sc := newScenario(t, map[string]string{envEvents: "INVOKE,SHUTDOWN", envTry: "ignore-shutdown"}, nil)
	sc.invoke(t, "GET", "/health")
	pids := sc.sim.Processes()
	sd, err := sc.sim.Shutdown(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if sd.Exited["scripted"] {
		t.Error("an extension that ignores SHUTDOWN reported as exited by itself")
	}
	if sd.Duration < ShutdownBudget-50*time.Millisecond {
		t.Errorf("killed after %v, before the %v budget", sd.Duration, ShutdownBudget)
	}
	for _, p := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", p.Pid)); err == nil {
			t.Errorf("%s (pid %d) still exists after shutdown", p.Name, p.Pid)
		}
	}
}
