package elasticsearch

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/audittrail/audittrail/sinks"
)

// FuzzClassify feeds arbitrary answers to classify (and to classifyAck,
// which reads the answers of InstallTemplate): they must never panic, and a
// partial failure must name only documents of the request, each once, in
// order.
func FuzzClassify(f *testing.F) {
	files, _ := filepath.Glob("testdata/responses/*.json")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(200, b, uint8(4), true)
	}
	f.Add(200, []byte(``), uint8(1), true)
	f.Add(429, []byte(`{"error":"x"}`), uint8(1), false)
	f.Add(200, []byte(`{"errors":true,"items":[{"create":{"status":409,"error":{"type":"version_conflict_engine_exception"}}}]}`), uint8(1), true)
	f.Fuzz(func(t *testing.T, status int, body []byte, n uint8, withID bool) {
		_ = classifyAck(answer(status, nil, string(body)))
		err := classify(answer(status, nil, string(body)), int(n), withID)
		var pe *sinks.PartialError
		if !errors.As(err, &pe) {
			return
		}
		if len(pe.Rejected) == 0 && !pe.Retry {
			t.Fatalf("a partial error that neither refuses nor retries: %v", err)
		}
		for i, k := range pe.Rejected {
			if k < 0 || k >= int(n) || (i > 0 && pe.Rejected[i-1] >= k) {
				t.Fatalf("rejected %v for %d documents", pe.Rejected, n)
			}
		}
		if strings.ContainsAny(err.Error(), "\n\r") {
			t.Fatalf("a message on several lines: %q", err)
		}
	})
}

// FuzzEventID checks the event.id scanner on arbitrary records: it never
// panics, what it returns can be copied into an action line (a valid JSON
// string of valid UTF-8), and on valid JSON it agrees with a decoder into
// maps.
func FuzzEventID(f *testing.F) {
	files, _ := filepath.Glob("testdata/encode/*.json")
	for _, file := range files {
		for _, rec := range readRecords(f, file) {
			f.Add(rec)
		}
	}
	f.Add([]byte(`{"event":{"id":"a","id":"b"},"event":{"x":[1,{"id":"c"}]}}`))
	f.Fuzz(func(t *testing.T, rec []byte) {
		tok, ok := eventID(rec)
		if ok {
			var s string
			if !utf8.Valid(tok) || json.Unmarshal(tok, &s) != nil || s == "" || len(tok) < 3 {
				t.Fatalf("eventID(%q) = %q: not a usable JSON string", rec, tok)
			}
		}
		if !json.Valid(rec) || !utf8.Valid(rec) {
			return
		}
		want := usableID(rec)
		got := ""
		if ok {
			_ = json.Unmarshal(tok, &got)
		}
		if got != want && !(want != "" && !ok && deeperThan(rec, maxDepth)) {
			t.Fatalf("eventID(%q) = %q, a decoder finds %q", rec, got, want)
		}
	})
}

// deeperThan reports whether rec nests objects and arrays deeper than
// depth (counting brackets inside strings too: an excuse, not a measure),
// the one limit the scanner has that a decoder has not.
func deeperThan(rec []byte, depth int) bool {
	d := 0
	for _, c := range rec {
		switch c {
		case '{', '[':
			d++
			if d > depth {
				return true
			}
		case '}', ']':
			d--
		}
	}
	return false
}
