package lambdasim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
)

// Phases of an execution environment.
const (
	phaseInit     = "init"     // extensions may register
	phaseReady    = "ready"    // initialised; invokes run
	phaseShutdown = "shutdown" // SHUTDOWN sent; processes ending
)

// environment is one execution environment: its processes and the state
// the APIs share. Its fields are guarded by Sim.mu, except tel.
type environment struct {
	phase      string
	initType   string
	initPhase  string // "init", or "invoke" for the init after a reset
	start      time.Time
	logStream  string
	tel        *telemetry
	exts       []*ext
	byID       map[string]*ext
	procs      []*proc
	runtime    *proc
	runtimeUp  bool   // the runtime called invocation/next once
	initError  string // error type from runtime/init/error or extension/init/error
	exitError  string // error type from extension/exit/error
	queue      []*invocation
	invs       map[string]*invocation
	frozen     bool
	initReport time.Duration // reported in the next platform.report
}

// ext is one registered extension.
type ext struct {
	name       string
	id         string
	proc       *proc
	events     []string
	idle       bool   // blocked in event/next, waiting for an event
	pending    []byte // the event to deliver next
	firstNext  time.Time
	registered time.Time
}

func (e *ext) wants(event string) bool {
	for _, ev := range e.events {
		if ev == event {
			return true
		}
	}
	return false
}

// invocation is one invoke in flight.
type invocation struct {
	id        string
	payload   []byte
	deadline  time.Time
	trace     string
	start     time.Time
	delivered bool
	done      bool
	doneAt    time.Time
	response  []byte
	errorType string
}

func traceHeader() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	var p [8]byte
	_, _ = rand.Read(p[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=1", time.Now().Unix(), hex.EncodeToString(b[:]), hex.EncodeToString(p[:]))
}

// processEnv builds the environment of a process as Lambda does:
// extensions do not see the runtime-only variables.
func (s *Sim) processEnv(env *environment, runtime bool) []string {
	vars := map[string]string{
		"PATH":                            os.Getenv("PATH"),
		"LANG":                            "en_US.UTF-8",
		"TZ":                              ":UTC",
		"TMPDIR":                          s.cfg.TmpDir,
		"AWS_LAMBDA_RUNTIME_API":          s.RuntimeAPI(),
		"AWS_LAMBDA_FUNCTION_NAME":        s.cfg.FunctionName,
		"AWS_LAMBDA_FUNCTION_VERSION":     s.cfg.FunctionVersion,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": fmt.Sprint(s.cfg.MemoryMB),
		"AWS_REGION":                      s.cfg.Region,
		"AWS_DEFAULT_REGION":              s.cfg.Region,
		"AWS_LAMBDA_INITIALIZATION_TYPE":  env.initType,
	}
	if s.cfg.LogFormat == "JSON" {
		vars["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
	}
	if s.cfg.ManagedInstances {
		vars["AWS_LAMBDA_MAX_CONCURRENCY"] = fmt.Sprint(s.cfg.MaxConcurrency)
	}
	if runtime {
		vars["AWS_EXECUTION_ENV"] = "AWS_Lambda_provided.al2023"
		vars["AWS_LAMBDA_LOG_GROUP_NAME"] = "/aws/lambda/" + s.cfg.FunctionName
		vars["AWS_LAMBDA_LOG_STREAM_NAME"] = env.logStream
		vars["LAMBDA_TASK_ROOT"] = "/var/task"
		vars["LAMBDA_RUNTIME_DIR"] = "/var/runtime"
		vars["_HANDLER"] = "bootstrap"
	}
	for k, v := range s.cfg.Env {
		vars[k] = v
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// initEnv runs the init phase. It returns "" on success, or the error type
// that failed it (the environment is then reset).
func (s *Sim) initEnv(ctx context.Context) (string, error) {
	env := &environment{
		phase:     phaseInit,
		initType:  "on-demand",
		initPhase: "init",
		start:     time.Now(),
		tel:       newTelemetry(),
		byID:      map[string]*ext{},
		invs:      map[string]*invocation{},
	}
	if s.cfg.ManagedInstances {
		env.initType = "lambda-managed-instances"
	}
	s.mu.Lock()
	if s.resets > 0 {
		env.initPhase = "invoke"
	}
	s.mu.Unlock()
	env.logStream = time.Now().UTC().Format("2006/01/02") + "/[" + s.cfg.FunctionVersion + "]" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	env.tel.publish(event{time: env.start, typ: "platform.initStart", record: map[string]any{
		"initializationType": env.initType,
		"phase":              env.initPhase,
		"runtimeVersion":     "provided:al2023.v105",
		"runtimeVersionArn":  "arn:aws:lambda:" + s.cfg.Region + "::runtime:lambdasim",
		"functionName":       s.cfg.FunctionName,
		"functionVersion":    s.cfg.FunctionVersion,
		"instanceId":         env.logStream,
		"instanceMaxMemory":  s.cfg.MemoryMB << 20,
	}})
	s.mu.Lock()
	s.env = env
	s.initTimes = map[string]time.Duration{}
	s.mu.Unlock()

	ictx, cancel := context.WithTimeout(ctx, InitTimeout)
	defer cancel()
	files, err := s.extensionFiles()
	if err != nil {
		return "", err
	}
	onExit := func() { s.broadcast() }
	onLine := func(origin string, line []byte) { s.logLine(env, origin, line) }
	var extProcs []*proc
	for _, f := range files {
		penv := s.processEnv(env, false)
		// Started and listed under the lock: a quick extension's register
		// call must find its process.
		s.mu.Lock()
		p, err := startProc(baseName(f), "extension", []string{f}, penv, onLine, onExit)
		if err == nil {
			env.procs = append(env.procs, p)
		}
		s.mu.Unlock()
		if err != nil {
			return s.failInit(ctx, env, "Extension.LaunchError"), nil
		}
		extProcs = append(extProcs, p)
	}
	// Every extension process must register before the runtime starts.
	registered := s.waitUntil(ictx, func() bool {
		if env.initError != "" {
			return true
		}
		for _, p := range extProcs {
			if !p.alive() || env.extByName(p.name) == nil {
				return !p.alive()
			}
		}
		return true
	})
	if fail := s.initFailure(env, extProcs, registered); fail != "" {
		return s.failInit(ctx, env, fail), nil
	}
	argv := s.cfg.Runtime
	if w := s.cfg.Env["AWS_LAMBDA_EXEC_WRAPPER"]; w != "" && !s.cfg.OSOnlyRuntime {
		argv = append([]string{w}, argv...)
	}
	renv := s.processEnv(env, true)
	s.mu.Lock()
	rt, err := startProc("runtime", "function", argv, renv, onLine, onExit)
	if err == nil {
		env.runtime = rt
		env.procs = append(env.procs, rt)
	}
	s.mu.Unlock()
	if err != nil {
		return s.failInit(ctx, env, "Runtime.InvalidEntrypoint"), nil
	}
	// Init ends when the runtime and every extension called next.
	ok := s.waitUntil(ictx, func() bool {
		if env.initError != "" || !rt.alive() {
			return true
		}
		for _, e := range env.exts {
			if !e.idle || !e.proc.alive() {
				return !e.proc.alive()
			}
		}
		return env.runtimeUp
	})
	fail := s.initFailure(env, extProcs, ok)
	if fail == "" && !rt.alive() {
		fail = "Runtime.ExitError"
	}
	if fail != "" {
		return s.failInit(ctx, env, fail), nil
	}
	d := time.Since(env.start)
	env.tel.publish(event{time: time.Now(), typ: "platform.initRuntimeDone", record: map[string]any{
		"initializationType": env.initType, "phase": env.initPhase, "status": "success",
	}})
	env.tel.publish(event{time: time.Now(), typ: "platform.initReport", record: map[string]any{
		"initializationType": env.initType, "phase": env.initPhase, "status": "success",
		"metrics": map[string]any{"durationMs": ms(d)},
	}})
	s.mu.Lock()
	env.phase = phaseReady
	env.initReport = d
	for _, e := range env.exts {
		s.initTimes[e.name] = e.firstNext.Sub(e.proc.started)
	}
	s.broadcastLocked()
	s.mu.Unlock()
	return "", nil
}

// initFailure names what failed the init phase, or "".
func (s *Sim) initFailure(env *environment, extProcs []*proc, waited bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if env.initError != "" {
		return env.initError
	}
	for _, p := range extProcs {
		if !p.alive() {
			return "Extension.Crash"
		}
	}
	if !waited {
		return "Sandbox.Timedout"
	}
	return ""
}

// failInit reports a failed init in telemetry and resets the environment.
func (s *Sim) failInit(ctx context.Context, env *environment, errorType string) string {
	status := "error"
	if strings.HasPrefix(errorType, "Sandbox.") {
		status = "failure"
	}
	env.tel.publish(event{time: time.Now(), typ: "platform.initRuntimeDone", record: map[string]any{
		"initializationType": env.initType, "phase": env.initPhase, "status": status, "errorType": errorType,
	}})
	env.tel.publish(event{time: time.Now(), typ: "platform.initReport", record: map[string]any{
		"initializationType": env.initType, "phase": env.initPhase, "status": status, "errorType": errorType,
		"metrics": map[string]any{"durationMs": ms(time.Since(env.start))},
	}})
	s.endEnv(ctx, env, "failure")
	return errorType
}

func (env *environment) extByName(name string) *ext {
	for _, e := range env.exts {
		if e.name == name {
			return e
		}
	}
	return nil
}

// freeze stops every process of env, after telemetry deliveries stopped.
func (s *Sim) freeze(env *environment) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	env.tel.freeze(ctx)
	cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range env.procs {
		p.signal(syscall.SIGSTOP)
	}
	for _, p := range env.procs {
		p.waitStopped(time.Second)
	}
	env.frozen = true
}

// thaw resumes every process of env, then telemetry deliveries.
func (s *Sim) thaw(env *environment) {
	s.mu.Lock()
	frozen := env.frozen
	for _, p := range env.procs {
		p.signal(syscall.SIGCONT)
	}
	env.frozen = false
	s.mu.Unlock()
	if frozen {
		env.tel.thaw()
	}
}

// endEnv shuts env down with reason: the runtime ends first (SIGTERM and
// its share of the budget on spindown; SIGKILL after a timeout or failure),
// then every extension registered for SHUTDOWN gets the event and the rest
// of the budget, then whatever still runs is killed. It returns which
// extensions exited by themselves.
func (s *Sim) endEnv(ctx context.Context, env *environment, reason string) map[string]bool {
	start := time.Now()
	s.thaw(env)
	s.mu.Lock()
	env.phase = phaseShutdown
	rt := env.runtime
	hasExt := len(env.exts) > 0
	s.broadcastLocked()
	s.mu.Unlock()
	if rt != nil && rt.alive() {
		if reason == "spindown" && hasExt {
			rt.signal(syscall.SIGTERM)
			tctx, cancel := context.WithTimeout(ctx, RuntimeShutdownShare)
			s.waitUntil(tctx, func() bool { return !rt.alive() })
			cancel()
		}
		rt.signal(syscall.SIGKILL)
	}
	deadline := start.Add(ShutdownBudget)
	shutdown := fmt.Appendf(nil, `{"eventType":"SHUTDOWN","shutdownReason":%q,"deadlineMs":%d}`, reason, deadline.UnixMilli())
	s.mu.Lock()
	for _, e := range env.exts {
		if e.wants("SHUTDOWN") {
			e.pending = shutdown
		} else {
			e.proc.signal(syscall.SIGKILL)
		}
	}
	s.broadcastLocked()
	s.mu.Unlock()
	dctx, cancel := context.WithDeadline(ctx, deadline)
	s.waitUntil(dctx, func() bool {
		for _, p := range env.procs {
			if p.alive() {
				return false
			}
		}
		return true
	})
	cancel()
	exited := map[string]bool{}
	s.mu.Lock()
	for _, e := range env.exts {
		exited[e.name] = !e.proc.alive()
	}
	s.mu.Unlock()
	env.killAll()
	env.tel.close()
	s.mu.Lock()
	if s.env == env {
		s.env = nil
	}
	if reason != "spindown" {
		s.resets++
	}
	s.broadcastLocked()
	s.mu.Unlock()
	return exited
}

// killAll kills every process of env and waits for them to end.
func (env *environment) killAll() {
	for _, p := range env.procs {
		p.signal(syscall.SIGKILL)
		p.signal(syscall.SIGCONT)
	}
	for _, p := range env.procs {
		select {
		case <-p.exited:
		case <-time.After(2 * time.Second):
		}
	}
}

func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
