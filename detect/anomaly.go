package detect

import (
	"fmt"
	"math"
	"slices"

	"github.com/audittrail/audittrail/schema"
)

// AnomalyOptions tune anomaly.
type AnomalyOptions struct {
	// Warmup is how many invocations make the baseline before anything is
	// judged against it.
	Warmup int
	// Recent is how many of the latest invocations are compared with the
	// baseline.
	Recent int
	// ErrorRate is the recent failure rate that is a spike (when it is
	// also ErrorRate/2 above the baseline's).
	ErrorRate float64
	// LatencyFactor: a recent median duration this many times the usual one
	// (the baseline's geometric mean; and 2.5 standard deviations of the
	// logarithm and 25 ms above it) is a spike.
	LatencyFactor float64
}

// minLatency (ms) floors durations before their logarithm is taken, and
// minLatencyRise (ms) is the least rise over the usual duration that is a
// spike (2 ms becoming 8 ms is not worth an alarm).
const (
	minLatency     = 0.1
	minLatencyRise = 25
)

// baselineAlpha is the weight of each invocation in the baseline (an
// exponentially weighted mean over roughly the last 1/alpha invocations).
const baselineAlpha = 0.02

// anomalies keeps the environment's baseline of failure rate and latency
// and a window of its most recent invocations. Memory: Recent samples.
type anomalies struct {
	opt AnomalyOptions
	n   int
	// baseline: exponentially weighted failure rate, and mean and
	// variance of the logarithm of the duration in ms (durations are
	// roughly log-normal: a spike is a factor, not a difference).
	errRate, logMean, logVar float64
	// recent is a ring of the latest invocations.
	recent []sample
	next   int
	// scratch and lat are scratch space for the window and its durations.
	scratch []sample
	lat     []float64
	// quiet counts invocations left before the same kind of spike is
	// reported again.
	quietErr, quietLat int
}

type sample struct {
	failed  bool
	latency float64 // ms; NaN when unknown
}

func newAnomalies(opt AnomalyOptions) *anomalies {
	return &anomalies{opt: opt, recent: make([]sample, 0, opt.Recent)}
}

// observe adds a finished invocation and returns the spikes it shows: the
// recent failure rate or mean latency far above the baseline. A spike is
// reported once, then not again for Recent invocations.
func (a *anomalies) observe(rec *schema.Record) []schema.Finding {
	s := sample{failed: rec.Event.Outcome == schema.OutcomeFailure, latency: math.NaN()}
	if l := rec.AWS; l != nil && l.Lambda != nil && l.Lambda.DurationMs != nil {
		s.latency = *l.Lambda.DurationMs
	}
	var out []schema.Finding
	if a.n >= a.opt.Warmup {
		out = a.judge(s)
	}
	a.learn(s)
	return out
}

// judge compares the recent window, with s, against the baseline: its
// failure rate, and its median duration (a median, so that one slow
// request is not a spike).
func (a *anomalies) judge(s sample) []schema.Finding {
	a.scratch = append(append(a.scratch[:0], a.window()...), s)
	window := a.scratch
	failed := 0
	a.lat = a.lat[:0]
	for _, r := range window {
		if r.failed {
			failed++
		}
		if !math.IsNaN(r.latency) {
			a.lat = append(a.lat, r.latency)
		}
	}
	var out []schema.Finding
	a.quietErr, a.quietLat = max(a.quietErr-1, 0), max(a.quietLat-1, 0)
	rate := float64(failed) / float64(len(window))
	if s.failed && a.quietErr == 0 && len(window) >= a.opt.Recent &&
		rate >= a.opt.ErrorRate && rate >= a.errRate+a.opt.ErrorRate/2 {
		a.quietErr = a.opt.Recent
		out = append(out, spike("error_rate", "response.status", rate, a.errRate,
			fmt.Sprintf("failure rate %.0f%% over the last %d invocations, against a baseline of %.1f%%",
				100*rate, len(window), 100*a.errRate)))
	}
	if len(a.lat) >= a.opt.Recent && !math.IsNaN(s.latency) && a.quietLat == 0 {
		slices.Sort(a.lat)
		median := a.lat[len(a.lat)/2]
		usual := math.Exp(a.logMean)
		rise := math.Max(math.Log(a.opt.LatencyFactor), 2.5*math.Sqrt(a.logVar))
		if math.Log(math.Max(median, minLatency)) >= a.logMean+rise && median-usual >= minLatencyRise {
			a.quietLat = a.opt.Recent
			out = append(out, spike("latency", "event.duration", median, usual,
				fmt.Sprintf("median duration %.0f ms over the last %d invocations, against a usual %.0f ms",
					median, len(a.lat), usual)))
		}
	}
	return out
}

func spike(rule, location string, observed, baseline float64, reason string) schema.Finding {
	return schema.Finding{
		Type:     schema.FindingAnomaly,
		Severity: schema.SeverityMedium,
		Reason:   reason,
		Evidence: schema.Evidence{Location: location, Rule: "anomaly." + rule, Observed: &observed, Baseline: &baseline},
	}
}

// window returns the recent samples (in no particular order).
func (a *anomalies) window() []sample {
	if len(a.recent) < a.opt.Recent {
		return a.recent
	}
	return a.recent[:a.opt.Recent]
}

// learn adds s to the baseline and the recent window.
func (a *anomalies) learn(s sample) {
	a.n++
	alpha := max(baselineAlpha, 1/float64(a.n)) // a plain mean until 1/alpha samples
	fail := 0.0
	if s.failed {
		fail = 1
	}
	a.errRate += alpha * (fail - a.errRate)
	if !math.IsNaN(s.latency) {
		d := math.Log(math.Max(s.latency, minLatency)) - a.logMean
		if a.n > a.opt.Warmup {
			// An outlier moves the baseline as a 2-sigma value would (a
			// Huber-like bound), so a spike is judged against what came
			// before it, not against itself.
			lim := 2 * math.Sqrt(a.logVar)
			d = max(-lim, min(d, lim))
		}
		a.logMean += alpha * d
		a.logVar = (1 - alpha) * (a.logVar + alpha*d*d)
	}
	if len(a.recent) < a.opt.Recent {
		a.recent = append(a.recent, s)
		return
	}
	a.recent[a.next] = s
	a.next = (a.next + 1) % a.opt.Recent
}
