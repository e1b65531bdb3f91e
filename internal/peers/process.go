package peers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// readyTimeout bounds how long a peer may take to report healthy.
	readyTimeout = 30 * time.Second
	// apiTimeout bounds one call to a peer's API (queries, toxics). Calls do
	// not use t.Context(), so that they also work in t.Cleanup functions.
	apiTimeout = 30 * time.Second
	// checkTimeout bounds one health check request.
	checkTimeout = 2 * time.Second
	// stopGrace is how long a peer may take to exit after SIGTERM before it
	// is killed.
	stopGrace = 10 * time.Second
	// startAttempts is how many times a peer is started on new ports when it
	// exits before it is ready (another process may take a free port between
	// freeAddrs and the peer's own bind).
	startAttempts = 3
	// logTail is how much of a peer's log is printed when a test fails.
	logTail = 64 << 10
)

// process is one started peer process. It is stopped when the test ends.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed once the process has exited
	waitErr error         // how it exited; read only after exited is closed
	once    sync.Once     // guards stopping
}

// launchSpec describes how to start one peer and tell that it is ready.
type launchSpec struct {
	name  string                                          // for messages and the log file name
	bin   string                                          // the executable
	dir   string                                          // working directory
	ports int                                             // how many 127.0.0.1 ports it listens on
	args  func(addrs []string) []string                   // command line, given the "127.0.0.1:port" addresses
	env   func(addrs []string) []string                   // extra environment (KEY=value); may be nil
	ready func(ctx context.Context, addrs []string) error // nil once the peer serves
}

// launch starts s, on the given addresses or, when addrs is nil, on free
// ports, and waits until s.ready succeeds. It returns the process and the
// addresses it listens on, or fails the test.
func launch(t testing.TB, s launchSpec, addrs []string) (*process, []string) {
	t.Helper()
	attempts := startAttempts
	if addrs != nil {
		attempts = 1 // fixed addresses: trying again would not help
	}
	var err error
	for attempt := 1; attempt <= attempts; attempt++ {
		use := addrs
		if use == nil {
			if use, err = freeAddrs(s.ports); err != nil {
				t.Fatalf("peers: %s: %v", s.name, err)
			}
		}
		var env []string
		if s.env != nil {
			env = s.env(use)
		}
		p, startErr := startProcess(t, s.name, s.bin, s.args(use), env, s.dir)
		if startErr != nil {
			t.Fatalf("peers: %v", startErr)
		}
		// Not t.Context(): SetReadOnly may restart a peer from a cleanup.
		err = p.waitReady(context.Background(), func(ctx context.Context) error { return s.ready(ctx, use) })
		if err == nil {
			t.Logf("peers: %s ready on %s (pid %d, log %s)", s.name, strings.Join(use, " "), p.cmd.Process.Pid, p.logPath)
			return p, use
		}
		exitedEarly := p.hasExited() // for example: its port was taken meanwhile
		p.stop(t)
		if !exitedEarly || attempt == attempts {
			break
		}
		t.Logf("peers: %v; starting it again on other ports", err)
	}
	t.Fatalf("peers: %v", err)
	return nil, nil
}

// freeAddrs returns n distinct "127.0.0.1:port" addresses that were free a
// moment ago.
func freeAddrs(n int) ([]string, error) {
	addrs := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		// Keep it open until all are picked, so that they differ.
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}

// startProcess starts bin with args in dir, its stdout and stderr going to a
// log file under t.TempDir(). It registers a cleanup that stops the process
// and prints the log if the test failed.
func startProcess(t testing.TB, name, bin string, args, env []string, dir string) (*process, error) {
	t.Helper()
	// TempDir first: cleanups run last-in first-out, so the log file still
	// exists when the cleanup below prints it.
	logFile, err := os.CreateTemp(t.TempDir(), name+"-*.log")
	if err != nil {
		return nil, fmt.Errorf("%s: create log file: %w", name, err)
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, bin, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logFile.Name(), exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			p.printLog(t)
		}
	})
	return p, nil
}

// waitReady calls ready until it succeeds, each call bounded by
// checkTimeout, with a short growing pause between calls. It gives up when
// the process exits, ctx ends or readyTimeout passes.
func (p *process) waitReady(ctx context.Context, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	pause := 5 * time.Millisecond
	for {
		checkCtx, cancelCheck := context.WithTimeout(ctx, checkTimeout)
		err := ready(checkCtx)
		cancelCheck()
		if err == nil {
			return nil
		}
		timer := time.NewTimer(pause)
		select {
		case <-timer.C:
		case <-p.exited:
			timer.Stop()
			return fmt.Errorf("%s exited before it was ready (%v); last health check: %w", p.name, p.waitErr, err)
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%s not ready within %v: %w", p.name, readyTimeout, err)
		}
		pause = min(2*pause, 200*time.Millisecond)
	}
}

// hasExited reports whether the process has exited.
func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process, and SIGKILL if it is still running
// after stopGrace; it returns once the process has exited. Calling it again
// does nothing.
func (p *process) stop(t testing.TB) {
	p.once.Do(func() {
		if p.hasExited() {
			return
		}
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Logf("peers: SIGTERM %s (pid %d): %v", p.name, p.cmd.Process.Pid, err)
		}
		timer := time.NewTimer(stopGrace)
		defer timer.Stop()
		select {
		case <-p.exited:
		case <-timer.C:
			t.Logf("peers: %s (pid %d) still running %v after SIGTERM; sending SIGKILL", p.name, p.cmd.Process.Pid, stopGrace)
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

// printLog logs the end of the process's log file.
func (p *process) printLog(t testing.TB) {
	f, err := os.Open(p.logPath)
	if err != nil {
		t.Logf("peers: %s log: %v", p.name, err)
		return
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size() > logTail {
		_, _ = f.Seek(-logTail, io.SeekEnd)
	}
	out, err := io.ReadAll(f)
	if err != nil {
		t.Logf("peers: %s log: %v", p.name, err)
	}
	t.Logf("peers: %s log (%s, last %d bytes at most):\n%s", p.name, p.logPath, logTail, out)
}

// httpGetOK returns a readiness check that succeeds when GET url answers 200.
func httpGetOK(client *http.Client, url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s %s", url, resp.Status, strings.TrimSpace(string(body)))
		}
		return nil
	}
}
