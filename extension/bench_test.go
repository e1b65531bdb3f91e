package extension_test

import (
	"fmt"
	"slices"
	"testing"
	"time"
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
	}
}

type lifecycleTimes struct {
	init, shutdown time.Duration
	post, latency  []time.Duration
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
	sd := l.shutdown(b)
	t.shutdown = sd.Duration
	return t
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
