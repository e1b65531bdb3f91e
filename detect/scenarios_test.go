package detect

// Generated scenarios for the detectors that count across invocations
// (auth_failure_burst, anomaly): benign traffic with realistic noise and
// attacks or incidents, from a fixed seed, so the figures in README.md
// are what this test measures. Run with -v to see the table.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/audittrail/audittrail/schema"
)

// burstEvent is one request of the burst scenario: who, from where, the
// answer, and which attack episode it belongs to (-1: benign).
type burstEvent struct {
	at      time.Time
	user    string
	addr    string
	status  int
	episode int
}

// burstScenario is an hour of a login API: 300 users, 5% of whom mistype
// their password a few times, 40 of them behind one office NAT address,
// and 30 attacks: 15 credential-stuffing runs from one address over many
// users, 10 brute-force runs on one user from rotating addresses, and 5
// low-and-slow runs below the threshold by design (reported apart).
func burstScenario(rng *rand.Rand) (events []burstEvent, episodes []string) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	at := func() time.Time { return t0.Add(time.Duration(rng.Int64N(int64(time.Hour)))) }
	for u := range 300 {
		user := fmt.Sprintf("user-%03d", u)
		addr := fmt.Sprintf("198.51.100.%d", u%250)
		if u < 40 {
			addr = "203.0.113.1" // the office NAT
		}
		for range 1 + rng.IntN(20) {
			events = append(events, burstEvent{at(), user, addr, 200, -1})
		}
		if rng.Float64() < 0.05 || u < 40 && rng.Float64() < 0.5 {
			start := at()
			for i := range 1 + rng.IntN(4) {
				events = append(events, burstEvent{start.Add(time.Duration(i) * 5 * time.Second), user, addr, 401, -1})
			}
			events = append(events, burstEvent{start.Add(30 * time.Second), user, addr, 200, -1})
		}
		if rng.Float64() < 0.1 { // a forbidden page visited now and then
			events = append(events, burstEvent{at(), user, addr, 403, -1})
		}
	}
	for e := range 30 {
		start := at()
		switch {
		case e < 15:
			addr := fmt.Sprintf("192.0.2.%d", e)
			n, span := 30+rng.IntN(170), time.Duration(1+rng.IntN(5))*time.Minute
			for i := range n {
				events = append(events, burstEvent{start.Add(span * time.Duration(i) / time.Duration(n)), fmt.Sprintf("victim-%d-%d", e, i), addr, 401, e})
			}
			episodes = append(episodes, "credential stuffing")
		case e < 25:
			user := fmt.Sprintf("target-%d", e)
			n := 20 + rng.IntN(40)
			for i := range n {
				addr := fmt.Sprintf("100.64.%d.%d", e, i)
				events = append(events, burstEvent{start.Add(2 * time.Minute * time.Duration(i) / time.Duration(n)), user, addr, 401, e})
			}
			episodes = append(episodes, "brute force")
		default:
			user, addr := fmt.Sprintf("slow-%d", e), fmt.Sprintf("192.0.2.%d", 100+e)
			for i := range 20 {
				events = append(events, burstEvent{start.Add(time.Duration(i) * 30 * time.Second), user, addr, 401, e})
			}
			episodes = append(episodes, "low and slow (below the threshold)")
		}
	}
	slices.SortStableFunc(events, func(a, b burstEvent) int { return a.at.Compare(b.at) })
	return events, episodes
}

// scenarioRates are one detector's figures.
type scenarioRates struct {
	tp, fp, fn, tn int
}

func (r scenarioRates) precision() float64 { return scenarioRatio(r.tp, r.tp+r.fp) }
func (r scenarioRates) recall() float64    { return scenarioRatio(r.tp, r.tp+r.fn) }
func (r scenarioRates) fpr() float64       { return scenarioRatio(r.fp, r.fp+r.tn) }

func scenarioRatio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func TestScenariosAuthFailureBurst(t *testing.T) {
	events, episodes := burstScenario(rand.New(rand.NewPCG(8, 1)))
	d, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	detected := make([]bool, len(episodes))
	flagged := map[string]bool{} // benign keys with a finding
	benignKeys := map[string]bool{}
	findings, wrong := 0, 0
	for _, ev := range events {
		rec := invocation(ev.at, ev.user, ev.addr, ev.status, 0)
		d.Finished(&rec)
		if ev.episode < 0 {
			benignKeys["user.id "+ev.user] = true
			benignKeys["client.address "+ev.addr] = true
		}
		for _, f := range findingsOf(&rec, schema.FindingAuthFailureBurst) {
			findings++
			value := ev.addr
			if f.Evidence.Key == "user.id" {
				value = ev.user
			}
			if ev.episode >= 0 && (f.Evidence.Key == "client.address" && !strings.HasPrefix(ev.addr, "198.51.100.") || f.Evidence.Key == "user.id" && !strings.HasPrefix(ev.user, "user-")) {
				detected[ev.episode] = true
				continue
			}
			wrong++
			flagged[f.Evidence.Key+" "+value] = true
		}
	}
	var r scenarioRates
	missedByDesign := 0
	for i, ok := range detected {
		switch {
		case ok:
			r.tp++
		case strings.HasPrefix(episodes[i], "low and slow"):
			missedByDesign++
		default:
			r.fn++
			t.Errorf("episode %d (%s) not detected", i, episodes[i])
		}
	}
	r.fp = len(flagged)
	r.tn = len(benignKeys) - len(flagged)
	t.Logf("auth_failure_burst: %d attack episodes in scope, %d benign keys (users and addresses), %d findings (%d on benign keys)", r.tp+r.fn, len(benignKeys), findings, wrong)
	t.Logf("| auth_failure_burst | %d | %d | %.1f%% | %.1f%% | %.2f%% | per attack episode; benign = users and addresses; %d low-and-slow runs below the threshold missed by design |",
		r.tp+r.fn, len(benignKeys), 100*r.precision(), 100*r.recall(), 100*r.fpr(), missedByDesign)
	if r.recall() < 0.95 || r.fpr() > 0.02 {
		t.Errorf("recall %.3f (want >= 0.95), false-positive rate %.3f (want <= 0.02)", r.recall(), r.fpr())
	}
	if missedByDesign != 5 {
		t.Errorf("%d low-and-slow runs missed, want all 5 (they stay under the threshold): is the window right?", missedByDesign)
	}
}

// anomalyEnv is one environment's invocations: failure and duration,
// and whether each is part of an incident.
type anomalyEnv struct {
	failed   []bool
	latency  []float64
	incident []bool
	kind     string // "" benign
}

// anomalyScenario makes 80 environments of 400 invocations: 40 benign
// (log-normal durations, 1% failures, now and then one very slow request,
// and some whose latency drifts to twice the start over the run), 20 with
// an error spike (40-90% failures for 15-30 invocations) and 20 with a
// latency spike (3.5-8 times for 15-30 invocations), the incidents after
// the first 100 invocations.
func anomalyScenario(rng *rand.Rand) []anomalyEnv {
	var envs []anomalyEnv
	for e := range 80 {
		var env anomalyEnv
		base := 20 + rng.Float64()*200
		start, length := 100+rng.IntN(250), 15+rng.IntN(16)
		switch {
		case e >= 60:
			env.kind = "latency spike"
		case e >= 40:
			env.kind = "error spike"
		}
		factor, rate := 3.5+4.5*rng.Float64(), 0.4+0.5*rng.Float64()
		drift := e%4 == 0 && env.kind == ""
		for i := range 400 {
			in := env.kind != "" && i >= start && i < start+length
			lat := base * math.Exp(0.35*rng.NormFloat64())
			if drift {
				lat *= 1 + float64(i)/400
			}
			if rng.Float64() < 0.01 {
				lat *= 10 // a cold cache, a slow dependency: one request
			}
			fail := rng.Float64() < 0.01
			if in && env.kind == "latency spike" {
				lat *= factor
			}
			if in && env.kind == "error spike" {
				fail = rng.Float64() < rate
			}
			env.failed = append(env.failed, fail)
			env.latency = append(env.latency, lat)
			env.incident = append(env.incident, in)
		}
		envs = append(envs, env)
	}
	return envs
}

func TestScenariosAnomaly(t *testing.T) {
	envs := anomalyScenario(rand.New(rand.NewPCG(3, 4)))
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var r scenarioRates
	benignInvocations, falseFindings := 0, 0
	for _, env := range envs {
		d, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		caught := false
		for i := range env.failed {
			status := 200
			if env.failed[i] {
				status = 500
			}
			rec := invocation(t0.Add(time.Duration(i)*time.Second), "", "", status, env.latency[i])
			d.Finished(&rec)
			// A finding up to a window after the incident is about it.
			during := env.incident[i] || i >= 10 && env.incident[i-10]
			if !during {
				benignInvocations++
			}
			for range findingsOf(&rec, schema.FindingAnomaly) {
				if during {
					caught = true
				} else {
					falseFindings++
				}
			}
		}
		switch {
		case env.kind != "" && caught:
			r.tp++
		case env.kind != "":
			r.fn++
			t.Logf("missed: %s", env.kind)
		}
	}
	r.fp, r.tn = falseFindings, benignInvocations-falseFindings
	precision := scenarioRatio(r.tp, r.tp+falseFindings)
	t.Logf("| anomaly | %d | %d | %.1f%% | %.1f%% | %.2f%% | per incident; benign = invocations outside incidents, in 80 environments of 400 |",
		r.tp+r.fn, benignInvocations, 100*precision, 100*r.recall(), 100*r.fpr())
	if r.recall() < 0.95 || r.fpr() > 0.02 {
		t.Errorf("recall %.3f (want >= 0.95), false-positive rate %.4f (want <= 0.02)", r.recall(), r.fpr())
	}
}
