package extension_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/audittrail/audittrail/internal/lambdasim"
	"github.com/audittrail/audittrail/internal/lambdasim/samplefn"
	"github.com/audittrail/audittrail/internal/secrets/secretstest"
	"github.com/audittrail/audittrail/schema"
)

// withWrapper runs the function through the layer's exec wrapper, as a
// managed runtime (Node.js, Python, ...) honours AWS_LAMBDA_EXEC_WRAPPER.
func withWrapper(c *lambdasim.Config) {
	c.OSOnlyRuntime = false
	c.Env["AWS_LAMBDA_EXEC_WRAPPER"] = filepath.Join(c.OptDir, "audittrail-wrapper")
}

func TestProxyCapturesWhoCalledWhat(t *testing.T) {
	l := newLambda(t, true, withWrapper)
	reader := samplefn.EventOptions{SourceIP: "198.51.100.7", UserAgent: "curl/8.5.0", Headers: map[string]string{"X-Forwarded-For": "10.0.0.1, 198.51.100.7"},
		JWT: &samplefn.JWT{Subject: "user-7f3a", Scopes: []string{"users:read"}}}
	calls := []struct {
		method, path string
		opt          samplefn.EventOptions
		status       int
		outcome      string
	}{
		{"GET", "/users/42?token=s3cr3t&page=2", reader, 200, schema.OutcomeSuccess},
		{"DELETE", "/users/42", samplefn.EventOptions{SourceIP: "192.0.2.66"}, 401, schema.OutcomeFailure},
		{"DELETE", "/users/42", reader, 403, schema.OutcomeFailure},
		{"GET", "/error", reader, 500, schema.OutcomeFailure},
	}
	var results []*lambdasim.Result
	for _, c := range calls {
		res, err := l.sim.Invoke(t.Context(), samplefn.HTTPEvent(c.method, c.path, c.opt))
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res)
	}
	l.shutdown(t)
	recs := l.records(t)
	for i, c := range calls {
		r := invocation(t, recs, results[i].RequestID)
		if r.Audit.Capture != schema.CaptureProxy || r.API == nil || r.API.Gateway != schema.GatewayHTTP {
			t.Fatalf("%s %s: capture %q api %+v", c.method, c.path, r.Audit.Capture, r.API)
		}
		if r.HTTP.Request.Method != c.method || r.HTTP.Route != "/users/{id}" && c.path != "/error" || r.Event.Outcome != c.outcome {
			t.Errorf("%s %s: method %q route %q outcome %q", c.method, c.path, r.HTTP.Request.Method, r.HTTP.Route, r.Event.Outcome)
		}
		if r.HTTP.Response == nil || r.HTTP.Response.StatusCode != c.status {
			t.Errorf("%s %s: response %+v, want status %d", c.method, c.path, r.HTTP.Response, c.status)
		}
		if r.Client == nil || r.Client.Address != c.opt.SourceIP {
			t.Errorf("%s %s: client %+v, want %s", c.method, c.path, r.Client, c.opt.SourceIP)
		}
	}
	first := invocation(t, recs, results[0].RequestID)
	if first.User == nil || first.User.ID != "user-7f3a" || first.Auth.Type != "jwt" {
		t.Errorf("principal: user %+v auth %+v", first.User, first.Auth)
	}
	if first.URL.Query != "token=[REDACTED]&page=2" {
		t.Errorf("query = %q, secret not redacted", first.URL.Query)
	}
	if xff := first.HTTP.Request.Header["x-forwarded-for"]; len(xff) != 1 || xff[0] != "10.0.0.1, 198.51.100.7" {
		t.Errorf("x-forwarded-for = %v", xff)
	}
	if r := invocation(t, recs, results[1].RequestID); r.Auth.Type != "none" || r.User != nil {
		t.Errorf("anonymous call: auth %+v user %+v", r.Auth, r.User)
	}
	if e := invocation(t, recs, results[3].RequestID).Error; e == nil || e.Type != "OrderNotFound" || e.Message != "order 42 not found" {
		t.Errorf("handled error = %+v", e)
	}
	if results[3].ErrorType != "OrderNotFound" {
		t.Errorf("the caller got error type %q through the proxy", results[3].ErrorType)
	}
}

// sameAnswer invokes both functions with event and fails the test unless
// the caller gets the same bytes and error from each; it returns the
// second one's result.
func sameAnswer(t *testing.T, direct, other *lambda, event []byte) *lambdasim.Result {
	t.Helper()
	a, err := direct.sim.Invoke(t.Context(), event)
	if err != nil {
		t.Fatal(err)
	}
	b, err := other.sim.Invoke(t.Context(), event)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Payload, b.Payload) || a.ErrorType != b.ErrorType {
		t.Errorf("with the extension %q (%q), without %q (%q)", b.Payload, b.ErrorType, a.Payload, a.ErrorType)
	}
	return b
}

// TestProxyIsTransparent: the caller gets byte for byte what it gets
// without the extension.
func TestProxyIsTransparent(t *testing.T) {
	sameAnswer(t, newLambda(t, false, nil), newLambda(t, true, withWrapper), samplefn.HTTPEvent("GET", "/users/42", samplefn.EventOptions{}))
}

// TestProxyLargePayload: a 5 MiB response passes byte for byte while the
// proxy inspects only its first AUDITTRAIL_CAPTURE_BYTES.
func TestProxyLargePayload(t *testing.T) {
	l := newLambda(t, true, func(c *lambdasim.Config) {
		withWrapper(c)
		c.Env["AUDITTRAIL_CAPTURE_BYTES"] = "65536"
	})
	res, err := l.sim.Invoke(t.Context(), samplefn.HTTPEvent("GET", "/big?kb=5120", samplefn.EventOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal(res.Payload, &resp); err != nil || resp.StatusCode != 200 || len(resp.Body) != 5<<20 {
		t.Fatalf("caller got %d bytes, status %d, err %v", len(res.Payload), resp.StatusCode, err)
	}
	l.shutdown(t)
	r := invocation(t, l.records(t), res.RequestID)
	if r.Audit.Capture != schema.CaptureProxy || r.HTTP.Route != "/big" {
		t.Errorf("record: capture %q http %+v", r.Audit.Capture, r.HTTP)
	}
}

// TestProxyChainsToUpstream: with AUDITTRAIL_RUNTIME_API_UPSTREAM set, the
// proxy forwards to that proxy (another vendor's), not to Lambda.
func TestProxyChainsToUpstream(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	var next http.Handler // set once the simulator exists, before any call
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method+" "+path.Base(r.URL.Path)]++
		h := next
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	defer upstream.Close()
	l := newLambda(t, true, func(c *lambdasim.Config) {
		withWrapper(c)
		c.Env["AUDITTRAIL_RUNTIME_API_UPSTREAM"] = strings.TrimPrefix(upstream.URL, "http://")
	})
	target, _ := url.Parse("http://" + l.sim.RuntimeAPI())
	mu.Lock()
	next = httputil.NewSingleHostReverseProxy(target)
	mu.Unlock()
	res := l.invoke(t, "GET", "/users/9")
	if res.ErrorType != "" {
		t.Fatalf("invoke through the chain failed: %s", res.ErrorType)
	}
	l.shutdown(t)
	mu.Lock()
	defer mu.Unlock()
	if seen["GET next"] == 0 || seen["POST response"] != 1 {
		t.Errorf("upstream proxy saw %v, want the runtime's next and response calls", seen)
	}
	if r := invocation(t, l.records(t), res.RequestID); r.HTTP == nil || r.HTTP.Route != "/users/{id}" {
		t.Errorf("record through the chain: %+v", r.HTTP)
	}
}

// TestProxyPairsConcurrentInvocations: on Managed Instances invocations
// overlap; each record must describe its own request.
func TestProxyPairsConcurrentInvocations(t *testing.T) {
	l := newLambda(t, true, func(c *lambdasim.Config) {
		withWrapper(c)
		c.ManagedInstances = true
		c.MaxConcurrency = 4
	})
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ev := samplefn.HTTPEvent("GET", fmt.Sprintf("/slow?ms=%d", 50+10*i), samplefn.EventOptions{SourceIP: fmt.Sprintf("192.0.2.%d", i+1)})
			res, err := l.sim.Invoke(t.Context(), ev)
			if err != nil || res.ErrorType != "" {
				t.Errorf("invoke %d: %v %+v", i, err, res)
				return
			}
			ids[i] = res.RequestID
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	l.shutdown(t)
	recs := l.records(t)
	for i, id := range ids {
		r := invocation(t, recs, id)
		if r.Client == nil || r.Client.Address != fmt.Sprintf("192.0.2.%d", i+1) || r.URL == nil || r.URL.Query != fmt.Sprintf("ms=%d", 50+10*i) {
			t.Errorf("request %d paired with the wrong event: client %+v url %+v", i, r.Client, r.URL)
		}
	}
}

// TestProxyStreamsResponses: streamed responses (chunked, with the HTTP
// integration prelude and trailers) pass through unchanged, and the record
// takes its status from the prelude and the error from the trailers.
func TestProxyStreamsResponses(t *testing.T) {
	direct := newLambda(t, false, nil)
	proxied := newLambda(t, true, withWrapper)
	for _, path := range []string{"/stream", "/stream-error"} {
		if b := sameAnswer(t, direct, proxied, samplefn.HTTPEvent("GET", path, samplefn.EventOptions{})); !bytes.Contains(b.Payload, []byte("chunk 4")) {
			t.Fatalf("%s: the stream did not arrive whole: %q", path, b.Payload)
		}
	}
	if res := proxied.invoke(t, "GET", "/stream-error"); res.ErrorType != "Stream.Broken" {
		t.Fatalf("mid-stream error type = %q", res.ErrorType)
	}
	ok := proxied.invoke(t, "GET", "/stream")
	proxied.shutdown(t)
	recs := proxied.records(t)
	r := invocation(t, recs, ok.RequestID)
	if r.HTTP == nil || r.HTTP.Response == nil || r.HTTP.Response.StatusCode != 200 || r.Event.Outcome != schema.OutcomeSuccess {
		t.Errorf("streamed response record: %+v outcome %s", r.HTTP, r.Event.Outcome)
	}
	var broken int
	for _, rec := range recs {
		if rec.Error != nil && rec.Error.Type == "Stream.Broken" {
			broken++
		}
	}
	if broken != 2 {
		t.Errorf("%d records carry the mid-stream error, want 2", broken)
	}
}

// TestFunctionUnharmedWhenTheTrailFails: with the only sink failing, the
// function answers exactly as without the extension, and the records land
// on stdout (CloudWatch Logs) as marked lines instead of nowhere.
func TestFunctionUnharmedWhenTheTrailFails(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	direct := newLambda(t, false, nil)
	broken := newLambda(t, true, func(c *lambdasim.Config) {
		withWrapper(c)
		c.Env["AUDITTRAIL_FILE_DIR"] = filepath.Join(notADir, "trail") // cannot be created
	})
	var ids []string
	for _, p := range []string{"/users/1", "/error", "/admin"} {
		ids = append(ids, sameAnswer(t, direct, broken, samplefn.HTTPEvent("GET", p, samplefn.EventOptions{})).RequestID)
	}
	broken.shutdown(t)
	logs := broken.logs.String()
	for _, id := range ids {
		if !strings.Contains(logs, `"audittrail.undelivered"`) || !strings.Contains(logs, `"invocation_id":"`+id+`"`) {
			t.Errorf("record of %s not on stdout", id)
		}
	}
}

// TestProxyForwardsInitError: a runtime's init/error passes through the
// proxy as it does without it.
func TestProxyForwardsInitError(t *testing.T) {
	failInit := func(c *lambdasim.Config) { c.Env["SAMPLEFN_FAIL_INIT"] = "1" }
	direct := newLambda(t, false, failInit)
	proxied := newLambda(t, true, func(c *lambdasim.Config) { withWrapper(c); failInit(c) })
	a := direct.invoke(t, "GET", "/health")
	b := proxied.invoke(t, "GET", "/health")
	if a.ErrorType != "Runtime.ConfigError" || b.ErrorType != a.ErrorType {
		t.Errorf("init error through the proxy %q, directly %q", b.ErrorType, a.ErrorType)
	}
}

// TestPseudonyms: with a key from the environment or from Secrets Manager
// (a stand-in, see secretstest), identities become keyed pseudonyms; when
// the key cannot be had, they are redacted, never recorded in clear.
func TestPseudonyms(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:audittrail/pseudonym-AbCdEf"
	const smKey, envKey = "key-material-from-secrets-manager", "a-test-key-of-32-bytes-000000000"
	sm := secretstest.New(t, map[string]string{arn: smKey})
	pseudonym := func(key, v string) string {
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write([]byte(v))
		return "hmac-sha256:" + hex.EncodeToString(mac.Sum(nil))
	}
	tests := []struct {
		name   string
		env    map[string]string
		userID string
	}{
		{"key from the environment", map[string]string{"AUDITTRAIL_PSEUDONYMIZE_KEY": envKey}, pseudonym(envKey, "alice")},
		{"key from Secrets Manager", map[string]string{"AUDITTRAIL_PSEUDONYMIZE_KEY_SECRET_ARN": arn}, pseudonym(smKey, "alice")},
		{"secret not found", map[string]string{"AUDITTRAIL_PSEUDONYMIZE_KEY_SECRET_ARN": arn + "-missing"}, schema.Redacted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLambda(t, true, func(c *lambdasim.Config) {
				withWrapper(c)
				maps.Copy(c.Env, sm.Env())
				maps.Copy(c.Env, tt.env)
			})
			opt := samplefn.EventOptions{SourceIP: "198.51.100.99", JWT: &samplefn.JWT{Subject: "alice"}}
			res, err := l.sim.Invoke(t.Context(), samplefn.HTTPEvent("GET", "/users/1", opt))
			if err != nil {
				t.Fatal(err)
			}
			l.shutdown(t)
			r := invocation(t, l.records(t), res.RequestID)
			if r.User == nil || r.User.ID != tt.userID || r.Client == nil || strings.Contains(r.Client.Address, "198.51.100.99") {
				t.Errorf("user %+v client %+v, want user.id %s", r.User, r.Client, tt.userID)
			}
		})
	}
}
