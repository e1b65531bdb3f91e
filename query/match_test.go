package query

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// sampleRecord is an invocation record as the file store holds it.
const sampleRecord = `{"@timestamp":"2026-11-22T10:00:00.063Z",
 "event":{"action":"invocation","outcome":"failure","duration":13900000},
 "audit":{"seq":17},
 "faas":{"coldstart":true},
 "aws":{"lambda":{"duration_ms":13.9}},
 "http":{"request":{"method":"DELETE","header":{"x-forwarded-for":["203.0.113.9","10.0.0.1"]}},"response":{"status_code":403},"route":"/users/{id}"},
 "url":{"path":"/users/42"},
 "user":{"id":"auth0|5f1c"},
 "auth":{"scopes":["users:read","users:write"]},
 "audit.capture":"proxy",
 "api":{"source_arns":[]},
 "error":{"message":null}}`

func decodeSample(t *testing.T, useNumber bool) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(sampleRecord))
	if useNumber {
		dec.UseNumber()
	}
	var rec map[string]any
	if err := dec.Decode(&rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestMatch(t *testing.T) {
	tests := []struct {
		filter string
		want   bool
	}{
		{"", true},
		{"http.request.method=DELETE", true},
		{"http.request.method=delete", false}, // case matters
		{"http.request.method!=DELETE", false},
		{"http.request.method!=GET", true},
		{"http.route=/users/*", true},
		{"http.route=/users/{id}", true},
		{"http.route=/orders/*", false},
		{"http.route!=/orders/*", true},
		{"url.path=*/42", true},
		{"url.path=/*/*", true},
		{"url.path=/users*42*", true},
		{"url.path=/users/4", false},
		{"url.path=*", true},
		{"http.response.status_code=403", true},
		{"http.response.status_code=403.0", true}, // numerically
		{"http.response.status_code=4*", true},    // the number's text
		{"http.response.status_code>=400", true},
		{"http.response.status_code>403", false},
		{"http.response.status_code<500", true},
		{"http.response.status_code<=403", true},
		{"http.response.status_code<403", false},
		{"aws.lambda.duration_ms>13.8 aws.lambda.duration_ms<14", true},
		{"event.duration>=1.39e7", true},
		{"http.request.method>3", false}, // not a number: no order
		{"faas.coldstart=true", true},
		{"faas.coldstart=false", false},
		{"faas.coldstart!=false", true},
		{"http.request.header.x-forwarded-for=10.0.0.1", true}, // any element
		{"http.request.header.x-forwarded-for=192.*", false},
		{"http.request.header.x-forwarded-for!=10.0.0.1", false},
		{"auth.scopes=users:write", true},
		{"api.source_arns=*", false}, // an empty array has no element
		{"api.source_arns!=x", true},
		{"audit.capture=proxy", true}, // a key with dots
		{"user.id=auth0|5f1c", true},
		{"user.name=ada", false}, // missing: = never matches
		{"user.name!=ada", true}, // missing: != always matches
		{"user.name=*", false},
		{"user.name>1", false},
		{"error.message=null", false}, // null is no value
		{"http.request=x", false},     // an object is no value
		{"http=*", false},
		{"http.request.method.x=DELETE", false}, // below a string
		{"@timestamp>=2026-11-22T10:00:00Z", true},
		{"@timestamp<2026-11-22T10:00:00.063Z", false},
		{"@timestamp<=2026-11-22T11:00:00.063+01:00", true}, // the same instant
		{"@timestamp=2026-11-22T*", true},
		{"http.request.method=DELETE http.response.status_code>=500", false}, // all must hold
	}
	for _, useNumber := range []bool{false, true} {
		rec := decodeSample(t, useNumber)
		for _, tt := range tests {
			conds, err := Parse(tt.filter)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.filter, err)
			}
			if got := (Query{Conds: conds}).Match(rec); got != tt.want {
				t.Errorf("UseNumber %v: %q matches = %v, want %v", useNumber, tt.filter, got, tt.want)
			}
		}
	}
}

func TestMatchTimeRange(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 63e6, time.UTC)
	tests := []struct {
		name         string
		since, until time.Time
		rec          string
		want         bool
	}{
		{"open", time.Time{}, time.Time{}, sampleRecord, true},
		{"since before", at.Add(-time.Hour), time.Time{}, sampleRecord, true},
		{"since equal", at, time.Time{}, sampleRecord, true},
		{"since after", at.Add(time.Nanosecond), time.Time{}, sampleRecord, false},
		{"until after", time.Time{}, at.Add(time.Nanosecond), sampleRecord, true},
		{"until equal", time.Time{}, at, sampleRecord, false},
		{"inside", at.Add(-time.Second), at.Add(time.Second), sampleRecord, true},
		{"no timestamp", at.Add(-time.Hour), time.Time{}, `{"event":{"action":"init"}}`, false},
		{"bad timestamp", at.Add(-time.Hour), time.Time{}, `{"@timestamp":"yesterday"}`, false},
		{"no timestamp, open", time.Time{}, time.Time{}, `{"event":{"action":"init"}}`, true},
	}
	for _, tt := range tests {
		var rec map[string]any
		if err := json.Unmarshal([]byte(tt.rec), &rec); err != nil {
			t.Fatal(err)
		}
		if got := (Query{Since: tt.since, Until: tt.until}).Match(rec); got != tt.want {
			t.Errorf("%s: Match = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"a*", "a", true},
		{"*a", "ba", true},
		{"a*a", "a", false}, // the pieces may not overlap
		{"a*a", "aa", true},
		{"a*b*c", "aXbYbc", true},
		{"a*b*c", "acb", false},
		{"**", "x", true},
		{"x", "x", true},
		{"x", "xy", false},
	}
	for _, tt := range tests {
		if got := wildcardMatch(strings.Split(tt.pattern, "*"), tt.s); got != tt.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}
