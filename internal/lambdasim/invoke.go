package lambdasim

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
)

// Result is the outcome of one invoke.
type Result struct {
	RequestID string
	// Payload is the function's response, or the error body.
	Payload []byte
	// ErrorType is "" on success, else e.g. "Sandbox.Timedout",
	// "Runtime.ExitError" or the error type the runtime reported.
	ErrorType string
	ColdStart bool
	// ResponseLatency is invoke start to the runtime's response or error:
	// what the caller waits.
	ResponseLatency time.Duration
	// PostRuntime is the runtime's response to the last extension's
	// event/next (Lambda's PostRuntimeExtensionsDuration).
	PostRuntime time.Duration
	// InitDuration is set when this invoke included the init phase.
	InitDuration time.Duration
}

// ShutdownResult is the outcome of a shutdown.
type ShutdownResult struct {
	Reason string
	// Exited tells, per extension name, whether it exited by itself before
	// the deadline (else it was killed).
	Exited   map[string]bool
	Duration time.Duration
}

// Invoke runs one invocation with payload as the event, initialising the
// environment first when needed (cold start, or after a reset). It returns
// when the invoke has completed: the runtime responded and every extension
// registered for INVOKE called event/next (classic mode, where the
// environment is frozen again when it returns), or the timeout or crash was
// handled. Classic invokes are serialised; Managed Instances invokes run
// concurrently. An error means the simulator failed or ctx ended.
func (s *Sim) Invoke(ctx context.Context, payload []byte) (*Result, error) {
	res := &Result{}
	env, err := s.ready(ctx, res)
	if err != nil || env == nil {
		return res, err
	}
	if s.cfg.ManagedInstances {
		defer s.life.RUnlock()
	} else {
		defer s.life.Unlock()
	}
	inv := &invocation{id: uuid.NewString(), payload: payload, trace: traceHeader(), start: time.Now()}
	inv.deadline = inv.start.Add(s.cfg.Timeout)
	res.RequestID = inv.id
	if !s.cfg.ManagedInstances {
		s.thaw(env)
	}
	tracing := map[string]any{"type": "X-Amzn-Trace-Id", "value": inv.trace}
	env.tel.publish(event{time: inv.start, typ: "platform.start", record: map[string]any{
		"requestId": inv.id, "version": s.cfg.FunctionVersion, "tracing": tracing,
	}})
	invokeEvent, _ := json.Marshal(map[string]any{
		"eventType": "INVOKE", "deadlineMs": inv.deadline.UnixMilli(), "requestId": inv.id,
		"invokedFunctionArn": fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", s.cfg.Region, s.cfg.AccountID, s.cfg.FunctionName),
		"tracing":            tracing,
	})
	s.mu.Lock()
	env.invs[inv.id] = inv
	env.queue = append(env.queue, inv)
	var waitFor []*ext
	for _, e := range env.exts {
		if e.wants("INVOKE") {
			e.pending, e.idle = invokeEvent, false
			waitFor = append(waitFor, e)
		}
	}
	s.broadcastLocked()
	s.mu.Unlock()

	dctx, cancel := context.WithDeadline(ctx, inv.deadline)
	defer cancel()
	crash := ""
	s.waitUntil(dctx, func() bool {
		crash = env.crashLocked()
		return inv.done || crash != ""
	})
	if err := ctx.Err(); err != nil {
		return res, err
	}
	s.mu.Lock()
	done, doneAt := inv.done, inv.doneAt
	res.Payload, res.ErrorType = inv.response, inv.errorType
	s.mu.Unlock()
	if !done {
		return res, s.failInvoke(ctx, env, inv, res, crash)
	}
	res.ResponseLatency = doneAt.Sub(inv.start)
	if !s.cfg.ManagedInstances {
		// A handled error still ends in runtimeDone status "success".
		env.tel.publish(event{time: doneAt, typ: "platform.runtimeDone", record: map[string]any{
			"requestId": inv.id, "status": "success", "tracing": tracing,
			"metrics": map[string]any{"durationMs": ms(res.ResponseLatency), "producedBytes": len(inv.response)},
			"spans": []map[string]any{
				{"name": "responseLatency", "start": inv.start.UTC().Format(timeFormat), "durationMs": ms(res.ResponseLatency)},
				{"name": "responseDuration", "start": doneAt.UTC().Format(timeFormat), "durationMs": 0.0},
			},
		}})
	}
	// The invoke completes when every INVOKE extension asked for the next
	// event; that time counts against the function's timeout.
	all := s.waitUntil(dctx, func() bool {
		for _, e := range waitFor {
			if !e.idle && e.proc.alive() {
				return false
			}
		}
		return true
	})
	end := time.Now()
	res.PostRuntime = end.Sub(doneAt)
	if !all {
		return res, s.failInvoke(ctx, env, inv, res, "")
	}
	s.mu.Lock()
	delete(env.invs, inv.id)
	crash = env.crashLocked()
	s.mu.Unlock()
	report := s.reportRecord(env, inv, res, "success", "", end)
	if s.cfg.ManagedInstances {
		env.tel.publish(event{time: end, typ: "platform.report", record: report})
		return res, nil
	}
	// The report is produced after every extension finished: it is
	// delivered at the next thaw, never before the freeze.
	s.freeze(env)
	env.tel.publish(event{time: end, typ: "platform.report", record: report})
	if crash != "" {
		s.endEnv(ctx, env, "failure")
	}
	return res, nil
}

// ready returns the environment, initialising it first when needed, with
// s.life held: exclusively in classic mode, shared on Managed Instances. It
// returns a nil env (and s.life released) when init failed; res then says
// why.
func (s *Sim) ready(ctx context.Context, res *Result) (*environment, error) {
	if !s.cfg.ManagedInstances {
		s.life.Lock()
		if env := s.current(); env != nil {
			return env, nil
		}
		if err := s.initFor(ctx, res); err != nil || res.ErrorType != "" {
			s.life.Unlock()
			return nil, err
		}
		return s.current(), nil
	}
	for {
		s.life.RLock()
		if env := s.current(); env != nil {
			return env, nil
		}
		s.life.RUnlock()
		// One goroutine initialises; the others wait for it here rather
		// than queueing for the exclusive lock behind running invokes.
		s.initMu.Lock()
		var err error
		if s.current() == nil {
			s.life.Lock()
			err = s.initFor(ctx, res)
			s.life.Unlock()
		}
		s.initMu.Unlock()
		if err != nil || res.ErrorType != "" {
			return nil, err
		}
	}
}

// initFor runs the init phase for an invoke and notes it in res.
func (s *Sim) initFor(ctx context.Context, res *Result) error {
	start := time.Now()
	fail, err := s.initEnv(ctx)
	if err != nil || fail != "" {
		res.ErrorType = fail
		res.Payload = fmt.Appendf(nil, `{"errorType":%q,"errorMessage":"init failed"}`, fail)
		return err
	}
	res.ColdStart, res.InitDuration = true, time.Since(start)
	return nil
}

// crashLocked names a fatal error of env: a process that died or an
// extension's exit/error.
func (env *environment) crashLocked() string {
	if env.runtime != nil && !env.runtime.alive() {
		return "Runtime.ExitError"
	}
	for _, e := range env.exts {
		if !e.proc.alive() {
			return "Extension.Crash"
		}
	}
	return env.exitError
}

// failInvoke handles an invoke that timed out or crashed: the caller gets
// the error, telemetry reports it, and the environment is reset.
func (s *Sim) failInvoke(ctx context.Context, env *environment, inv *invocation, res *Result, crash string) error {
	end := time.Now()
	status, reason := "timeout", "timeout"
	if crash != "" {
		status, reason = "error", "failure"
		res.ErrorType = crash
		res.Payload = fmt.Appendf(nil, `{"errorType":%q,"errorMessage":"RequestId: %s Error: %s"}`, crash, inv.id, crash)
	} else {
		res.ErrorType = "Sandbox.Timedout"
		res.Payload = fmt.Appendf(nil, `{"errorType":"Sandbox.Timedout","errorMessage":"%s Task timed out after %.2f seconds"}`,
			end.UTC().Format(time.RFC3339), s.cfg.Timeout.Seconds())
	}
	if res.ResponseLatency == 0 {
		res.ResponseLatency = end.Sub(inv.start)
	}
	rd := map[string]any{"requestId": inv.id, "status": status,
		"metrics": map[string]any{"durationMs": ms(end.Sub(inv.start)), "producedBytes": 0}}
	if crash != "" {
		rd["errorType"] = crash
	}
	if !s.cfg.ManagedInstances {
		env.tel.publish(event{time: end, typ: "platform.runtimeDone", record: rd})
	}
	env.tel.publish(event{time: end, typ: "platform.report", record: s.reportRecord(env, inv, res, status, crash, end)})
	s.mu.Lock()
	delete(env.invs, inv.id)
	s.mu.Unlock()
	s.endEnv(ctx, env, reason)
	return nil
}

// reportRecord builds platform.report.
func (s *Sim) reportRecord(env *environment, inv *invocation, res *Result, status, errorType string, end time.Time) map[string]any {
	d := end.Sub(inv.start)
	rec := map[string]any{"requestId": inv.id, "status": status,
		"tracing": map[string]any{"type": "X-Amzn-Trace-Id", "value": inv.trace}}
	if errorType != "" {
		rec["errorType"] = errorType
	}
	if s.cfg.ManagedInstances {
		rec["metrics"] = map[string]any{"durationMs": ms(d)}
		rec["spans"] = []map[string]any{
			{"name": "responseLatency", "start": inv.start.UTC().Format(timeFormat), "durationMs": ms(res.ResponseLatency)},
			{"name": "responseDuration", "start": inv.start.Add(res.ResponseLatency).UTC().Format(timeFormat), "durationMs": 0.0},
		}
		return rec
	}
	var maxMem int64
	if env.runtime != nil {
		maxMem = env.runtime.maxMemoryMB()
	}
	metrics := map[string]any{
		"durationMs":       ms(d),
		"billedDurationMs": int64(math.Ceil(ms(d))),
		"memorySizeMB":     s.cfg.MemoryMB,
		"maxMemoryUsedMB":  maxMem,
	}
	s.mu.Lock()
	if env.initReport > 0 {
		metrics["initDurationMs"] = ms(env.initReport)
		env.initReport = 0
	}
	s.mu.Unlock()
	rec["metrics"] = metrics
	return rec
}

// Shutdown shuts the environment down (reason spindown): the runtime gets
// SIGTERM, the extensions SHUTDOWN with Lambda's deadline, then whatever
// still runs is killed. A later Invoke initialises a new environment.
func (s *Sim) Shutdown(ctx context.Context) (*ShutdownResult, error) {
	s.life.Lock()
	defer s.life.Unlock()
	s.mu.Lock()
	env := s.env
	s.mu.Unlock()
	res := &ShutdownResult{Reason: "spindown", Exited: map[string]bool{}}
	if env == nil {
		return res, nil
	}
	start := time.Now()
	res.Exited = s.endEnv(ctx, env, "spindown")
	res.Duration = time.Since(start)
	return res, ctx.Err()
}
