package query

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/audittrail/audittrail/sinks/file"
)

// writeStore writes each batch through its own file store sink into dir,
// so that every batch is one segment.
func writeStore(t testing.TB, dir string, batches ...[]string) {
	t.Helper()
	for _, batch := range batches {
		s, err := file.New(file.Config{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		var recs [][]byte
		for _, r := range batch {
			recs = append(recs, []byte(r))
		}
		if err := s.Write(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// storeRecords are small records, each with its name in event.id.
var storeRecords = []string{
	`{"@timestamp":"2026-11-22T10:00:00Z","event":{"id":"a","action":"init"}}`,
	`{"@timestamp":"2026-11-22T10:00:01Z","event":{"id":"b","action":"invocation"},"http":{"request":{"method":"GET"},"route":"/users/{id}","response":{"status_code":200}}}`,
	`{"@timestamp":"2026-11-22T10:00:02Z","event":{"id":"c","action":"invocation"},"http":{"request":{"method":"DELETE"},"route":"/users/{id}","response":{"status_code":403}}}`,
	// escaped: the byte check must not rule it out
	`{"@timestamp":"2026-11-22T10:00:03Z","event":{"id":"d","action":"invocation"},"http":{"request":{"method":"\u0044ELETE"},"route":"\/users\/{id}","response":{"status_code":2e2}}}`,
	`{"@timestamp":"2026-11-22T10:00:04Z","event":{"id":"e","action":"shutdown"}}`,
}

func scanIDs(t *testing.T, paths []string, q Query) ([]string, error) {
	t.Helper()
	var ids []string
	err := ScanFiles(t.Context(), paths, q, func(raw []byte, rec map[string]any) error {
		if !isJSONObject(raw) {
			t.Errorf("raw is not a JSON record: %q", raw)
		}
		id, _ := rec["event"].(map[string]any)["id"].(string)
		ids = append(ids, id)
		return nil
	})
	return ids, err
}

func TestScanFiles(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "trail")
	writeStore(t, store, storeRecords[:2], storeRecords[2:])
	segs, err := file.Segments(store)
	if err != nil || len(segs) != 2 {
		t.Fatalf("segments %v, %v", segs, err)
	}
	plain := filepath.Join(dir, "stdout.ndjson")
	lines := "not json\n" +
		`{"audittrail.undelivered":"shutdown_deadline","record":{"@timestamp":"2026-11-22T10:00:05Z","event":{"id":"f","action":"invocation"},"http":{"request":{"method":"DELETE"}}}}` + "\n\n" +
		`{"@timestamp":"2026-11-22T10:00:06Z","event":{"id":"g","action":"invocation"},"http":{"request":{"method":"DELETE"}}}` + "\n[1,2]\n"
	if err := os.WriteFile(plain, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	parse := func(s string) []Cond {
		c, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name  string
		paths []string
		q     Query
		want  []string
	}{
		{"everything", []string{store}, Query{}, []string{"a", "b", "c", "d", "e"}},
		{"method", []string{store}, Query{Conds: parse("http.request.method=DELETE")}, []string{"c", "d"}},
		{"route wildcard", []string{store}, Query{Conds: parse("http.route=/users/* http.response.status_code=200")}, []string{"b", "d"}},
		{"status", []string{store}, Query{Conds: parse("http.response.status_code>=300")}, []string{"c"}},
		{"no such value", []string{store}, Query{Conds: parse("event.action=coverage_gap")}, nil},
		{"limit", []string{store}, Query{Limit: 2}, []string{"a", "b"}},
		{"limit across segments", []string{store, plain}, Query{Conds: parse("http.request.method=DELETE"), Limit: 3}, []string{"c", "d", "f"}},
		{"segment", []string{segs[1]}, Query{}, []string{"c", "d", "e"}},
		{"plain and undelivered", []string{plain}, Query{Conds: parse("http.request.method=DELETE")}, []string{"f", "g"}},
		{"several paths", []string{segs[0], plain}, Query{Conds: parse("event.action=invocation")}, []string{"b", "f", "g"}},
		{"time range", []string{store}, Query{Since: mustTime(t, "2026-11-22T10:00:01Z"), Until: mustTime(t, "2026-11-22T10:00:03Z")}, []string{"b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scanIDs(t, tt.paths, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestScanFilesByteCheck: the cheap byte check never rules out a record
// that Match would take.
func TestScanFilesByteCheck(t *testing.T) {
	store := filepath.Join(t.TempDir(), "trail")
	recs := append([]string{
		`{"event":{"id":"x1"},"url":{"query":"a=1\u0026b=2","path":"\/caf\u00e9\/\ud83d\ude00\/x\ty"}}`,
		`{"event":{"id":"x2"},"url":{"query":"a=1&b=2","path":"/lone\ud83d/\uD83D\uDE00"},"user":{"id":"\"q\"\\"}}`,
		`{"event":{"id":"x3"},"url":{"path":"bad utf8 ` + "\xff" + `"}}`, // decoded as U+FFFD
	}, storeRecords...)
	writeStore(t, store, recs)
	for _, filter := range []string{
		"url.query=a=1&b=2", "url.query=*&b=*", "url.path=/café/😀/*", `url.path="/café/😀/x	y"`,
		"url.path=/lone�/😀", "url.path=*�*", `user.id="\"q\"\\"`, "url.path=/*/*/*",
		"http.request.method=DELETE", "http.request.method=DEL*", "http.request.method=*ETE",
		"http.route=/users/{id}", "http.route=*/{id}", "http.response.status_code=200",
		"http.response.status_code=2*", "http.response.status_code=200.0", "event.id=a",
		"event.action!=init", "event.action=*", "@timestamp=2026-11-22T10:00:0*",
	} {
		conds, err := Parse(filter)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, r := range recs {
			var rec map[string]any
			dec := jsonDecoder(r)
			if err := dec.Decode(&rec); err != nil {
				t.Fatal(err)
			}
			if (Query{Conds: conds}).Match(rec) {
				want = append(want, rec["event"].(map[string]any)["id"].(string))
			}
		}
		got, err := scanIDs(t, []string{store}, Query{Conds: conds})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ScanFiles %v, Match %v", filter, got, want)
		}
		if len(want) == 0 {
			t.Errorf("%s matches no record: the test shows nothing", filter)
		}
	}
}

func TestScanFilesErrors(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "trail")
	writeStore(t, store, storeRecords[:2], storeRecords[2:])
	segs, _ := file.Segments(store)

	t.Run("missing path", func(t *testing.T) {
		_, err := scanIDs(t, []string{filepath.Join(dir, "nope")}, Query{})
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("error %v, want not exist", err)
		}
	})
	t.Run("empty directory", func(t *testing.T) {
		_, err := scanIDs(t, []string{t.TempDir()}, Query{})
		if err == nil || !strings.Contains(err.Error(), "no file store segments") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("fn error", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := ScanFiles(t.Context(), []string{store}, Query{}, func([]byte, map[string]any) error {
			n++
			return stop
		})
		if err != stop || n != 1 {
			t.Errorf("error %v after %d records, want stop after 1", err, n)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		big := filepath.Join(t.TempDir(), "trail")
		batch := make([]string, 3000)
		for i := range batch {
			batch[i] = storeRecords[1]
		}
		writeStore(t, big, batch)
		ctx, cancel := context.WithCancel(t.Context())
		n := 0
		err := ScanFiles(ctx, []string{big}, Query{}, func([]byte, map[string]any) error {
			n++
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) || n >= len(batch) {
			t.Errorf("error %v after %d records, want canceled early", err, n)
		}
	})
	t.Run("damaged segment", func(t *testing.T) {
		f, err := os.OpenFile(segs[0], os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString("torn frame"); err != nil {
			t.Fatal(err)
		}
		f.Close()
		got, err := scanIDs(t, []string{store}, Query{})
		if err == nil || !strings.Contains(err.Error(), filepath.Base(segs[0])) {
			t.Errorf("error %v, want the damaged segment named", err)
		}
		if want := []string{"a", "b", "c", "d", "e"}; !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v: a damaged segment does not stop the scan", got, want)
		}
	})
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func jsonDecoder(s string) *json.Decoder {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	return dec
}

func isJSONObject(b []byte) bool { return json.Valid(b) && len(b) > 0 && b[0] == '{' }

// FuzzTopLevel: on every JSON object, topLevel finds the keys and values
// encoding/json finds.
func FuzzTopLevel(f *testing.F) {
	for _, r := range append(storeRecords, `{}`, ` { "a" : [1,{"b":"}"}] , "a\"b":"x\\"} `, `{"a":1,"a":2}`, `{"a":1,}`) {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, line string) {
		var want map[string]json.RawMessage
		if json.Unmarshal([]byte(line), &want) != nil || want == nil {
			return
		}
		got := map[string]json.RawMessage{}
		if !topLevel([]byte(line), func(k string, v []byte) bool {
			got[k] = v
			return true
		}) {
			t.Fatalf("topLevel refused %q", line)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: keys %v, want %v", line, got, want)
		}
		for k, v := range want {
			if !bytes.Equal(bytes.TrimSpace(got[k]), bytes.TrimSpace(v)) {
				t.Fatalf("%q: %q = %q, want %q", line, k, got[k], v)
			}
		}
	})
}
