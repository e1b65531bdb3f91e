package schema

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRedactionPolicies(t *testing.T) {
	c := loadEventCases(t)["http_jwt"]
	var ev map[string]any
	_ = json.Unmarshal(c.Event, &ev)
	ev["headers"].(map[string]any)["x-request-id"] = "req-77"
	event, _ := json.Marshal(ev)
	x := Exchange{Event: event, Response: c.Response}
	run := func(p Redaction) Record {
		var r Record
		Normalize(&r, x, p)
		return r
	}
	tests := []struct {
		name  string
		p     Redaction
		check func(t *testing.T, r Record)
	}{
		{"default", Redaction{}, func(t *testing.T, r Record) {
			if r.URL.Query != "q=ada&signature=[REDACTED]&Token=[REDACTED]" || len(r.HTTP.Request.Header) != 1 {
				t.Errorf("query %q headers %v", r.URL.Query, r.HTTP.Request.Header)
			}
		}},
		{"extra parameter redacted", Redaction{RedactQuery: []string{"Q"}}, func(t *testing.T, r Record) {
			if r.URL.Query != "q=[REDACTED]&signature=[REDACTED]&Token=[REDACTED]" {
				t.Errorf("query %q", r.URL.Query)
			}
		}},
		{"parameter allowed", Redaction{AllowQuery: []string{"Signature"}}, func(t *testing.T, r Record) {
			if r.URL.Query != "q=ada&signature=SECRET-sig&Token=[REDACTED]" {
				t.Errorf("query %q", r.URL.Query)
			}
		}},
		{"extra header, secret header refused", Redaction{Headers: []string{"X-Request-Id", "Authorization", "cookie"}}, func(t *testing.T, r Record) {
			h := r.HTTP.Request.Header
			if len(h["x-request-id"]) != 1 || h["x-request-id"][0] != "req-77" || h["authorization"] != nil || h["cookie"] != nil {
				t.Errorf("headers %v", h)
			}
		}},
		{"pseudonyms", Redaction{PseudonymKey: []byte("k1")}, func(t *testing.T, r Record) {
			out, _ := json.Marshal(r)
			for _, raw := range []string{"auth0|5f1c", "2001:db8::7", "203.0.113.9"} {
				if strings.Contains(string(out), raw) {
					t.Errorf("raw identity %q in the record", raw)
				}
			}
			if !strings.HasPrefix(r.User.ID, "hmac-sha256:") || r.User.ID != run(Redaction{PseudonymKey: []byte("k1")}).User.ID {
				t.Errorf("user.id %q is not a stable pseudonym", r.User.ID)
			}
			if r.User.ID == run(Redaction{PseudonymKey: []byte("k2")}).User.ID {
				t.Error("different keys gave the same pseudonym")
			}
		}},
		{"identities dropped", Redaction{DropIdentities: true}, func(t *testing.T, r Record) {
			if r.User.ID != Redacted || r.Client.Address != Redacted || r.HTTP.Request.Header["x-forwarded-for"][0] != Redacted {
				t.Errorf("user %+v client %+v xff %v", r.User, r.Client, r.HTTP.Request.Header)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, run(tt.p)) })
	}
	if err := (Redaction{Headers: []string{"x-request-id", "Authorization", "X-Amz-Security-Token"}}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "Authorization") || !strings.Contains(err.Error(), "X-Amz-Security-Token") {
		t.Errorf("Validate = %v", err)
	}
}
