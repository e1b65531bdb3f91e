package lambdasim

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one process of the execution environment: the runtime or an
// external extension. Each runs in its own process group, so that freezing,
// thawing and killing reach its children too.
type proc struct {
	name    string
	origin  string // "function" or "extension": the telemetry type of its output
	cmd     *exec.Cmd
	started time.Time
	exited  chan struct{}
	exitErr error // valid once exited is closed
}

// startProc starts argv with env; every line it prints goes to onLine.
func startProc(name, origin string, argv, env []string, onLine func(origin string, line []byte), onExit func()) (*proc, error) {
	p := &proc{name: name, origin: origin, exited: make(chan struct{})}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout = &lineWriter{fn: func(l []byte) { onLine(origin, l) }}
	cmd.Stderr = &lineWriter{fn: func(l []byte) { onLine(origin, l) }}
	// A child that keeps the output pipes open must not hold Wait forever.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lambdasim: start %s: %w", name, err)
	}
	p.cmd, p.started = cmd, time.Now()
	go func() {
		p.exitErr = cmd.Wait()
		close(p.exited)
		onExit()
	}()
	return p, nil
}

// alive reports whether the process has not exited.
func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// signal sends sig to the process group.
func (p *proc) signal(sig syscall.Signal) {
	if p.alive() {
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// pid returns the process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// state returns the process state letter from /proc (R, S, T, Z...), or 0
// when it cannot be read.
func (p *proc) state() byte {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid()) + "/stat")
	if err != nil {
		return 0
	}
	// "pid (comm) S ...": comm may contain spaces and parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return 0
	}
	return data[i+2]
}

// waitStopped waits (bounded) until the kernel shows the process stopped,
// so that "frozen" means frozen when freeze returns.
func (p *proc) waitStopped(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for p.alive() && p.state() != 'T' && time.Now().Before(deadline) {
		time.Sleep(100 * time.Microsecond) // polling the kernel; nothing to wait on
	}
}

// maxMemoryMB is the process's peak resident set (VmHWM), in MB rounded up;
// 0 when it cannot be read.
func (p *proc) maxMemoryMB() int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid()) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return (kb + 1023) / 1024
		}
	}
	return 0
}

// lineWriter splits what a process writes into lines.
type lineWriter struct {
	mu  sync.Mutex
	buf []byte
	fn  func(line []byte)
}

// maxLogLine bounds one log line; longer ones are split.
const maxLogLine = 256 << 10

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			if len(w.buf) >= maxLogLine {
				w.fn(w.buf[:maxLogLine])
				w.buf = w.buf[maxLogLine:]
				continue
			}
			break
		}
		if line := bytes.TrimRight(w.buf[:i], "\r"); len(line) > 0 {
			w.fn(line)
		}
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) == 0 {
		w.buf = nil
	}
	return len(b), nil
}

func baseName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}
