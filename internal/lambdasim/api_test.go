package lambdasim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// conformance sets up a simulator whose environment is in the init phase
// with processes named as given, without starting anything: the API's
// answers are checked on their own.
func conformance(t *testing.T, procNames ...string) (*Sim, *environment) {
	t.Helper()
	s, err := New(Config{Runtime: []string{"/bin/false"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.mu.Lock()
		s.env = nil // its processes are stand-ins, never started
		s.mu.Unlock()
		_ = s.Close()
	})
	env := &environment{phase: phaseInit, tel: newTelemetry(), byID: map[string]*ext{}, invs: map[string]*invocation{}}
	for _, n := range procNames {
		env.procs = append(env.procs, &proc{name: n, origin: "extension", exited: make(chan struct{})})
	}
	s.env = env
	return s, env
}

type answer struct {
	status    int
	errorType string
	header    http.Header
	body      string
}

func do(t *testing.T, s *Sim, method, path string, hdr map[string]string, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+s.RuntimeAPI()+path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		ErrorType string `json:"errorType"`
	}
	_ = json.Unmarshal(b, &e)
	return answer{resp.StatusCode, e.ErrorType, resp.Header, string(b)}
}

func TestExtensionsAPIConformance(t *testing.T) {
	s, env := conformance(t, "ext-a", "ext-b")
	const reg = "/2020-01-01/extension/register"
	name := func(n string) map[string]string { return map[string]string{"Lambda-Extension-Name": n} }

	ok := do(t, s, "POST", reg, map[string]string{"Lambda-Extension-Name": "ext-a", "Lambda-Extension-Accept-Feature": "accountId"}, `{"events":["INVOKE","SHUTDOWN"]}`)
	id := ok.header.Get("Lambda-Extension-Identifier")
	if ok.status != 200 || id == "" || !strings.Contains(ok.body, `"functionName":"audittrail-sample"`) || !strings.Contains(ok.body, `"accountId":"123456789012"`) {
		t.Fatalf("register = %+v", ok)
	}
	if noFeature := do(t, s, "POST", reg, name("ext-b"), `{"events":["SHUTDOWN"]}`); noFeature.status != 200 || strings.Contains(noFeature.body, "accountId") {
		t.Errorf("register without the accountId feature = %+v", noFeature)
	}
	tests := []struct {
		name, method, path string
		hdr                map[string]string
		body               string
		status             int
		errorType          string
	}{
		{"register without name", "POST", reg, nil, `{"events":["INVOKE"]}`, 403, "Extension.InvalidExtensionName"},
		{"register bad event", "POST", reg, name("ext-c"), `{"events":["INVOKE","RESTART"]}`, 403, "Extension.InvalidEventType"},
		{"register bad body", "POST", reg, name("ext-c"), `{"events":`, 403, "InvalidRequestFormat"},
		{"register twice", "POST", reg, name("ext-a"), `{"events":["INVOKE"]}`, 403, "Extension.InvalidExtensionState"},
		{"register unknown file", "POST", reg, name("nobody"), `{"events":["INVOKE"]}`, 403, "Extension.InvalidExtensionName"},
		{"next without identifier", "GET", "/2020-01-01/extension/event/next", nil, "", 403, "Extension.MissingExtensionIdentifier"},
		{"next with unknown identifier", "GET", "/2020-01-01/extension/event/next", map[string]string{"Lambda-Extension-Identifier": "0d8a2b6e-0000-4000-8000-000000000000"}, "", 403, "Extension.UnknownExtensionIdentifier"},
		{"init error without type", "POST", "/2020-01-01/extension/init/error", map[string]string{"Lambda-Extension-Identifier": id}, "", 400, "Extension.MissingHeader"},
		{"exit error without identifier", "POST", "/2020-01-01/extension/exit/error", nil, "", 403, "Extension.MissingExtensionIdentifier"},
		{"telemetry without identifier", "PUT", "/2022-07-01/telemetry", nil, "{}", 403, "Extension.MissingExtensionIdentifier"},
		{"telemetry not JSON", "PUT", "/2022-07-01/telemetry", map[string]string{"Lambda-Extension-Identifier": id}, "{", 400, "ValidationError"},
		{"telemetry invalid", "PUT", "/2022-07-01/telemetry", map[string]string{"Lambda-Extension-Identifier": id}, `{"schemaVersion":"2021-01-01","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:1234"}}`, 400, "ValidationError"},
		{"runtime response, unknown id", "POST", "/2018-06-01/runtime/invocation/nope/response", nil, "{}", 400, "InvalidRequestID"},
		{"runtime error, unknown id", "POST", "/2018-06-01/runtime/invocation/nope/error", nil, "{}", 400, "InvalidRequestID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, s, tt.method, tt.path, tt.hdr, tt.body)
			if got.status != tt.status || got.errorType != tt.errorType {
				t.Errorf("%s %s = %d %q (%s), want %d %q", tt.method, tt.path, got.status, got.errorType, got.body, tt.status, tt.errorType)
			}
		})
	}
	if got := do(t, s, "POST", "/2020-01-01/extension/init/error", map[string]string{"Lambda-Extension-Identifier": id, "Lambda-Extension-Function-Error-Type": "Extension.ConfigInvalid"}, ""); got.status != 202 || env.initError != "Extension.InitError" {
		t.Errorf("init/error = %+v, env.initError %q", got, env.initError)
	}
	s.mu.Lock()
	env.phase = phaseReady
	s.mu.Unlock()
	if got := do(t, s, "POST", reg, name("ext-b"), `{"events":["INVOKE"]}`); got.status != 403 || got.errorType != "Extension.RegistrationClosed" {
		t.Errorf("register after init = %+v", got)
	}
	if got := do(t, s, "POST", "/2018-06-01/runtime/init/error", nil, "{}"); got.status != 403 {
		t.Errorf("runtime init/error after init = %+v", got)
	}
}

func TestTooManyExtensions(t *testing.T) {
	var names []string
	for i := range MaxExtensions + 1 {
		names = append(names, fmt.Sprintf("ext-%02d", i))
	}
	s, _ := conformance(t, names...)
	for i, n := range names {
		got := do(t, s, "POST", "/2020-01-01/extension/register", map[string]string{"Lambda-Extension-Name": n}, `{"events":["SHUTDOWN"]}`)
		want := 200
		if i == MaxExtensions {
			want = 403
		}
		if got.status != want {
			t.Errorf("registration %d = %d %s, want %d", i+1, got.status, got.body, want)
		}
	}
}

func TestRuntimeResponseStates(t *testing.T) {
	s, env := conformance(t)
	env.invs["r1"] = &invocation{id: "r1", delivered: true}
	env.invs["r2"] = &invocation{id: "r2"} // queued, not handed to the runtime yet
	path := "/2018-06-01/runtime/invocation/%s/response"
	if got := do(t, s, "POST", fmt.Sprintf(path, "r2"), nil, "{}"); got.status != 400 || got.errorType != "InvalidRequestID" {
		t.Errorf("response before delivery = %+v", got)
	}
	if got := do(t, s, "POST", fmt.Sprintf(path, "r1"), nil, `{"ok":true}`); got.status != 202 || string(env.invs["r1"].response) != `{"ok":true}` {
		t.Errorf("response = %+v", got)
	}
	if got := do(t, s, "POST", fmt.Sprintf(path, "r1"), nil, "{}"); got.status != 403 || got.errorType != "InvalidStateTransition" {
		t.Errorf("second response = %+v", got)
	}
	env.invs["r3"] = &invocation{id: "r3", delivered: true}
	got := do(t, s, "POST", "/2018-06-01/runtime/invocation/r3/error", map[string]string{"Lambda-Runtime-Function-Error-Type": "Custom.Error"}, `{"errorMessage":"x"}`)
	if got.status != 202 || env.invs["r3"].errorType != "Custom.Error" {
		t.Errorf("error = %+v, type %q", got, env.invs["r3"].errorType)
	}
	if big := do(t, s, "POST", fmt.Sprintf(path, "r3"), nil, strings.Repeat("x", maxPayload+1)); big.status != 413 {
		t.Errorf("oversized response = %d", big.status)
	}
}

func TestSubscriptionValidation(t *testing.T) {
	valid := func() subscription {
		var s subscription
		_ = json.Unmarshal([]byte(`{"schemaVersion":"2025-01-29","types":["platform","function"],
			"buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":25},
			"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:4243/telemetry"}}`), &s)
		return s
	}
	intp := func(v int) *int { return &v }
	tests := []struct {
		name    string
		mutate  func(*subscription)
		lmi     bool
		wantErr string
	}{
		{"valid", func(*subscription) {}, false, ""},
		{"defaults applied", func(s *subscription) {
			s.Buffering.MaxItems, s.Buffering.MaxBytes, s.Buffering.TimeoutMs = nil, nil, nil
		}, false, ""},
		{"host sandbox", func(s *subscription) { s.Destination.URI = "http://sandbox:80/" }, false, ""},
		{"old schema", func(s *subscription) { s.SchemaVersion = "2022-07-01" }, false, ""},
		{"unknown schema", func(s *subscription) { s.SchemaVersion = "2024-01-01" }, false, "schemaVersion"},
		{"lmi needs 2025-01-29", func(s *subscription) { s.SchemaVersion = "2022-12-13" }, true, "Managed Instances"},
		{"no types", func(s *subscription) { s.Types = nil }, false, "types"},
		{"bad type", func(s *subscription) { s.Types = []string{"metrics"} }, false, "types"},
		{"maxItems low", func(s *subscription) { s.Buffering.MaxItems = intp(999) }, false, "buffering.maxItems"},
		{"maxItems high", func(s *subscription) { s.Buffering.MaxItems = intp(10001) }, false, "buffering.maxItems"},
		{"maxBytes low", func(s *subscription) { s.Buffering.MaxBytes = intp(262143) }, false, "buffering.maxBytes"},
		{"maxBytes high", func(s *subscription) { s.Buffering.MaxBytes = intp(1048577) }, false, "buffering.maxBytes"},
		{"timeout low", func(s *subscription) { s.Buffering.TimeoutMs = intp(24) }, false, "buffering.timeoutMs"},
		{"timeout high", func(s *subscription) { s.Buffering.TimeoutMs = intp(30001) }, false, "buffering.timeoutMs"},
		{"tcp", func(s *subscription) { s.Destination.Protocol = "TCP" }, false, "protocol"},
		{"https", func(s *subscription) { s.Destination.URI = "https://sandbox.localdomain:443/" }, false, "destination.URI"},
		{"other host", func(s *subscription) { s.Destination.URI = "http://example.com:80/" }, false, "sandbox.localdomain"},
		{"no port", func(s *subscription) { s.Destination.URI = "http://sandbox.localdomain/x" }, false, "destination.URI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid()
			tt.mutate(&s)
			addr, _, err := s.validate(tt.lmi)
			if tt.wantErr == "" {
				if err != nil || !strings.HasPrefix(addr, "127.0.0.1:") {
					t.Fatalf("validate = %q, %v", addr, err)
				}
				if *s.Buffering.MaxItems < minMaxItems || *s.Buffering.TimeoutMs < minTimeoutMs {
					t.Errorf("buffering not defaulted: %+v", s.Buffering)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}
