package query

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// outputRecords are records as the demo's trail holds them, with a missing
// field, an array and a control character.
var outputRecords = []string{
	`{"@timestamp":"2026-11-22T10:00:00.063Z","event":{"action":"init","outcome":"success"}}`,
	`{"@timestamp":"2026-11-22T10:00:01Z","event":{"action":"invocation","outcome":"failure"},"http":{"request":{"method":"DELETE"},"route":"/users/{id}","response":{"status_code":403}},"user":{"id":"user-7f3a"},"client":{"address":"203.0.113.10"}}`,
	`{"@timestamp":"2026-11-22T10:00:02Z","event":{"action":"invocation","outcome":"success"},"http":{"request":{"method":"GET","header":{"x-forwarded-for":["a","b"]}},"route":"/health","response":{"status_code":200}},"user":{"id":"evil\u001b[31m\tname"},"client":{"address":"192.0.2.66"}}`,
}

func writeAll(t *testing.T, format string, fields []string, recs []string) string {
	t.Helper()
	var b bytes.Buffer
	out, err := NewOutput(&b, format, fields)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		var rec map[string]any
		if err := jsonDecoder(r).Decode(&rec); err != nil {
			t.Fatal(err)
		}
		if err := out.Add([]byte(r), rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestTableGolden(t *testing.T) {
	got := writeAll(t, FormatTable, nil, outputRecords)
	golden := filepath.Join("testdata", "table.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil || got != string(want) {
		t.Errorf("table differs from %s (go test ./query -update, and review the diff): %v\n%s", golden, err, got)
	}
}

func TestTableFields(t *testing.T) {
	got := writeAll(t, FormatTable, []string{"http.request.method", "http.request.header.x-forwarded-for", "http.request.header", "user.id"}, outputRecords[1:])
	want := "http.request.method  http.request.header.x-forwarded-for  http.request.header            user.id\n" +
		"DELETE               -                                    -                              user-7f3a\n" +
		`GET                  a,b                                  {"x-forwarded-for":["a","b"]}  evil?[31m?name` + "\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := writeAll(t, FormatTable, nil, nil); got != "no matching records\n" {
		t.Errorf("no records: %q", got)
	}
}

func TestJSONOutputs(t *testing.T) {
	got := writeAll(t, FormatJSON, nil, outputRecords)
	var arr []map[string]any
	if err := json.Unmarshal([]byte(got), &arr); err != nil || len(arr) != len(outputRecords) {
		t.Fatalf("json output is not an array of %d records: %v\n%s", len(outputRecords), err, got)
	}
	if got := writeAll(t, FormatJSON, nil, nil); got != "[]\n" {
		t.Errorf("json with no records: %q", got)
	}
	if got, want := writeAll(t, FormatNDJSON, nil, outputRecords), strings.Join(outputRecords, "\n")+"\n"; got != want {
		t.Errorf("ndjson is not the raw records:\n%s", got)
	}
	if _, err := NewOutput(&bytes.Buffer{}, "yaml", nil); err == nil {
		t.Error("NewOutput accepted yaml")
	}
}

func TestParseFields(t *testing.T) {
	tests := []struct {
		list string
		want string // joined with |, or "error"
	}{
		{"a,b.c", "a|b.c"},
		{" a , ,@timestamp ", "a|@timestamp"},
		{"", "error"},
		{",", "error"},
		{"a,B", "error"},
		{"a;b", "error"},
	}
	for _, tt := range tests {
		got, err := ParseFields(tt.list)
		s := strings.Join(got, "|")
		if err != nil {
			s = "error"
		}
		if s != tt.want {
			t.Errorf("ParseFields(%q) = %q (%v), want %q", tt.list, s, err, tt.want)
		}
	}
}
