package detect

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/audittrail/audittrail/schema"
)

// invocation makes a finished invocation record as the builder would.
func invocation(at time.Time, user, addr string, status int, durationMs float64) schema.Record {
	rec := schema.Record{Timestamp: at, Event: schema.Event{Action: schema.ActionInvocation, Outcome: schema.OutcomeSuccess}}
	rec.HTTP = &schema.HTTP{Response: &schema.HTTPResponse{StatusCode: status}}
	if status >= 400 {
		rec.Event.Outcome = schema.OutcomeFailure
	}
	if user != "" {
		rec.User = &schema.User{ID: user}
	}
	if addr != "" {
		rec.Client = &schema.Endpoint{Address: addr}
	}
	if durationMs > 0 {
		rec.AWS = &schema.AWS{Lambda: &schema.Lambda{DurationMs: &durationMs}}
	}
	return rec
}

func findingsOf(rec *schema.Record, typ string) []schema.Finding {
	if rec.Security == nil {
		return nil
	}
	var out []schema.Finding
	for _, f := range rec.Security.Findings {
		if f.Type == typ {
			out = append(out, f)
		}
	}
	return out
}

func TestAuthFailureBurst(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	type req struct {
		dt     time.Duration // after t0
		user   string
		addr   string
		status int
	}
	same := func(n int, step time.Duration, user, addr string, status int) []req {
		var out []req
		for i := range n {
			out = append(out, req{time.Duration(i) * step, user, addr, status})
		}
		return out
	}
	tests := []struct {
		name string
		reqs []req
		// want: the indexes of the requests that carry a finding, and its key.
		want map[int]string
	}{
		{"9 failures in a minute: below the threshold", same(9, time.Second, "", "203.0.113.9", 401), nil},
		{"10 failures from one address", same(10, time.Second, "", "203.0.113.9", 401), map[int]string{9: "client.address"}},
		{"403 counts as 401 does", same(10, time.Second, "", "203.0.113.9", 403), map[int]string{9: "client.address"}},
		{"10 failures of one user from anywhere", func() []req {
			var out []req
			for i := range 10 {
				out = append(out, req{time.Duration(i) * time.Second, "alice", fmt.Sprintf("198.51.100.%d", i), 401})
			}
			return out
		}(), map[int]string{9: "user.id"}},
		{"10 failures spread over more than the window", same(10, 7*time.Second, "", "203.0.113.9", 401), nil},
		{"successes do not count", same(30, time.Second, "", "203.0.113.9", 200), nil},
		{"500s do not count", same(30, time.Second, "", "203.0.113.9", 500), nil},
		{"a long burst is reported once per window", same(130, time.Second, "", "203.0.113.9", 401),
			map[int]string{9: "client.address", 69: "client.address", 129: "client.address"}},
		{"after a quiet window a new burst is new", append(same(10, time.Second, "", "203.0.113.9", 401),
			func() []req {
				var out []req
				for i := range 10 {
					out = append(out, req{5*time.Minute + time.Duration(i)*time.Second, "", "203.0.113.9", 401})
				}
				return out
			}()...), map[int]string{9: "client.address", 19: "client.address"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(Config{})
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range tt.reqs {
				rec := invocation(t0.Add(r.dt), r.user, r.addr, r.status, 0)
				d.Finished(&rec)
				got := findingsOf(&rec, schema.FindingAuthFailureBurst)
				wantKey, want := tt.want[i]
				switch {
				case want && len(got) != 1:
					t.Errorf("request %d: %d findings, want one for %s", i, len(got), wantKey)
				case !want && len(got) != 0:
					t.Errorf("request %d: unexpected finding %+v", i, got)
				case want && got[0].Evidence.Key != wantKey:
					t.Errorf("request %d: finding keyed on %s, want %s", i, got[0].Evidence.Key, wantKey)
				case want && (got[0].Evidence.Count < 10 || got[0].Evidence.Threshold != 10 || got[0].Evidence.WindowSeconds != 60):
					t.Errorf("request %d: evidence %+v", i, got[0].Evidence)
				}
			}
		})
	}
}

// TestAuthFailureBurstMemoryIsBounded: an attack from ever new addresses
// keeps at most MaxKeys keys, and a burst still stands out.
func TestAuthFailureBurstMemoryIsBounded(t *testing.T) {
	d, err := New(Config{Burst: BurstOptions{Threshold: 5, Window: time.Minute, MaxKeys: 64}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i := range 10000 {
		rec := invocation(t0.Add(time.Duration(i)*time.Millisecond), "", fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255), 401, 0)
		d.Finished(&rec)
		if n := len(d.bursts.keys); n > 64 {
			t.Fatalf("after %d addresses, %d keys tracked; bound 64", i+1, n)
		}
	}
	var found int
	for i := range 5 {
		rec := invocation(t0.Add(20*time.Second+time.Duration(i)*time.Millisecond), "mallory", "192.0.2.1", 401, 0)
		d.Finished(&rec)
		found += len(findingsOf(&rec, schema.FindingAuthFailureBurst))
	}
	if found == 0 {
		t.Error("a burst among evictions went unseen")
	}
}

func TestGatewayBypass(t *testing.T) {
	tests := []struct {
		name     string
		expected []string
		gateway  string
		auth     string // "": no auth facts
		rule     string // "": no finding
		severity string
	}{
		{"no expectation, API Gateway", nil, schema.GatewayHTTP, "jwt", "", ""},
		{"no expectation, Function URL with IAM", nil, schema.GatewayFunctionURL, "iam", "", ""},
		{"no expectation, Function URL without auth", nil, schema.GatewayFunctionURL, "", "bypass.function_url_no_auth", schema.SeverityMedium},
		{"no expectation, direct invoke", nil, schema.GatewayDirect, "", "", ""},
		{"expected, came through it", []string{schema.GatewayHTTP}, schema.GatewayHTTP, "jwt", "", ""},
		{"expected one of two", []string{schema.GatewayHTTP, "sqs"}, "sqs", "", "", ""},
		{"direct invoke", []string{schema.GatewayHTTP}, schema.GatewayDirect, "", "bypass.direct_invoke", schema.SeverityHigh},
		{"Function URL without auth", []string{schema.GatewayHTTP}, schema.GatewayFunctionURL, "none", "bypass.function_url_no_auth", schema.SeverityHigh},
		{"Function URL with IAM", []string{schema.GatewayHTTP}, schema.GatewayFunctionURL, "iam", "bypass.unexpected_source", schema.SeverityMedium},
		{"another gateway", []string{schema.GatewayREST}, schema.GatewayALB, "", "bypass.unexpected_source", schema.SeverityMedium},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(Config{ExpectedSources: tt.expected})
			if err != nil {
				t.Fatal(err)
			}
			rec := invocation(time.Unix(0, 0), "", "", 200, 0)
			rec.API = &schema.API{Gateway: tt.gateway}
			if tt.auth != "" {
				rec.Auth = &schema.Auth{Type: tt.auth}
			}
			d.Finished(&rec)
			got := findingsOf(&rec, schema.FindingGatewayBypass)
			if tt.rule == "" {
				if len(got) != 0 {
					t.Fatalf("unexpected finding %+v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Evidence.Rule != tt.rule || got[0].Severity != tt.severity {
				t.Fatalf("findings %+v, want one %s of severity %s", got, tt.rule, tt.severity)
			}
		})
	}
}

func TestAnomaly(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	type phase struct {
		n        int
		errRate  float64
		latency  float64 // mean ms
		wantRule string  // a finding of this rule within the phase; "": none at all
	}
	tests := []struct {
		name   string
		phases []phase
	}{
		{"steady traffic with noise", []phase{{400, 0.01, 40, ""}}},
		{"error spike", []phase{{100, 0.01, 40, ""}, {20, 0.8, 40, "anomaly.error_rate"}, {100, 0.01, 40, ""}}},
		{"latency spike", []phase{{100, 0.01, 40, ""}, {20, 0.01, 400, "anomaly.latency"}}},
		{"a single slow request is no spike", []phase{{100, 0, 40, ""}, {1, 0, 2000, ""}, {100, 0, 40, ""}}},
		{"errors during warm-up are the baseline", []phase{{40, 0.9, 40, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(Config{})
			if err != nil {
				t.Fatal(err)
			}
			i := 0
			for pi, ph := range tt.phases {
				var rules []string
				for range ph.n {
					status := 200
					if rng.Float64() < ph.errRate {
						status = 500
					}
					lat := ph.latency * math.Exp(0.3*rng.NormFloat64())
					rec := invocation(t0.Add(time.Duration(i)*time.Second), "", "", status, lat)
					i++
					d.Finished(&rec)
					for _, f := range findingsOf(&rec, schema.FindingAnomaly) {
						rules = append(rules, f.Evidence.Rule)
						if f.Evidence.Observed == nil || f.Evidence.Baseline == nil || *f.Evidence.Observed <= *f.Evidence.Baseline {
							t.Errorf("evidence %+v: observed should exceed the baseline", f.Evidence)
						}
					}
				}
				if ph.wantRule == "" && len(rules) > 0 && !(pi > 0 && tt.phases[pi-1].wantRule != "") {
					t.Errorf("phase %d: unexpected findings %v", pi, rules)
				}
				if ph.wantRule != "" && (len(rules) == 0 || rules[0] != ph.wantRule || len(rules) > 2) {
					t.Errorf("phase %d: findings %v, want one or two %s", pi, rules, ph.wantRule)
				}
			}
		})
	}
}
