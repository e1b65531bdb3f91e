package datadog

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/audittrail/audittrail/sinks"
)

// answer is one answer of testdata/answers.json.
type answer struct {
	Name       string `json:"name"`
	Status     int    `json:"status"`
	RetryAfter string `json:"retry_after"`
	Body       string `json:"body"`
	Source     string `json:"source"`
	// Peer tells an answer a real receiver here gave (VictoriaLogs
	// v1.117.0, see peer_test.go) from one only documented.
	Peer bool `json:"peer"`
	// Want is the class: ok, server, throttled <duration>, data, size,
	// config.
	Want string `json:"want"`
}

func readAnswers(t testing.TB) []answer {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "answers.json"))
	if err != nil {
		t.Fatal(err)
	}
	var as []answer
	if err := json.Unmarshal(b, &as); err != nil {
		t.Fatal(err)
	}
	return as
}

// class names what classify made of an answer, in the words of
// answers.json.
func class(err error) string {
	if err == nil {
		return "ok"
	}
	var ie *intakeError
	if !errors.As(err, &ie) {
		return "not an intakeError"
	}
	switch ie.scope {
	case scopeServer:
		if d, ok := sinks.RetryAfter(err); ok {
			return "throttled " + d.String()
		}
		return "server"
	case scopeData:
		return "data"
	case scopeSize:
		return "size"
	case scopeConfig:
		return "config"
	}
	return "?"
}

// TestClassifyAnswers runs classify over testdata/answers.json. The answers
// marked "peer": true were given by VictoriaLogs v1.117.0, the one Datadog
// logs receiver available here; peer_test.go meets the 200 for real. The
// others are Datadog's documented examples (its API specification gives a
// single example body, {"errors":[...]}, for every error status) and the
// like: documented examples, no real peer here produces them.
func TestClassifyAnswers(t *testing.T) {
	for _, a := range readAnswers(t) {
		t.Run(a.Name, func(t *testing.T) {
			err := classify(a.Status, a.RetryAfter, []byte(a.Body))
			if got := class(err); got != a.Want {
				t.Fatalf("classify(%d) = %s (%v), want %s [%s]", a.Status, got, err, a.Want, a.Source)
			}
			if err == nil {
				return
			}
			permanent := a.Want == "data" || a.Want == "size" || a.Want == "config"
			if sinks.IsPermanent(err) != permanent {
				t.Errorf("permanent %v, want %v: %v", sinks.IsPermanent(err), permanent, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "datadog: HTTP ") || strings.ContainsAny(msg, "\n\r") {
				t.Errorf("message %q", msg)
			}
			if strings.Contains(a.Body, "Malformed payload") && !strings.Contains(msg, ": Malformed payload") {
				t.Errorf("message %q lacks the intake's detail", msg)
			}
			if (a.Status == 401 || a.Status == 403) && !strings.Contains(msg, EnvAPIKey) {
				t.Errorf("message %q does not say what to check", msg)
			}
		})
	}
}

func TestClassifyRetryAfterDate(t *testing.T) {
	at := time.Now().Add(90 * time.Second).UTC().Format(time.RFC1123)
	at = strings.Replace(at, "UTC", "GMT", 1)
	d, ok := sinks.RetryAfter(classify(503, at, nil))
	if !ok || d <= 0 || d > 90*time.Second {
		t.Errorf("Retry-After %q: delay %v, %v", at, d, ok)
	}
}

func TestIntakeWords(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"errors":[{"detail":"Malformed payload","status":"400","title":"Bad Request"}]}`, "Malformed payload"},
		{`{"errors":[{"title":"Forbidden"},{"detail":"key revoked"}]}`, "Forbidden; key revoked"},
		{`{"errors":[]}`, `{"errors":[]}`},
		{"plain\ntext\x00", "plain text"},
		{strings.Repeat("x", 600), strings.Repeat("x", maxText) + " [truncated]"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := intakeWords([]byte(tt.body)); got != tt.want {
			t.Errorf("intakeWords(%.30q) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

// FuzzClassify feeds classify any answer: it never panics, and its class
// agrees with the status.
func FuzzClassify(f *testing.F) {
	for _, a := range readAnswers(f) {
		f.Add(a.Status, a.RetryAfter, []byte(a.Body))
	}
	f.Add(0, "-1", []byte("\xff\xfe"))
	f.Add(999, "Wed, 21 Oct 2015 07:28:00 GMT", []byte(`{"errors":[{"detail":1}]}`))
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		err := classify(status, retryAfter, body)
		ok := status >= 200 && status <= 299
		if (err == nil) != ok {
			t.Fatalf("classify(%d) = %v", status, err)
		}
		if err == nil {
			return
		}
		c := class(err)
		server := status == 408 || status == 429 || (status >= 500 && status <= 599)
		if server == sinks.IsPermanent(err) {
			t.Fatalf("classify(%d): permanent %v (%s)", status, sinks.IsPermanent(err), c)
		}
		if _, throttled := sinks.RetryAfter(err); throttled && !server {
			t.Fatalf("classify(%d) throttled", status)
		}
		msg := err.Error()
		if !utf8.ValidString(msg) || strings.IndexFunc(msg, unicode.IsControl) >= 0 || len(msg) > 1024 {
			t.Fatalf("message %q", msg)
		}
	})
}
