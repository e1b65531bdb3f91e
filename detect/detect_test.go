package detect

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/audittrail/audittrail/internal/lambdasim/samplefn"
	"github.com/audittrail/audittrail/schema"
)

// benchExchange is an HTTP API request with a JSON body and a JSON
// response of about size bytes each, as a busy API sees them (benign:
// the detectors read everything and find nothing, their slowest path).
func benchExchange(size int) schema.Exchange {
	item := `{"id":"7c9e6679-7425-40de-944b-e07fc1f66ae7","name":"Select Comfort bed","price":1299.5,"note":"ships in 3-5 days"},`
	items := strings.Repeat(item, max(1, size/len(item)))
	body := `{"items":[` + strings.TrimSuffix(items, ",") + `]}`
	opt := samplefn.EventOptions{SourceIP: "203.0.113.9", Body: body, Time: time.Unix(1795428000, 0),
		JWT: &samplefn.JWT{Subject: "user-7f3a", Scopes: []string{"orders:write"}}}
	resp, _ := json.Marshal(map[string]any{"statusCode": 200, "headers": map[string]string{"content-type": "application/json"}, "body": body})
	return schema.Exchange{Event: samplefn.HTTPEvent("POST", "/orders?search=o%27reilly&page=2", opt), Response: resp}
}

// BenchmarkDetectors is the time the detectors add to each invocation,
// all of them on (with an OpenAPI description), for 1 KB and 64 KB
// request and response bodies. It reports p50 and p99 per invocation.
func BenchmarkDetectors(b *testing.B) {
	spec, err := LoadSpec([]byte(`{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/orders":{"post":{"responses":{"200":{"description":"ok"}}}}}}`))
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{1 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("body=%dKB", size>>10), func(b *testing.B) {
			d, err := New(Config{Spec: spec, ExpectedSources: []string{schema.GatewayHTTP}})
			if err != nil {
				b.Fatal(err)
			}
			x := benchExchange(size)
			base := schema.InvocationRecord(schema.Environment{EnvID: "bench"}, "r", x, time.Unix(1795428000, 0))
			// What the builder hands over: the parts the normalizer decoded.
			parts := schema.Normalize(&schema.Record{}, x, schema.Redaction{})
			var took []time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				rec := base
				rec.Timestamp = base.Timestamp.Add(time.Duration(i) * time.Millisecond)
				start := time.Now()
				d.Exchange(&rec, x, parts)
				d.Finished(&rec)
				took = append(took, time.Since(start))
				if rec.Security != nil {
					b.Fatalf("benign traffic has findings: %+v", rec.Security.Findings)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds())/1e3, "p99-µs")
		})
	}
}

// TestDetectorsConfig: defaults fill in, bad settings are refused with the
// setting named, and switched-off detectors do not run.
func TestDetectorsConfig(t *testing.T) {
	for _, tt := range []struct {
		cfg Config
		err string
	}{
		{Config{}, ""},
		{Config{Off: []string{"anomaly", "undocumented_status"}}, ""},
		{Config{Off: []string{"sqli"}}, `unknown detector "sqli"`},
		{Config{Burst: BurstOptions{Threshold: 1, Window: time.Minute, MaxKeys: 10}}, "threshold 1"},
		{Config{Burst: BurstOptions{Threshold: 5, Window: 0, MaxKeys: 10}}, "window"},
		{Config{Anomaly: AnomalyOptions{Warmup: 5, Recent: 10, ErrorRate: 0.5, LatencyFactor: 3}}, "warm-up"},
	} {
		_, err := New(tt.cfg)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("New(%+v): %v, want %q", tt.cfg, err, tt.err)
		}
	}

	x := schema.Exchange{Event: samplefn.HTTPEvent("GET", "/files?path=..%2F..%2F..%2Fetc%2Fpasswd", samplefn.EventOptions{})}
	for _, off := range [][]string{nil, {schema.FindingInjectionAttempt}} {
		d, err := New(Config{Off: off})
		if err != nil {
			t.Fatal(err)
		}
		rec := schema.InvocationRecord(schema.Environment{EnvID: "e"}, "r", x, time.Unix(0, 0))
		d.Exchange(&rec, x, nil)
		if got := rec.Security != nil; got != (off == nil) {
			t.Errorf("off %v: findings %v", off, rec.Security)
		}
	}
}

// TestResponseBody: the body of an HTTP integration response, base64
// undone and bounded, or a bare result.
func TestResponseBody(t *testing.T) {
	for _, tt := range []struct {
		result string
		max    int
		want   string
	}{
		{`{"statusCode":200,"body":"hello"}`, 100, "hello"},
		{`{"statusCode":200,"body":"aGVsbG8gd29ybGQ=","isBase64Encoded":true}`, 100, "hello world"},
		{`{"statusCode":200,"body":"aGVsbG8gd29ybGQ=","isBase64Encoded":true}`, 5, "hello"},
		{`{"statusCode":204}`, 100, ""},
		{`{"statusCode":200,"body":"!!!","isBase64Encoded":true}`, 100, ""},
		{`{"orders":[1,2]}`, 100, `{"orders":[1,2]}`},
		{`"just a string"`, 4, `"jus`},
		{``, 100, ""},
	} {
		if got := string(responseBody([]byte(tt.result), tt.max)); got != tt.want {
			t.Errorf("responseBody(%s, %d) = %q, want %q", tt.result, tt.max, got, tt.want)
		}
	}
}

// TestParseRequest: the request parts of each event shape.
func TestParseRequest(t *testing.T) {
	for _, tt := range []struct {
		name, event string
		ok          bool
		want        Request
	}{
		{"HTTP API v2", `{"version":"2.0","rawPath":"/a/b","rawQueryString":"x=1&y=%27","headers":{"User-Agent":"curl"},"requestContext":{"http":{"method":"POST","path":"/a/b"}},"body":"eyJhIjoxfQ==","isBase64Encoded":true}`,
			true, Request{Method: "POST", Path: "/a/b", RawQuery: "x=1&y=%27", Headers: map[string][]string{"user-agent": {"curl"}}, Body: []byte(`{"a":1}`)}},
		{"REST v1 multi-value", `{"httpMethod":"GET","path":"/p","multiValueQueryStringParameters":{"b":["2","3"],"a":["1 1"]},"multiValueHeaders":{"X-A":["1","2"]},"headers":{"X-A":"2"},"requestContext":{"stage":"prod"}}`,
			true, Request{Method: "GET", Path: "/p", RawQuery: "a=1+1&b=2&b=3", Headers: map[string][]string{"x-a": {"1", "2"}}}},
		{"ALB: parameters as the client encoded them", `{"httpMethod":"GET","path":"/p","queryStringParameters":{"q":"a%2527b"},"headers":{},"requestContext":{"elb":{"targetGroupArn":"arn"}}}`,
			true, Request{Method: "GET", Path: "/p", RawQuery: "q=a%2527b", Headers: map[string][]string{}}},
		{"HTTP API cookies are read", `{"version":"2.0","rawPath":"/","rawQueryString":"","cookies":["a=1","b=2"],"headers":{},"requestContext":{"http":{"method":"GET","path":"/"}}}`,
			true, Request{Method: "GET", Path: "/", Headers: map[string][]string{"cookie": {"a=1; b=2"}}}},
		{"not HTTP", `{"Records":[{"eventSource":"aws:sqs"}]}`, false, Request{}},
		{"not JSON", `{"httpMethod":`, false, Request{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseRequest([]byte(tt.event), 1<<10)
			if ok != tt.ok {
				t.Fatalf("ok %v, want %v", ok, tt.ok)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tt.want)
			if string(g) != string(w) {
				t.Errorf("got  %s\nwant %s", g, w)
			}
		})
	}
}

// FuzzDetectors: any event and response, through the normalizer and every
// detector, as the extension runs them: no panic, and findings are
// well-formed.
func FuzzDetectors(f *testing.F) {
	f.Add(string(samplefn.HTTPEvent("GET", "/users/1?q=%27%20or%201%3D1--", samplefn.EventOptions{})), `{"statusCode":401,"body":"{}"}`)
	f.Add(`{"httpMethod":"POST","path":"/x","body":"PHNjcmlwdD4=","isBase64Encoded":true,"requestContext":{"elb":{}}}`, `{"statusCode":200,"body":"4111111111111111","isBase64Encoded":true}`)
	f.Add(`{"Records":[]}`, `null`)
	spec, err := LoadSpec([]byte(`{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/users/{id}":{"get":{"responses":{"200":{"description":"ok"}}}}}}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, event, response string) {
		d, err := New(Config{Spec: spec, ExpectedSources: []string{schema.GatewayHTTP}, Burst: BurstOptions{Threshold: 2, Window: time.Minute, MaxKeys: 4}})
		if err != nil {
			t.Fatal(err)
		}
		x := schema.Exchange{Event: []byte(event), Response: []byte(response)}
		for i := range 3 {
			rec := schema.InvocationRecord(schema.Environment{EnvID: "fuzz"}, fmt.Sprint(i), x, time.Unix(int64(i), 0))
			parts := schema.Normalize(&rec, x, schema.Redaction{})
			d.Exchange(&rec, x, parts)
			d.Finished(&rec)
			if rec.Security == nil {
				continue
			}
			for _, f := range rec.Security.Findings {
				if f.Type == "" || f.Severity == "" || f.Reason == "" {
					t.Errorf("ill-formed finding %+v", f)
				}
			}
		}
	})
}
