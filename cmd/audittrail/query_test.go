package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audittrail/audittrail/sinks/file"
)

// queryTrail are the records of the small trail the query tests read.
var queryTrail = []string{
	`{"@timestamp":"2026-11-22T10:00:00Z","event":{"id":"1","action":"init","outcome":"success"}}`,
	`{"@timestamp":"2026-11-22T10:00:01Z","event":{"id":"2","action":"invocation","outcome":"success"},"http":{"request":{"method":"GET"},"route":"/users/{id}","response":{"status_code":200}},"user":{"id":"user-7f3a"},"client":{"address":"203.0.113.10"}}`,
	`{"@timestamp":"2026-11-22T10:00:02Z","event":{"id":"3","action":"invocation","outcome":"failure"},"http":{"request":{"method":"DELETE"},"route":"/users/{id}","response":{"status_code":403}},"user":{"id":"user-7f3a"},"client":{"address":"203.0.113.10"}}`,
	`{"@timestamp":"2026-11-22T10:00:03Z","event":{"id":"4","action":"invocation","outcome":"failure"},"http":{"request":{"method":"GET"},"route":"/error","response":{"status_code":500}},"user":{"id":"user-7f3a"},"client":{"address":"203.0.113.10"}}`,
	`{"@timestamp":"2026-11-22T10:00:04Z","event":{"id":"5","action":"shutdown","outcome":"success"}}`,
}

// writeQueryTrail writes queryTrail as a file store in dir/trail.
func writeQueryTrail(t *testing.T, dir string) string {
	t.Helper()
	store := filepath.Join(dir, "trail")
	s, err := file.New(file.Config{Dir: store})
	if err != nil {
		t.Fatal(err)
	}
	var batch [][]byte
	for _, r := range queryTrail {
		batch = append(batch, []byte(r))
	}
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	return store
}

func TestQueryCommand(t *testing.T) {
	store := writeQueryTrail(t, t.TempDir())
	now := time.Date(2026, 11, 22, 10, 0, 4, 0, time.UTC)
	ids := func(out string) string { // the event ids of ndjson output
		var got []string
		for line := range strings.Lines(out) {
			var rec struct {
				Event struct{ ID string } `json:"event"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("not ndjson: %q", out)
			}
			got = append(got, rec.Event.ID)
		}
		return strings.Join(got, ",")
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		ids    string // with --output ndjson
		stderr string
	}{
		{"all", []string{"--from", store, ""}, 0, "1,2,3,4,5", ""},
		{"no filter", []string{"--from", store}, 0, "1,2,3,4,5", ""},
		{"filter", []string{"--from", store, "http.response.status_code>=400 user.id=user-*"}, 0, "3,4", ""},
		{"none match", []string{"--from", store, "http.request.method=PATCH"}, 0, "", ""},
		{"limit: the newest, in order", []string{"--from", store, "--limit", "2", "event.action=invocation"}, 0, "3,4", ""},
		{"since duration", []string{"--from", store, "--since", "2s"}, 0, "3,4,5", ""},
		{"since and until", []string{"--from", store, "--since", "2026-11-22T10:00:01Z", "--until", "2026-11-22T10:00:03Z"}, 0, "2,3", ""},
		{"path after filter", []string{"event.action=init", store}, 0, "1", ""},
		{"both", []string{"--from", store, "event.action=init", store}, 0, "1,1", ""},

		{"bad filter", []string{"--from", store, "http.route>/x"}, 2, "", "position 12: > needs a number"},
		{"bad since", []string{"--from", store, "--since", "yesterday", ""}, 2, "", "--since"},
		{"since without unit", []string{"--from", store, "--since", "24", ""}, 2, "", "needs a unit"},
		{"bad until", []string{"--from", store, "--until", "-5m", ""}, 2, "", "positive duration"},
		{"bad limit", []string{"--from", store, "--limit", "-1", ""}, 2, "", "--limit"},
		{"bad output", []string{"--from", store, "--output", "xml", ""}, 2, "", `unknown output "xml"`},
		{"bad fields", []string{"--from", store, "--fields", "A", ""}, 2, "", "field"},
		{"bad flag", []string{"--frm", store}, 2, "", "flag provided but not defined"},
		{"missing trail", []string{"--from", filepath.Join(store, "nope"), ""}, 1, "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"--output", "ndjson"}, tt.args...)
			code := queryCommand(t.Context(), args, now, noEnv, &out, &errOut)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d (stderr %q)", code, tt.code, errOut.String())
			}
			if got := ids(out.String()); got != tt.ids {
				t.Errorf("records %q, want %q", got, tt.ids)
			}
			if !strings.Contains(errOut.String(), tt.stderr) {
				t.Errorf("stderr %q, want %q in it", errOut.String(), tt.stderr)
			}
		})
	}
}

// TestQueryTable runs `audittrail query` as people do, through run, and
// compares the table with testdata/query-table.golden.
func TestQueryTable(t *testing.T) {
	store := writeQueryTrail(t, t.TempDir())
	var out, errOut bytes.Buffer
	code := run(t.Context(), []string{"audittrail", "query", "--from", store, "event.action=invocation"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit code %d: %s", code, errOut.String())
	}
	golden := filepath.Join("testdata", "query-table.golden")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil || out.String() != string(want) {
		t.Errorf("table differs from %s (UPDATE_GOLDEN=1 go test ./cmd/audittrail -run TestQueryTable): %v\n%s", golden, err, out.String())
	}

	out.Reset()
	code = run(t.Context(), []string{"audittrail", "query", "--from", store, "--fields", "event.id,http.route", "--output", "table", "http.route=/users/*"}, &out, &errOut)
	if want := "event.id  http.route\n2         /users/{id}\n3         /users/{id}\n"; code != 0 || out.String() != want {
		t.Errorf("--fields: exit %d, table\n%s\nwant\n%s", code, out.String(), want)
	}

	out.Reset()
	code = run(t.Context(), []string{"audittrail", "query", "--from", store, "--output", "json", "event.id=1"}, &out, &errOut)
	var arr []map[string]any
	if err := json.Unmarshal(out.Bytes(), &arr); code != 0 || err != nil || len(arr) != 1 {
		t.Errorf("--output json: exit %d, %v: %s", code, err, out.String())
	}
}

// TestQueryDefaultTrail: without a path, ./demo-trail is read, and its
// absence is a usage error that says what to do.
func TestQueryDefaultTrail(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"audittrail", "query", ""}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "--from") {
		t.Errorf("without ./demo-trail: exit %d, stderr %q", code, errOut.String())
	}
	store := writeQueryTrail(t, dir)
	if err := os.Rename(store, filepath.Join(dir, "demo-trail")); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	if code := run(t.Context(), []string{"audittrail", "query", "--output", "ndjson", "event.action=shutdown"}, &out, &errOut); code != 0 || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("with ./demo-trail: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}

func TestQueryHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"audittrail", "query", "--help"}, &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "usage: audittrail query") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
	out.Reset()
	if code := run(t.Context(), []string{"audittrail", "help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "query [--from PATH]") {
		t.Errorf("help lacks query: %s", out.String())
	}
}

// TestQueryExplain prints the filter in every SIEM's language, reading no
// trail.
func TestQueryExplain(t *testing.T) {
	var out, errOut bytes.Buffer
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	code := queryCommand(t.Context(), []string{"--explain", "--since", "24h", "http.request.method=DELETE http.response.status_code>=400"}, now, noEnv, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		`"http.request.method":="DELETE" "http.response.status_code":>=400 _time:>=2026-11-30T12:00:00Z`,
		`{"term":{"http.request.method":"DELETE"}}`,
		`earliest=1796040000 http.request.method="DELETE" | where tonumber('http.response.status_code')>=400`,
		`@http.request.method:DELETE @http.response.status_code:>=400`,
		`from 2026-11-30T12:00:00.000Z to now`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("explain lacks %q:\n%s", want, out.String())
		}
	}
	if code := queryCommand(t.Context(), []string{"--explain", "a>b"}, now, noEnv, &out, &errOut); code != 2 {
		t.Errorf("bad filter: exit %d", code)
	}
}

// noEnv is an empty environment.
func noEnv(string) string { return "" }
