package schema

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// eventCase is one file of testdata/events: a Lambda event, the function's
// response (or error body) and the error type posted, if any.
type eventCase struct {
	Event     json.RawMessage `json:"event"`
	Response  json.RawMessage `json:"response"`
	ErrorType string          `json:"error_type"`
}

func (c eventCase) exchange() Exchange {
	x := Exchange{Event: c.Event, EventSize: int64(len(c.Event)), ErrorType: c.ErrorType}
	if len(c.Response) > 0 && string(c.Response) != "null" {
		x.Response, x.ResponseSize = c.Response, int64(len(c.Response))
	}
	return x
}

func loadEventCases(t testing.TB) map[string]eventCase {
	t.Helper()
	paths, _ := filepath.Glob("testdata/events/*.json")
	if len(paths) == 0 {
		t.Fatal("no event cases")
	}
	cases := map[string]eventCase{}
	for _, p := range paths {
		if strings.HasSuffix(p, ".golden.json") {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var c eventCase
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		cases[strings.TrimSuffix(filepath.Base(p), ".json")] = c
	}
	return cases
}

// normalized returns the request facts Normalize adds, indented.
func normalized(x Exchange) []byte {
	var r Record
	r.Event.Outcome = OutcomeUnknown
	Normalize(&r, x, Redaction{})
	r.Event.Outcome = finalOutcome(&r)
	out, _ := json.MarshalIndent(struct {
		Capture   string     `json:"audit.capture"`
		Outcome   string     `json:"event.outcome"`
		Trigger   string     `json:"faas.trigger,omitempty"`
		API       *API       `json:"api,omitempty"`
		HTTP      *HTTP      `json:"http,omitempty"`
		URL       *URL       `json:"url,omitempty"`
		Server    *Endpoint  `json:"server,omitempty"`
		Client    *Endpoint  `json:"client,omitempty"`
		UserAgent *UserAgent `json:"user_agent,omitempty"`
		User      *User      `json:"user,omitempty"`
		Auth      *Auth      `json:"auth,omitempty"`
		Error     *Error     `json:"error,omitempty"`
	}{r.Audit.Capture, r.Event.Outcome, r.FaaS.Trigger, r.API, r.HTTP, r.URL, r.Server, r.Client, r.UserAgent, r.User, r.Auth, r.Error}, "", " ")
	return append(out, '\n')
}

func TestNormalizeGolden(t *testing.T) {
	for name, c := range loadEventCases(t) {
		t.Run(name, func(t *testing.T) {
			got := normalized(c.exchange())
			golden := filepath.Join("testdata/events", name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./schema -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("differs from %s:\n%s", golden, got)
			}
		})
	}
}

// TestNoSecretInRecords plants secrets in every redactable place of the
// events (Authorization, Cookie, Set-Cookie, X-Api-Key, raw JWTs, API key
// values, client certificate PEMs, secret-looking query parameters,
// signatures): none may reach a record, in any case.
func TestNoSecretInRecords(t *testing.T) {
	secret := regexp.MustCompile(`SECRET|eyJhbGci|BEGIN CERTIFICATE|U0VDUkVU`)
	planted := 0
	for name, c := range loadEventCases(t) {
		if !secret.Match(c.Event) && !secret.Match(c.Response) {
			continue
		}
		planted++
		r := InvocationRecord(Environment{EnvID: "e"}, "r1", c.exchange(), time.Unix(0, 0))
		for format, v := range map[string]any{"native": r, "ocsf": OCSF(&r, "test"), "flat": Flatten(&r)} {
			out, _ := json.Marshal(v)
			if m := secret.Find(out); m != nil {
				t.Errorf("%s (%s): secret %q in the record: %s", name, format, m, out)
			}
		}
	}
	if planted < 10 {
		t.Errorf("only %d cases carry planted secrets", planted)
	}
}

func TestRedactQuery(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"page=2", "page=2"},
		{"token=abc&page=2", "token=[REDACTED]&page=2"},
		{"Access_Token=abc", "Access_Token=[REDACTED]"},
		{"x=1&api%5Fkey=abc", "x=1&api%5Fkey=[REDACTED]"},
		{"flag&password=", "flag&password=[REDACTED]"},
		{"code=oauth-code&state=xyz", "code=[REDACTED]&state=xyz"},
	}
	for _, tt := range tests {
		if got := (Redaction{}).redactQuery(tt.in); got != tt.want {
			t.Errorf("redactQuery(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzNormalize: any event and response give a record that encodes, with a
// gateway, and never a panic.
func FuzzNormalize(f *testing.F) {
	for _, c := range loadEventCases(f) {
		f.Add([]byte(c.Event), []byte(c.Response), c.ErrorType)
	}
	f.Fuzz(func(t *testing.T, event, response []byte, errorType string) {
		var r Record
		Normalize(&r, Exchange{Event: event, Response: response, ErrorType: errorType}, Redaction{})
		if r.API == nil || r.API.Gateway == "" || r.Audit.Capture != CaptureProxy {
			t.Fatalf("no gateway for %q", event)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOCSFRequiredFields checks, for every event case, the attributes OCSF
// 1.1 requires of an API Activity event.
func TestOCSFRequiredFields(t *testing.T) {
	for name, c := range loadEventCases(t) {
		r := InvocationRecord(Environment{EnvID: "e", FunctionName: "fn", Region: "us-east-1", AccountID: "123456789012"}, "r1", c.exchange(), time.Unix(1795428000, 0))
		ev := OCSF(&r, "test")
		for _, k := range []string{"class_uid", "category_uid", "activity_id", "type_uid", "severity_id", "time", "metadata", "actor", "api", "src_endpoint", "cloud"} {
			if _, ok := ev[k]; !ok {
				t.Errorf("%s: OCSF event lacks %s", name, k)
			}
		}
		if ev["class_uid"] != 6003 || ev["type_uid"] != 600300+ev["activity_id"].(int) {
			t.Errorf("%s: class %v type %v activity %v", name, ev["class_uid"], ev["type_uid"], ev["activity_id"])
		}
		md := ev["metadata"].(map[string]any)
		if md["version"] != OCSFVersion || md["product"].(map[string]any)["vendor_name"] == "" {
			t.Errorf("%s: metadata %v", name, md)
		}
		if len(ev["actor"].(map[string]any)) == 0 || len(ev["src_endpoint"].(map[string]any)) == 0 || ev["api"].(map[string]any)["operation"] == "" {
			t.Errorf("%s: actor %v src %v api %v", name, ev["actor"], ev["src_endpoint"], ev["api"])
		}
		out, _ := json.Marshal(ev)
		if regexp.MustCompile(`SECRET|eyJhbGci|BEGIN CERTIFICATE`).Match(out) {
			t.Errorf("%s: secret in the OCSF event: %s", name, out)
		}
	}
}

// BenchmarkNormalizeEncode: records per second made from an HTTP API event
// and its response, normalized and encoded to JSON.
func BenchmarkNormalizeEncode(b *testing.B) {
	c := loadEventCases(b)["http_jwt"]
	x := c.exchange()
	env := Environment{EnvID: "e", FunctionName: "fn", Region: "us-east-1", AccountID: "123456789012", MemoryMB: 128}
	at := time.Unix(1795428000, 0)
	const perLoop = 2000 // enough to measure even with -benchtime 1x
	for b.Loop() {
		for range perLoop {
			r := InvocationRecord(env, "r1", x, at)
			if _, err := json.Marshal(&r); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*perLoop)/b.Elapsed().Seconds(), "records/s")
}

func TestSplitStreamingPrelude(t *testing.T) {
	tests := []struct {
		in, prelude string
		size        int64
	}{
		{`{"statusCode":201}` + streamingSeparator + "hello", `{"statusCode":201}`, 5},
		{`{"statusCode":201}` + streamingSeparator, `{"statusCode":201}`, 0},
		{"no prelude", "no prelude", 10},
	}
	for _, tt := range tests {
		p, n := SplitStreamingPrelude([]byte(tt.in), int64(len(tt.in)))
		if string(p) != tt.prelude || n != tt.size {
			t.Errorf("SplitStreamingPrelude(%q) = %q, %d", tt.in, p, n)
		}
	}
}

func TestFlatten(t *testing.T) {
	c := loadEventCases(t)["http_jwt"]
	r := InvocationRecord(Environment{EnvID: "e", FunctionName: "fn", Region: "us-east-1", AccountID: "123456789012"}, "r1", c.exchange(), time.Unix(1795428000, 0))
	flat := Flatten(&r)
	want := map[string]any{
		"http.request.method":       "GET",
		"http.route":                "/users/{id}",
		"http.response.status_code": float64(200),
		"user.id":                   "auth0|5f1c",
		"client.address":            "2001:db8::7",
		"cloud.account.id":          "123456789012",
		"audit.schema_version":      "1",
	}
	for k, v := range want {
		if got := flat[k]; got != v {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
	if scopes, ok := flat["auth.scopes"].([]any); !ok || len(scopes) != 2 {
		t.Errorf("auth.scopes = %#v, want an array", flat["auth.scopes"])
	}
	paths := map[string]bool{}
	for _, p := range fieldPaths(reflect.TypeFor[Record](), "") {
		paths[p] = true
	}
	for k := range flat {
		if !paths[k] && !strings.HasPrefix(k, "http.request.header.") {
			t.Errorf("flat attribute %s is not a documented field", k)
		}
	}
}
