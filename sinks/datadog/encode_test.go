package datadog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// readRecords reads testdata/<name>.ndjson, one record a line. The records
// come from the demo's trail (demo-trail/, sealed: seq and hashes) and from
// schema/testdata/telemetry/*.golden.ndjson.
func readRecords(t testing.TB, name string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		recs = append(recs, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// encodeBodies encodes batch as Write does and returns each request's
// uncompressed body, and the records left out for their date.
func encodeBodies(enc *encoder, batch [][]byte, now time.Time) (bodies [][]byte, outside []int, ents *entries) {
	ents = &entries{}
	outside = enc.encode(ents, batch, now)
	for _, r := range enc.split(ents) {
		bodies = append(bodies, appendBody(nil, ents, r[0], r[1]))
	}
	return bodies, outside, ents
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestEncodeGolden compares the request bodies of each case with
// testdata/<case>.golden, one body a line (run with -update to rewrite
// them), and checks what every golden body must satisfy: a JSON array of
// entries within the limits, each message the record byte for byte
// (or its prefix, marked, when truncated).
func TestEncodeGolden(t *testing.T) {
	small := limits{entries: 4, bodyBytes: 3000, entryBytes: maxEntryBytes}
	tests := []struct {
		name        string
		enc         encoder
		now         string
		wantBodies  int
		wantOutside []int
	}{
		// The service defaults to the record's faas.name.
		{"invocations", encoder{limits: intakeLimits}, "2026-12-01T08:00:00Z", 1, nil},
		{"gaps_and_logs", encoder{service: "orders", tags: "env:prod,team:payments", host: "lambda", limits: intakeLimits}, "2026-11-22T12:00:00Z", 1, nil},
		// 10 records of 529-1039 bytes: split by count (4) and by size (3000).
		{"split", encoder{limits: small}, "2026-11-22T12:00:00Z", 4, nil},
		// Entries of at most 700 bytes: both records are cut.
		{"truncated", encoder{limits: limits{entries: maxEntries, bodyBytes: maxBodyBytes, entryBytes: 700}}, "2026-12-01T08:00:00Z", 1, nil},
		// Now is 2026-11-22T10:00:00Z: 19 hours ago and 2.5 hours ahead
		// are out; 17.5 hours ago and 1.75 ahead are in; no @timestamp, or
		// one that does not parse, goes without a timestamp.
		{"outside_window", encoder{limits: intakeLimits}, "2026-11-22T10:00:00Z", 1, []int{0, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batch := readRecords(t, tt.name)
			bodies, outside, _ := encodeBodies(&tt.enc, batch, mustTime(t, tt.now))
			if !slices.Equal(outside, tt.wantOutside) {
				t.Errorf("left out %v, want %v", outside, tt.wantOutside)
			}
			if len(bodies) != tt.wantBodies {
				t.Errorf("%d bodies, want %d", len(bodies), tt.wantBodies)
			}
			got := append(bytes.Join(bodies, []byte("\n")), '\n')
			golden := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("bodies differ from %s (run with -update to accept):\n got %s\nwant %s", golden, got, want)
			}
			checkBodies(t, &tt.enc, bodies, batch, outside)
		})
	}
}

// entryJSON is an entry as the intake reads it.
type entryJSON map[string]any

// checkBodies checks bodies against the intake's rules and the batch: every
// record not left out is in exactly one entry, in order, as the message,
// whole or marked as truncated.
func checkBodies(t *testing.T, enc *encoder, bodies [][]byte, batch [][]byte, outside []int) {
	t.Helper()
	var sent [][]byte
	for i, r := range batch {
		if !slices.Contains(outside, i) {
			sent = append(sent, r)
		}
	}
	n := 0
	for bi, body := range bodies {
		if len(body) > enc.limits.bodyBytes {
			t.Errorf("body %d: %d bytes, above %d", bi, len(body), enc.limits.bodyBytes)
		}
		var arr []json.RawMessage
		if err := json.Unmarshal(body, &arr); err != nil {
			t.Fatalf("body %d is not a JSON array: %v", bi, err)
		}
		if len(arr) > enc.limits.entries || len(arr) == 0 {
			t.Errorf("body %d: %d entries, want 1..%d", bi, len(arr), enc.limits.entries)
		}
		for _, raw := range arr {
			if len(raw) > enc.limits.entryBytes {
				t.Errorf("entry of %d bytes, above %d", len(raw), enc.limits.entryBytes)
			}
			var e entryJSON
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			for k, v := range e {
				if _, ok := v.(string); !ok && k != "timestamp" {
					t.Errorf("attribute %s is %T, want a string (as the Agent sends)", k, v)
				}
			}
			if n >= len(sent) {
				t.Fatalf("more entries than records")
			}
			rec, msg := sent[n], e["message"].(string)
			n++
			if e["ddsource"] != "audittrail" || e["service"] == "" || e["status"] == "" {
				t.Errorf("entry %d: ddsource %v, service %v, status %v", n-1, e["ddsource"], e["service"], e["status"])
			}
			if e["audittrail.truncated"] == "true" {
				if !strings.HasPrefix(string(rec), msg) || len(msg) >= len(rec) || !utf8.ValidString(msg) {
					t.Errorf("entry %d: truncated message is not a shorter prefix of the record: %q", n-1, msg)
				}
				if e["audittrail.original_bytes"] != itoa(len(rec)) {
					t.Errorf("entry %d: original_bytes %v, want %d", n-1, e["audittrail.original_bytes"], len(rec))
				}
				var f fields
				readFields(rec, &f)
				if e["event.id"] != f.Event.ID || e["audit.env_id"] != f.Audit.EnvID {
					t.Errorf("entry %d: lifted ids %v %v, want %v %v", n-1, e["event.id"], e["audit.env_id"], f.Event.ID, f.Audit.EnvID)
				}
			} else if msg != string(rec) {
				t.Errorf("entry %d: message is not the record:\n got %s\nwant %s", n-1, msg, rec)
			}
		}
	}
	if n != len(sent) {
		t.Errorf("%d entries for %d records", n, len(sent))
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestStatus(t *testing.T) {
	tests := []struct {
		action, outcome, level, want string
	}{
		{"invocation", "success", "", "info"},
		{"invocation", "failure", "", "error"},
		{"invocation", "unknown", "", "info"},
		{"init", "failure", "", "error"},
		{"shutdown", "failure", "", "error"},
		{"coverage_gap", "failure", "", "warn"},
		{"log", "unknown", "INFO", "info"},
		{"log", "unknown", "ERROR", "error"},
		{"log", "unknown", "WARN", "warn"},
		{"log", "unknown", "TRACE", "debug"},
		{"log", "unknown", "DEBUG", "debug"},
		{"log", "unknown", "FATAL", "critical"},
		{"log", "unknown", "", "info"},
		{"", "", "", "info"},
	}
	for _, tt := range tests {
		var f fields
		f.Event.Action, f.Event.Outcome, f.Log.Level = tt.action, tt.outcome, tt.level
		if got := status(&f); got != tt.want {
			t.Errorf("status(%s, %s, %s) = %s, want %s", tt.action, tt.outcome, tt.level, got, tt.want)
		}
	}
}

// TestTruncateAtTheIntakeLimit cuts a record of 2.5 MB, mostly characters
// that need escaping, to Datadog's 1 MB.
func TestTruncateAtTheIntakeLimit(t *testing.T) {
	msg := strings.Repeat(`"é\`, 1<<20)
	rec, _ := json.Marshal(map[string]any{
		"@timestamp": "2026-12-01T07:17:51.5Z",
		"event":      map[string]any{"id": "87d47cf2", "action": "log", "outcome": "unknown"},
		"audit":      map[string]any{"env_id": "6fd53d54", "seq": 11},
		"log":        map[string]any{"level": "WARN", "message": msg},
	})
	enc := encoder{limits: intakeLimits}
	bodies, _, ents := encodeBodies(&enc, [][]byte{rec}, mustTime(t, "2026-12-01T08:00:00Z"))
	if n := len(ents.entry(0)); n > maxEntryBytes || n < maxEntryBytes-8 {
		t.Errorf("entry of %d bytes, want just under %d", n, maxEntryBytes)
	}
	var arr []entryJSON
	if err := json.Unmarshal(bodies[0], &arr); err != nil {
		t.Fatal(err)
	}
	e := arr[0]
	if e["audittrail.truncated"] != "true" || e["audittrail.original_bytes"] != itoa(len(rec)) ||
		e["audit.seq"] != "11" || e["event.id"] != "87d47cf2" || e["status"] != "warn" {
		t.Errorf("entry attributes %v", e)
	}
	if m := e["message"].(string); !strings.HasPrefix(string(rec), m) {
		t.Error("message is not a prefix of the record")
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `"q" \ b`, "tab\tnl\ncr\r\x00\x1f\x7f", "<&>", "é☕\U0001F600", "bad \xff\xfe utf8 \xe2\x82", "\u2028\u2029"} {
		got, n := appendString(nil, []byte(s), -1)
		if n != len(s) {
			t.Errorf("%q: took %d of %d bytes", s, n, len(s))
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q encodes to %s, not JSON: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q decodes to %q, encoding/json's to %q", s, back, wantBack)
		}
	}
}

// FuzzAppendString checks that any bytes, under any limit, encode to a
// JSON string no longer than the limit (when it can hold the quotes) that
// decodes to the part of the input taken, cut at a character boundary.
func FuzzAppendString(f *testing.F) {
	f.Add([]byte(`{"a":"é\"x"}`), 7)
	f.Add([]byte("\xff\x00\n☕"), 5)
	f.Add([]byte("plain"), -1)
	f.Fuzz(func(t *testing.T, s []byte, limit int) {
		limit = max(limit%4096, -1)
		got, n := appendString([]byte("prefix"), s, limit)
		got = got[len("prefix"):]
		if n < 0 || n > len(s) || (limit < 0 && n != len(s)) {
			t.Fatalf("took %d of %d bytes under limit %d", n, len(s), limit)
		}
		if limit >= 2 && len(got) > limit {
			t.Fatalf("%d bytes under limit %d", len(got), limit)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q is not a JSON string: %v", got, err)
		}
		var want string
		w, _ := json.Marshal(string(s[:n]))
		_ = json.Unmarshal(w, &want)
		if back != want {
			t.Fatalf("decodes to %q, want %q", back, want)
		}
		if n < len(s) && utf8.Valid(s) && !utf8.Valid(s[:n]) {
			t.Fatalf("cut inside a character at %d", n)
		}
	})
}
