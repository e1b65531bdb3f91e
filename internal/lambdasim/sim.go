// Package lambdasim is a local AWS Lambda execution environment that runs
// the real extension binaries and a real runtime binary as separate
// processes, as Lambda does, and serves them the Runtime API (2018-06-01),
// the Extensions API (2020-01-01) and the Telemetry API (2022-07-01).
//
// It follows Lambda's lifecycle: init starts every executable in
// OptDir/extensions, waits for all of them to register, then starts the
// runtime; an invoke completes when the runtime has responded and every
// extension registered for INVOKE has called event/next; the environment is
// then frozen (SIGSTOP of every process group, no telemetry delivered) until
// the next invoke or shutdown. platform.report of an invoke is therefore
// delivered at the next thaw or at shutdown. A function timeout or a runtime
// crash resets the environment (SHUTDOWN with reason timeout or failure to
// the extensions, then every process ends); the next invoke initialises it
// again, and TmpDir (the sandbox's /tmp) is kept. Shutdown gives external
// extensions Lambda's 2,000 ms budget, then SIGKILL.
//
// In Lambda Managed Instances mode extensions may register for SHUTDOWN
// only, invocations run concurrently, the environment is never frozen, the
// Telemetry API requires schema 2025-01-29 and platform.runtimeDone is not
// emitted.
//
// Where the AWS documentation is unclear, wire details follow the AWS Lambda
// Runtime Interface Emulator.
package lambdasim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Lifecycle limits, as documented by AWS.
const (
	// InitTimeout bounds the init phase of an on-demand function.
	InitTimeout = 10 * time.Second
	// ShutdownBudget is the shutdown phase with external extensions.
	ShutdownBudget = 2000 * time.Millisecond
	// RuntimeShutdownShare is the runtime's share of ShutdownBudget.
	RuntimeShutdownShare = 300 * time.Millisecond
	// MaxExtensions is the most extensions a function may have.
	MaxExtensions = 10
)

// Config describes the function and its environment.
type Config struct {
	// OptDir is laid out like /opt: every executable in OptDir/extensions/
	// is started as an external extension.
	OptDir string
	// Runtime is the argv of the runtime (its bootstrap).
	Runtime []string
	// OSOnlyRuntime marks provided.al2/al2023 runtimes, which ignore
	// AWS_LAMBDA_EXEC_WRAPPER.
	OSOnlyRuntime bool
	// Env holds the function's configured environment variables.
	Env map[string]string
	// FunctionName defaults to "audittrail-sample".
	FunctionName string
	// FunctionVersion defaults to "$LATEST".
	FunctionVersion string
	// Region defaults to "us-east-1".
	Region string
	// AccountID defaults to "123456789012".
	AccountID string
	// MemoryMB defaults to 128.
	MemoryMB int
	// Timeout is the function timeout; default 3s.
	Timeout time.Duration
	// LogFormat is "Text" (default) or "JSON".
	LogFormat string
	// ManagedInstances runs the environment as Lambda Managed Instances.
	ManagedInstances bool
	// MaxConcurrency is the Managed Instances concurrency; default 4.
	MaxConcurrency int
	// TmpDir is the sandbox's /tmp, given to processes as TMPDIR and kept
	// across resets; default a fresh directory removed by Close.
	TmpDir string
	// Logs receives a copy of every line the processes print, like
	// CloudWatch Logs; nil discards.
	Logs io.Writer
	// TelemetryBufferBytes bounds what a subscriber may have pending;
	// beyond it events are dropped and platform.logsDropped reports them.
	// Default 4 MiB.
	TelemetryBufferBytes int
}

func (c *Config) defaults() error {
	if len(c.Runtime) == 0 {
		return errors.New("lambdasim: Config.Runtime is required")
	}
	set := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	set(&c.FunctionName, "audittrail-sample")
	set(&c.FunctionVersion, "$LATEST")
	set(&c.Region, "us-east-1")
	set(&c.AccountID, "123456789012")
	set(&c.LogFormat, "Text")
	if c.LogFormat != "Text" && c.LogFormat != "JSON" {
		return fmt.Errorf("lambdasim: LogFormat %q is not Text or JSON", c.LogFormat)
	}
	if c.MemoryMB == 0 {
		c.MemoryMB = 128
	}
	if c.Timeout == 0 {
		c.Timeout = 3 * time.Second
	}
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = 4
	}
	if c.TelemetryBufferBytes == 0 {
		c.TelemetryBufferBytes = 4 << 20
	}
	if c.Logs == nil {
		c.Logs = io.Discard
	}
	return nil
}

// Sim is one simulated function: an API server and, after the first
// invoke, an execution environment.
type Sim struct {
	cfg      Config
	ln       net.Listener
	srv      *http.Server
	tmpOwned bool
	logMu    sync.Mutex

	// life serialises lifecycle steps: classic invokes, init and shutdown
	// take it exclusively; Managed Instances invokes share it.
	life sync.RWMutex
	// initMu lets one Managed Instances invoke initialise the environment.
	initMu sync.Mutex

	mu        sync.Mutex
	changed   chan struct{}
	env       *environment
	resets    int
	initTimes map[string]time.Duration
}

// New validates cfg and starts the API server on 127.0.0.1; no process
// runs before the first Invoke.
func New(cfg Config) (*Sim, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	s := &Sim{cfg: cfg, changed: make(chan struct{})}
	if s.cfg.TmpDir == "" {
		dir, err := os.MkdirTemp("", "lambdasim-tmp")
		if err != nil {
			return nil, fmt.Errorf("lambdasim: %w", err)
		}
		s.cfg.TmpDir, s.tmpOwned = dir, true
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lambdasim: %w", err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// RuntimeAPI is the value of AWS_LAMBDA_RUNTIME_API: "127.0.0.1:port".
func (s *Sim) RuntimeAPI() string { return s.ln.Addr().String() }

// ExtensionInitTimes returns, per extension name, the time from its
// process start to its first event/next call, of the latest init.
func (s *Sim) ExtensionInitTimes() map[string]time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]time.Duration, len(s.initTimes))
	for k, v := range s.initTimes {
		out[k] = v
	}
	return out
}

// Process describes one process of the current execution environment.
type Process struct {
	// Name is the extension's file name, or "runtime".
	Name string
	// Kind is "extension" or "function" (the runtime).
	Kind    string
	Pid     int
	Started time.Time
	// Registered is when an extension's registration was accepted.
	Registered time.Time
	// State is the kernel's state letter: 'T' while frozen.
	State byte
}

// Processes lists the processes of the current environment, in start order.
func (s *Sim) Processes() []Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.env == nil {
		return nil
	}
	var out []Process
	for _, p := range s.env.procs {
		if p.alive() {
			info := Process{Name: p.name, Kind: p.origin, Pid: p.pid(), Started: p.started, State: p.state()}
			if e := s.env.extByName(p.name); e != nil && p.origin == "extension" {
				info.Registered = e.registered
			}
			out = append(out, info)
		}
	}
	return out
}

// Close kills every process, stops the server and removes a default TmpDir.
func (s *Sim) Close() error {
	s.life.Lock()
	defer s.life.Unlock()
	s.mu.Lock()
	env := s.env
	s.env = nil
	s.mu.Unlock()
	if env != nil {
		env.killAll()
		env.tel.close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if s.tmpOwned {
		_ = os.RemoveAll(s.cfg.TmpDir)
	}
	return err
}

// broadcastLocked wakes everything waiting on a change of state.
func (s *Sim) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Sim) broadcast() {
	s.mu.Lock()
	s.broadcastLocked()
	s.mu.Unlock()
}

// waitUntil blocks until cond (evaluated under s.mu) holds or ctx ends.
func (s *Sim) waitUntil(ctx context.Context, cond func() bool) bool {
	for {
		s.mu.Lock()
		ok, ch := cond(), s.changed
		s.mu.Unlock()
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

// logLine copies one process line to Config.Logs and to telemetry.
func (s *Sim) logLine(env *environment, origin string, line []byte) {
	s.logMu.Lock()
	_, _ = s.cfg.Logs.Write(append(append([]byte{}, line...), '\n'))
	s.logMu.Unlock()
	env.tel.publish(event{time: time.Now(), typ: origin, record: append([]byte{}, line...)})
}

// extensionFiles lists the executables in OptDir/extensions, in name order.
func (s *Sim) extensionFiles() ([]string, error) {
	if s.cfg.OptDir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(filepath.Join(s.cfg.OptDir, "extensions"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lambdasim: %w", err)
	}
	var files []string
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || info.IsDir() || info.Mode().Perm()&0o111 == 0 {
			continue
		}
		files = append(files, filepath.Join(s.cfg.OptDir, "extensions", e.Name()))
	}
	sort.Strings(files)
	return files, nil
}
