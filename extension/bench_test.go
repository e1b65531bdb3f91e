package extension_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/audittrail/audittrail/internal/lambdasim"
)

// BenchmarkLifecycle measures what the extension costs a function, in
// lambdasim: its init time (process start to first event/next), the
// post-runtime time per invoke (runtime response to the extension's
// event/next, Lambda's PostRuntimeExtensionsDuration), and the response
// latency the caller sees, with and without the extension.
func BenchmarkLifecycle(b *testing.B) {
	const invokes = 100
	for b.Loop() {
		with := runInvokes(b, true, invokes)
		without := runInvokes(b, false, invokes)
		b.ReportMetric(ms(with.init), "init-ms")
		b.ReportMetric(ms(quantile(with.post, 0.5)), "post-runtime-p50-ms")
		b.ReportMetric(ms(quantile(with.post, 0.99)), "post-runtime-p99-ms")
		b.ReportMetric(ms(quantile(with.latency, 0.5)), "latency-p50-ms")
		b.ReportMetric(ms(quantile(with.latency, 0.99)), "latency-p99-ms")
		b.ReportMetric(ms(quantile(without.latency, 0.5)), "baseline-latency-p50-ms")
		b.ReportMetric(ms(quantile(without.latency, 0.99)), "baseline-latency-p99-ms")
		b.ReportMetric(ms(with.shutdown), "shutdown-ms")
		b.ReportMetric(float64(with.peakRSS)/(1<<20), "peak-rss-MiB")
	}
}

type lifecycleTimes struct {
	init, shutdown time.Duration
	post, latency  []time.Duration
	// peakRSS is the extension's peak resident memory (VmHWM), in bytes.
	peakRSS int64
}

func runInvokes(b *testing.B, withExt bool, n int) lifecycleTimes {
	l := newLambda(b, withExt, nil)
	var t lifecycleTimes
	for i := range n {
		res := l.invoke(b, "GET", "/users/1")
		if res.ErrorType != "" {
			b.Fatalf("invoke %d failed: %s", i, res.ErrorType)
		}
		if i == 0 {
			continue // the cold start is measured as init time
		}
		t.post = append(t.post, res.PostRuntime)
		t.latency = append(t.latency, res.ResponseLatency)
	}
	t.init = l.sim.ExtensionInitTimes()["audittrail"]
	for _, p := range l.sim.Processes() {
		if p.Kind == "extension" && p.Name == "audittrail" {
			t.peakRSS = peakRSS(p.Pid)
		}
	}
	sd := l.shutdown(b)
	t.shutdown = sd.Duration
	return t
}

// peakRSS reads a process's peak resident set size from /proc (0 when it
// cannot).
func peakRSS(pid int) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(status)) {
		if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")), 10, 64)
			return n << 10
		}
	}
	return 0
}

func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkProxy measures the latency the Runtime API proxy adds to what
// the caller waits, for 1 KiB and 100 KiB responses: the same function
// with the extension and the exec wrapper, and without either.
func BenchmarkProxy(b *testing.B) {
	const invokes = 100
	for _, kb := range []int{1, 100} {
		b.Run(fmt.Sprintf("%dKiB", kb), func(b *testing.B) {
			for b.Loop() {
				path := fmt.Sprintf("/big?kb=%d", kb)
				proxied, post := responseLatencies(b, newLambda(b, true, withWrapper), path, invokes)
				direct, _ := responseLatencies(b, newLambda(b, false, nil), path, invokes)
				b.ReportMetric(ms(quantile(proxied, 0.5)), "proxied-p50-ms")
				b.ReportMetric(ms(quantile(proxied, 0.99)), "proxied-p99-ms")
				b.ReportMetric(ms(quantile(direct, 0.5)), "direct-p50-ms")
				b.ReportMetric(ms(quantile(direct, 0.99)), "direct-p99-ms")
				b.ReportMetric(ms(quantile(post, 0.5)), "post-runtime-p50-ms")
				b.ReportMetric(ms(quantile(post, 0.99)), "post-runtime-p99-ms")
			}
		})
	}
}

// responseLatencies returns the caller's latency and the post-runtime time
// of n warm invokes.
func responseLatencies(b *testing.B, l *lambda, path string, n int) (latency, post []time.Duration) {
	for i := range n + 1 {
		res := l.invoke(b, "GET", path)
		if res.ErrorType != "" {
			b.Fatalf("invoke failed: %s", res.ErrorType)
		}
		if i > 0 { // leave out the cold start
			latency = append(latency, res.ResponseLatency)
			post = append(post, res.PostRuntime)
		}
	}
	l.shutdown(b)
	return latency, post
}

// BenchmarkDeadSink measures what a failing http sink costs the function:
// the caller's latency and the post-runtime time per invoke, with
// AUDITTRAIL_FLUSH=end (delivery after every invoke), when the sink's
// backend is healthy, refuses connections, or accepts them and never
// answers, and without the extension at all. A dead backend must change
// neither figure, and post-runtime must stay under the flush budget
// (50 ms by default): "blackhole-post-runtime-max-ms" is the worst invoke.
func BenchmarkDeadSink(b *testing.B) {
	const invokes = 100
	for b.Loop() {
		healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusNoContent)
		}))
		b.Cleanup(healthy.Close)
		configs := []struct {
			name  string
			sinks func(*lambdasim.Config) // nil runs the function without the extension
		}{
			{"healthy", httpSink(healthy.URL + "/")},
			{"dead", httpSink(refusingURL(b))},
			{"blackhole", httpSink(blackHoleURL(b))},
			{"none", nil},
		}
		for _, c := range configs {
			t := sinkInvokes(b, c.name, invokes, c.sinks)
			b.ReportMetric(ms(quantile(t.latency, 0.5)), c.name+"-latency-p50-ms")
			b.ReportMetric(ms(quantile(t.latency, 0.99)), c.name+"-latency-p99-ms")
			b.ReportMetric(ms(quantile(t.post, 0.5)), c.name+"-post-runtime-p50-ms")
			b.ReportMetric(ms(quantile(t.post, 0.99)), c.name+"-post-runtime-p99-ms")
			if c.name == "blackhole" {
				b.ReportMetric(ms(slices.Max(t.post)), c.name+"-post-runtime-max-ms")
			}
		}
	}
}

// sinkInvokes runs n warm invokes of GET /users/1 through the exec wrapper,
// records delivered after every invoke (AUDITTRAIL_FLUSH=end) to the sinks
// that configure sets up; configure nil runs the bare function instead.
// name labels its failures.
func sinkInvokes(b *testing.B, name string, n int, configure func(*lambdasim.Config)) lifecycleTimes {
	var l *lambda
	if configure == nil {
		l = newLambda(b, false, nil)
	} else {
		l = newLambda(b, true, func(c *lambdasim.Config) {
			withWrapper(c)
			c.Env["AUDITTRAIL_FLUSH"] = "end"
			configure(c)
		})
	}
	var t lifecycleTimes
	for i := range n + 1 {
		res := l.invoke(b, "GET", "/users/1")
		if res.ErrorType != "" {
			b.Errorf("%s: invoke %d failed: %s", name, i, res.ErrorType)
		}
		if i > 0 { // leave out the cold start
			t.post = append(t.post, res.PostRuntime)
			t.latency = append(t.latency, res.ResponseLatency)
		}
	}
	t.shutdown = l.shutdown(b).Duration
	return t
}

// httpSink configures the file and http sinks, the http sink posting to url.
func httpSink(url string) func(*lambdasim.Config) {
	return func(c *lambdasim.Config) {
		c.Env["AUDITTRAIL_SINKS"] = "file,http"
		c.Env["AUDITTRAIL_HTTP_URL"] = url
	}
}

// refusingURL returns the URL of a local port where nothing listens: every
// connection is refused.
func refusingURL(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		b.Fatal(err)
	}
	return "http://" + addr + "/"
}

// blackHoleURL returns the URL of a local server that accepts connections
// and never reads from them nor answers: a backend that hangs. It closes
// the listener and every connection when the benchmark ends.
func blackHoleURL(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return // the listener is closed
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	b.Cleanup(func() {
		_ = ln.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "http://" + ln.Addr().String() + "/"
}

// BenchmarkSinkOverhead measures what each SIEM sink costs the function
// when it delivers after every invoke (AUDITTRAIL_FLUSH=end, the worst
// case) straight to its real receiver, with no proxy between: splunk to
// the Collector's HEC receiver, otlp to its OTLP receiver, elasticsearch
// and datadog to VictoriaLogs; then all four at once, and the file sink
// alone as the baseline. It reports the post-runtime time per invoke (p50,
// p99) and the caller's latency (p50), and fails when a receiver got fewer
// distinct records (by event.id) than there were warm invokes: a sink that
// silently delivers nothing must not pass for a fast one.
func BenchmarkSinkOverhead(b *testing.B) {
	const invokes = 100
	siems := receivers(b) // each reached directly, not through its proxy
	type config struct {
		name  string
		siems []siem // none: AUDITTRAIL_SINKS=file
	}
	configs := []config{{"file", nil}}
	for _, s := range siems {
		configs = append(configs, config{s.sink, []siem{s}})
	}
	configs = append(configs, config{"all", siems})
	for b.Loop() {
		for _, c := range configs {
			names := []string{}
			before := map[string]map[string]int{} // sink → event.ids its receiver held before
			for _, s := range c.siems {
				names = append(names, s.sink)
				before[s.sink] = s.ids(b)
			}
			if len(names) == 0 {
				names = []string{"file"}
			}
			t := sinkInvokes(b, c.name, invokes, func(cfg *lambdasim.Config) {
				cfg.Env["AUDITTRAIL_SINKS"] = strings.Join(names, ",")
				for _, s := range c.siems {
					s.env(cfg, s.direct())
				}
			})
			b.ReportMetric(ms(quantile(t.post, 0.5)), c.name+"-post-runtime-p50-ms")
			b.ReportMetric(ms(quantile(t.post, 0.99)), c.name+"-post-runtime-p99-ms")
			b.ReportMetric(ms(quantile(t.latency, 0.5)), c.name+"-latency-p50-ms")
			for _, s := range c.siems {
				fresh := 0
				for id := range s.ids(b) {
					if before[s.sink][id] == 0 {
						fresh++
					}
				}
				if fresh < invokes {
					b.Errorf("%s: the %s receiver got %d distinct records from %d invokes, want at least %d",
						c.name, s.sink, fresh, invokes+1, invokes)
				}
			}
		}
	}
}
