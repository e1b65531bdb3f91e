package otlp

import (
	"maps"
	"strings"
	"testing"
)

func TestLogsURL(t *testing.T) {
	for _, tt := range []struct{ base, want string }{
		{"http://localhost:4318", "http://localhost:4318/v1/logs"},
		{"http://localhost:4318/", "http://localhost:4318/v1/logs"},
		{"https://otlp.example.com/otlp", "https://otlp.example.com/otlp/v1/logs"},
		{"https://otlp.example.com/otlp/", "https://otlp.example.com/otlp/v1/logs"},
		{"http://127.0.0.1:9428/insert/opentelemetry", "http://127.0.0.1:9428/insert/opentelemetry/v1/logs"},
		{"https://gw.example/a%2Fb", "https://gw.example/a%2Fb/v1/logs"},
		{"https://gw.example/x?tenant=1", "https://gw.example/x/v1/logs?tenant=1"},
		{"http://user:pw@[::1]:4318", "http://user:pw@[::1]:4318/v1/logs"},
	} {
		got, err := LogsURL(tt.base)
		if err != nil || got != tt.want {
			t.Errorf("LogsURL(%q) = %q, %v; want %q", tt.base, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "localhost:4318", "ftp://h/", "http://", "http://[::1", "/v1/logs", "http://user:hunter2@%zz"} {
		_, err := LogsURL(bad)
		if err == nil {
			t.Errorf("LogsURL(%q) accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("LogsURL(%q): the error prints the password: %v", bad, err)
		}
	}
}

func TestParseHeaders(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want map[string]string
	}{
		{"", map[string]string{}},
		{"api-key=abc", map[string]string{"Api-Key": "abc"}},
		{"Authorization=Bearer%20abc,X-Scope-OrgID=tenant1", map[string]string{"Authorization": "Bearer abc", "X-Scope-Orgid": "tenant1"}},
		// Not encoded, as users often write it (and Go's SDK accepts).
		{"Authorization=Basic dXNlcjpwdw==", map[string]string{"Authorization": "Basic dXNlcjpwdw=="}},
		// Spaces around members, names and values are dropped; encoded ones kept.
		{" a = 1 , b=%202%20 ,", map[string]string{"A": "1", "B": " 2 "}},
		{"a=x+y", map[string]string{"A": "x+y"}},            // + is a plus
		{"a=%E2%9C%93", map[string]string{"A": "\u2713"}},   // UTF-8
		{"a=", map[string]string{"A": ""}},                  // empty value
		{"a=b=c", map[string]string{"A": "b=c"}},            // = in a value
		{"a=1,,b=2", map[string]string{"A": "1", "B": "2"}}, // empty member
		{"a=%09tab", map[string]string{"A": "\ttab"}},       // tab is allowed
		{"x-honeycomb-team=KEY", map[string]string{"X-Honeycomb-Team": "KEY"}},
	} {
		got, err := ParseHeaders(tt.in)
		if err != nil || !maps.Equal(got, tt.want) {
			t.Errorf("ParseHeaders(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseHeadersErrorsKeepValuesSecret(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"Bearer s3cret", `item 1: no "="`},
		{"a=1,=s3cret", "item 2: empty name"},
		{"bad name=s3cret", `item 1: "bad name": not a valid HTTP header name`},
		{"a=s3cret%zz", `item 1: "A": invalid percent-encoding`},
		{"a=s3cret%0d%0aX-Evil: 1", `item 1: "A": control character`},
		{"a=s3cret,A=s3cret2", `item 2: "A" given twice`},
		{"content-type=s3cret", `item 1: "content-type": set by the sink, cannot be overridden`},
		{"Host=s3cret", `item 1: "Host": set by the sink`},
		{"Bearer s3cret,b=%", "item 1: no \"=\" (want name=value)\nitem 2: \"B\": invalid percent-encoding in the value"},
	} {
		got, err := ParseHeaders(tt.in)
		if err == nil {
			t.Errorf("ParseHeaders(%q) = %v, want an error", tt.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseHeaders(%q): %q, want %q", tt.in, err, tt.want)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseHeaders(%q): the error prints a value: %q", tt.in, err)
		}
	}
}

func TestParseResourceAttributes(t *testing.T) {
	got, err := ParseResourceAttributes("deployment.environment.name=prod, team=pay%2Cments,service.name=audit")
	want := map[string]string{"deployment.environment.name": "prod", "team": "pay,ments", "service.name": "audit"}
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"a b=1", "k;p=1", "k=v%0a", "=v", "k"} {
		if _, err := ParseResourceAttributes(bad); err == nil {
			t.Errorf("ParseResourceAttributes(%q) accepted", bad)
		}
	}
}
