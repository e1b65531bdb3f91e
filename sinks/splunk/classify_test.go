package splunk

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/audittrail/audittrail/sinks"
)

// class names what classify made of an answer, for tables.
func class(err error) string {
	if err == nil {
		return "ok"
	}
	var he *hecError
	if !errors.As(err, &he) {
		return "not a hecError"
	}
	_, throttled := sinks.RetryAfter(err)
	switch {
	case sinks.IsPermanent(err) && he.scope == scopeConfig:
		return "config"
	case sinks.IsPermanent(err) && he.scope == scopeData:
		return "data"
	case sinks.IsPermanent(err):
		return "permanent, scope " + string(rune('0'+he.scope))
	case throttled:
		return "throttled"
	case he.scope == scopeServer:
		return "transient"
	}
	return "transient, scope " + string(rune('0'+he.scope))
}

// TestClassifyDocumentedAnswers runs classify over Splunk's documented
// answers in testdata/answers/splunk_documented.json. These are
// documented examples, no real peer here produces them: the collector's
// splunk_hec receiver (the only HEC available, see peers.md) never answers
// with codes 1-4, 7-9, 14, 16-22 on the event endpoint, and says "401" in
// plain text where Splunk says code 2 or 4.
func TestClassifyDocumentedAnswers(t *testing.T) {
	data, err := os.ReadFile("testdata/answers/splunk_documented.json")
	if err != nil {
		t.Fatal(err)
	}
	var answers []struct {
		Source       string  `json:"source"`
		Status       int     `json:"status"`
		RetryAfter   string  `json:"retry_after"`
		Body         string  `json:"body"`
		Want         string  `json:"want"`
		Delay        string  `json:"delay"`
		AckID        *uint64 `json:"ack_id"`
		InvalidEvent *int    `json:"invalid_event"`
	}
	if err := json.Unmarshal(data, &answers); err != nil {
		t.Fatal(err)
	}
	for _, a := range answers {
		got, err := classify(a.Status, a.RetryAfter, []byte(a.Body))
		if c := class(err); c != a.Want {
			t.Errorf("%d %s: %s (%v), want %s; documented in %s", a.Status, a.Body, c, err, a.Want, a.Source)
			continue
		}
		if a.Delay != "" {
			want, _ := time.ParseDuration(a.Delay)
			if d, _ := sinks.RetryAfter(err); d != want {
				t.Errorf("%d %s: delay %v, want %v", a.Status, a.Body, d, want)
			}
		}
		if a.AckID != nil && (got.AckID == nil || *got.AckID != *a.AckID) {
			t.Errorf("%d %s: ackId %v, want %d", a.Status, a.Body, got.AckID, *a.AckID)
		}
		var he *hecError
		if a.InvalidEvent != nil && (!errors.As(err, &he) || he.invalidEvent != *a.InvalidEvent) {
			t.Errorf("%d %s: invalid event %+v, want %d", a.Status, a.Body, he, *a.InvalidEvent)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "splunk: HTTP ") {
			t.Errorf("%d %s: message %q", a.Status, a.Body, err)
		}
	}
}

// TestClassifyKnowsEveryDocumentedCode keeps hecCodes and the documented
// table in step: each code's HTTP status is Splunk's.
func TestClassifyKnowsEveryDocumentedCode(t *testing.T) {
	for code, c := range hecCodes {
		body, _ := json.Marshal(map[string]any{"text": c.text, "code": code})
		_, err := classify(c.status, "", body)
		var he *hecError
		if !errors.As(err, &he) || he.code != code || he.scope != c.scope || he.text != c.text {
			t.Errorf("code %d: %v", code, err)
		}
	}
}

// TestClassifyOtherAnswers covers answers without a documented HEC code:
// the collector's splunk_hec receiver (v0.139.0, peers.md section 3 and
// its receiver.go), which answers some refusals with a JSON string or
// plain text, and proxies and load balancers in front of HEC. The token
// refusal is also tested against the real collector (peer_test.go).
func TestClassifyOtherAnswers(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		body       string
		want       string
		delay      time.Duration
	}{
		{"collector success", 200, "", `{"text": "Success", "code": 0}`, "ok", 0},
		{"collector success with ackId", 200, "", `{"text": "Success", "code": 0, "ackId": 1}`, "ok", 0},
		{"2xx with an empty body", 204, "", ``, "ok", 0},
		{"2xx whatever the body says", 200, "", `{"text":"Invalid token","code":4}`, "ok", 0},
		{"collector without a token", 401, "", `missing or empty authorization header: Authorization`, "config", 0},
		{"collector with a wrong token", 401, "", `scheme or token does not match: Splunk nope`, "config", 0},
		{"collector gzip error", 400, "", `"Error on gzip body"`, "data", 0},
		{"collector unmarshal error", 400, "", `"Failed to unmarshal message body"`, "data", 0},
		{"collector bad encoding", 415, "", `"\"Content-Encoding\" must be \"gzip\" or empty"`, "config", 0},
		{"collector method", 405, "", `"Only \"POST\" method is supported"`, "config", 0},
		{"collector consumer failed", 500, "", `"Internal Server Error"`, "transient", 0},
		{"collector indexed fields", 400, "", `{"text":"Error in handling indexed fields","code":15,"invalid-event-number":0}`, "data", 0},
		{"proxy 502 page", 502, "", `<html><body>Bad Gateway</body></html>`, "transient", 0},
		{"429 with Retry-After", 429, "3", ``, "throttled", 3 * time.Second},
		{"429 without", 429, "", ``, "transient", 0},
		{"503 without a code", 503, "", ``, "transient", 0},
		{"busy without Retry-After", 503, "", `{"text":"Server is busy","code":9}`, "throttled", busyDelay},
		{"busy, bad Retry-After", 503, "soon", `{"text":"Server is busy","code":9}`, "throttled", busyDelay},
		{"408", 408, "", ``, "transient", 0},
		{"404 wrong path", 404, "", `Not Found`, "config", 0},
		{"413 too large", 413, "", `Request Entity Too Large`, "data", 0},
		{"redirect", 301, "", ``, "config", 0},
		{"unknown code on 400", 400, "", `{"text":"Something new","code":99}`, "data", 0},
		{"unknown code on 503", 503, "", `{"text":"Something new","code":99}`, "transient", 0},
		{"code not a number", 400, "", `{"text":"x","code":"6"}`, "data", 0},
		{"code 0 on an error status", 400, "", `{"text":"?","code":0}`, "data", 0},
		{"status 0", 0, "", ``, "config", 0},
	}
	for _, tt := range tests {
		_, err := classify(tt.status, tt.retryAfter, []byte(tt.body))
		if c := class(err); c != tt.want {
			t.Errorf("%s: %s (%v), want %s", tt.name, c, err, tt.want)
			continue
		}
		if d, ok := sinks.RetryAfter(err); ok && d != tt.delay {
			t.Errorf("%s: delay %v, want %v", tt.name, d, tt.delay)
		}
	}
}

func TestClassifyMessages(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   string
	}{
		{403, `{"text":"Invalid token","code":4}`, "splunk: HTTP 403 Forbidden, code 4: Invalid token (check AUDITTRAIL_SPLUNK_TOKEN)"},
		{400, `{"text":"Data channel is missing","code":10}`, "splunk: HTTP 400 Bad Request, code 10: Data channel is missing (the token uses indexer acknowledgement: set AUDITTRAIL_SPLUNK_ACK=true)"},
		{400, `{"text":"Invalid data format","code":6,"invalid-event-number":3}`, "splunk: HTTP 400 Bad Request, code 6: Invalid data format (event 3 of the request)"},
		{400, `{"code":7}`, "splunk: HTTP 400 Bad Request, code 7: Incorrect index (check AUDITTRAIL_SPLUNK_INDEX against the indexes the token may write to)"},
		{401, "bad\x00token\n\xff", "splunk: HTTP 401 Unauthorized: bad token ? (check AUDITTRAIL_SPLUNK_TOKEN)"},
		{500, strings.Repeat("é", 600), "splunk: HTTP 500 Internal Server Error: " + strings.Repeat("é", 256) + " [truncated]"},
	}
	for _, tt := range tests {
		_, err := classify(tt.status, "", []byte(tt.body))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%d %q:\n got %v\nwant %s", tt.status, tt.body, err, tt.want)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ body, secret, want string }{
		{"scheme or token does not match: Splunk s3cr3t", "s3cr3t", "scheme or token does not match: Splunk [REDACTED]"},
		{"s3cr3t and s3cr3t", "s3cr3t", "[REDACTED] and [REDACTED]"},
		{"nothing here", "s3cr3t", "nothing here"},
		{"no secret", "", "no secret"},
	}
	for _, tt := range tests {
		if got := string(redact([]byte(tt.body), tt.secret)); got != tt.want {
			t.Errorf("redact(%q, %q) = %q, want %q", tt.body, tt.secret, got, tt.want)
		}
	}
}

func TestParseAcks(t *testing.T) {
	tests := []struct {
		body    string
		want    []uint64
		wantErr bool
	}{
		// The documented answer (Splunk's indexer acknowledgement page) and the
		// collector's, which puts a space after the colon.
		{`{"acks":{"0":true,"1":false}}`, []uint64{0}, false},
		{`{"acks": {"1":true,"2":false}}`, []uint64{1}, false},
		{`{"acks":{}}`, nil, false},
		{`{"acks":{"x":true,"-1":true,"18446744073709551615":true}}`, []uint64{18446744073709551615}, false},
		{`{"text":"ACK is disabled","code":14}`, nil, true},
		{`not json`, nil, true},
		{``, nil, true},
	}
	for _, tt := range tests {
		got, err := parseAcks([]byte(tt.body))
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error %v", tt.body, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s: %v, want %v", tt.body, got, tt.want)
		}
		for _, id := range tt.want {
			if !got[id] {
				t.Errorf("%s: %d not acknowledged", tt.body, id)
			}
		}
	}
}

// FuzzClassify feeds classify and parseAcks arbitrary answers: they must
// not panic, must classify every non-2xx answer as an error naming its
// status, and must keep messages short and printable.
func FuzzClassify(f *testing.F) {
	seeds := []struct {
		status int
		ra     string
		body   string
	}{
		{200, "", `{"text":"Success","code":0,"ackId":7}`},
		{400, "", `{"text":"Invalid data format","code":6,"invalid-event-number":-1}`},
		{503, "120", `{"text":"Server is busy","code":9}`},
		{503, "Wed, 21 Oct 2015 07:28:00 GMT", ``},
		{401, "", "scheme or token does not match: Splunk \xff\x00"},
		{200, "", `{"acks":{"0":true,"1":false}}`},
		{413, "", `{"code":1e400}`},
		{400, "", `{"code":-5,"text":null,"ackId":-1}`},
	}
	for _, s := range seeds {
		f.Add(s.status, s.ra, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		_, err := classify(status, retryAfter, body)
		ok := status >= 200 && status <= 299
		if ok != (err == nil) {
			t.Fatalf("status %d: %v", status, err)
		}
		if err != nil {
			var he *hecError
			if !errors.As(err, &he) || he.status != status {
				t.Fatalf("status %d: %v is not a hecError", status, err)
			}
			msg := err.Error()
			if len(msg) > 2*maxText+300 || strings.ContainsFunc(msg, func(r rune) bool { return r < ' ' }) {
				t.Fatalf("message %q", msg)
			}
			if d, throttled := sinks.RetryAfter(err); throttled && d < 0 {
				t.Fatalf("negative delay %v", d)
			}
		}
		if done, err := parseAcks(body); err == nil && done == nil {
			t.Fatal("parseAcks: neither acks nor an error")
		}
	})
}
