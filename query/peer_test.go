package query

// Real-receiver tests: queries compiled by LogsQL run against a real
// VictoriaLogs (internal/peers), which must return exactly the records the
// query describes.
//
// Elasticsearch, Splunk and Datadog have no query-capable peer here (the
// peers ingest their formats but answer only LogsQL), so their compilers
// are tested against the documented syntax alone (compile_test.go).

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/audittrail/audittrail/internal/peers"
)

// vlAuditRecords are real-shaped audit records (the schema's nested form),
// one per event.id, with values that need quoting.
var vlAuditRecords = []string{
	`{"@timestamp":"2026-11-22T10:00:00.000Z","event":{"id":"e1","kind":"event","action":"invoke","outcome":"success","duration":1500000},"http":{"request":{"method":"GET"},"response":{"status_code":200}},"url":{"path":"/orders"},"faas":{"name":"orders-api","coldstart":true}}`,
	`{"@timestamp":"2026-11-22T10:01:00.000Z","event":{"id":"e2","kind":"event","action":"invoke","outcome":"success","duration":2500000},"http":{"request":{"method":"DELETE"},"response":{"status_code":204}},"url":{"path":"/users/42"},"faas":{"name":"orders-api"}}`,
	`{"@timestamp":"2026-11-22T10:02:00.000Z","event":{"id":"e3","kind":"event","action":"invoke","outcome":"failure","duration":9000000},"http":{"request":{"method":"DELETE"},"response":{"status_code":500}},"url":{"path":"/users/7/keys"},"faas":{"name":"orders-api"}}`,
	`{"@timestamp":"2026-11-22T10:03:00.000Z","event":{"id":"e4","kind":"event","action":"invoke","outcome":"failure","duration":100000},"http":{"request":{"method":"POST"},"response":{"status_code":403}},"url":{"path":"/a \"quoted\" path: (x)\\y"},"faas":{"name":"orders-api"}}`,
	`{"@timestamp":"2026-11-22T10:04:00.000Z","event":{"id":"e5","kind":"state","action":"shutdown","outcome":"unknown","reason":"spindown"},"faas":{"name":"billing"}}`,
	`{"@timestamp":"2026-11-22T10:05:00.000Z","event":{"id":"e6","kind":"event","action":"invoke","outcome":"success","duration":3000000},"http":{"request":{"method":"GET"},"response":{"status_code":404}},"url":{"path":"/users/*"},"faas":{"name":"billing"}}`,
}

// vlInsertJSONLines posts records to VictoriaLogs' jsonline endpoint.
func vlInsertJSONLines(t *testing.T, base string, records []string) {
	t.Helper()
	var body bytes.Buffer
	for _, r := range records {
		if !json.Valid([]byte(r)) {
			t.Fatalf("test record is not JSON: %s", r)
		}
		body.WriteString(r)
		body.WriteByte('\n')
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		base+"/insert/jsonline?_time_field=@timestamp&_msg_field=event.action", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/stream+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("insert: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("insert: %s", resp.Status)
	}
}

func vlIDs(rows []map[string]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r["event.id"])
	}
	slices.Sort(out)
	return out
}

func TestLogsQLOnVictoriaLogs(t *testing.T) {
	vl := peers.VictoriaLogs(t, peers.VictoriaLogsOptions{})
	vlInsertJSONLines(t, vl.URL, vlAuditRecords)
	if got := vlIDs(vl.Query(t, "*")); len(got) != len(vlAuditRecords) {
		t.Fatalf("stored %v, want %d records", got, len(vlAuditRecords))
	}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name string
		q    Query
		want []string // event.id, sorted; nil: none
	}{
		{"equality", Query{Conds: []Cond{{Field: "http.request.method", Op: Eq, Value: "DELETE"}}}, []string{"e2", "e3"}},
		{"two conditions", Query{Conds: []Cond{{Field: "http.request.method", Op: Eq, Value: "DELETE"}, {Field: "event.outcome", Op: Eq, Value: "failure"}}}, []string{"e3"}},
		{"not equal, missing field included", Query{Conds: []Cond{{Field: "http.request.method", Op: Ne, Value: "GET"}}}, []string{"e2", "e3", "e4", "e5"}},
		{"equality is exact, not a word match", Query{Conds: []Cond{{Field: "faas.name", Op: Eq, Value: "orders"}}}, nil},
		{"prefix wildcard", Query{Conds: []Cond{{Field: "url.path", Op: Eq, Value: "/users/*", Wildcard: true}}}, []string{"e2", "e3", "e6"}},
		{"inner wildcard", Query{Conds: []Cond{{Field: "url.path", Op: Eq, Value: "/users/*/keys", Wildcard: true}}}, []string{"e3"}},
		{"literal star is not a wildcard", Query{Conds: []Cond{{Field: "url.path", Op: Eq, Value: "/users/*"}}}, []string{"e6"}},
		{"negated wildcard", Query{Conds: []Cond{{Field: "url.path", Op: Ne, Value: "/users/*", Wildcard: true}}}, []string{"e1", "e4", "e5"}},
		{"value with quotes, colon, parens, backslash", Query{Conds: []Cond{{Field: "url.path", Op: Eq, Value: `/a "quoted" path: (x)\y`}}}, []string{"e4"}},
		{"wildcard over specials", Query{Conds: []Cond{{Field: "url.path", Op: Eq, Value: `/a "quoted"*(x)\y`, Wildcard: true}}}, []string{"e4"}},
		{"numeric >=", Query{Conds: []Cond{{Field: "http.response.status_code", Op: Ge, Value: "404"}}}, []string{"e3", "e6"}},
		{"numeric range", Query{Conds: []Cond{{Field: "http.response.status_code", Op: Gt, Value: "200"}, {Field: "http.response.status_code", Op: Lt, Value: "500"}}}, []string{"e2", "e4", "e6"}},
		{"numeric <= is numeric, not lexicographic", Query{Conds: []Cond{{Field: "event.duration", Op: Le, Value: "2500000"}}}, []string{"e1", "e2", "e4"}},
		{"time range", Query{Since: at("2026-11-22T10:01:00Z"), Until: at("2026-11-22T10:03:00Z")}, []string{"e2", "e3"}},
		{"since only", Query{Since: at("2026-11-22T10:04:00Z")}, []string{"e5", "e6"}},
		{"@timestamp condition", Query{Conds: []Cond{{Field: "@timestamp", Op: Lt, Value: "2026-11-22T10:01:00Z"}}}, []string{"e1"}},
		{"@timestamp equality", Query{Conds: []Cond{{Field: "@timestamp", Op: Eq, Value: "2026-11-22T10:02:00Z"}}}, []string{"e3"}},
		{"@timestamp not equal", Query{Conds: []Cond{{Field: "@timestamp", Op: Ne, Value: "2026-11-22T10:02:00Z"}}}, []string{"e1", "e2", "e4", "e5", "e6"}},
		{"numeric range with fraction", Query{Conds: []Cond{{Field: "http.response.status_code", Op: Gt, Value: "403.5"}}}, []string{"e3", "e6"}},
		{"empty value matches a missing field", Query{Conds: []Cond{{Field: "http.request.method", Op: Eq, Value: ""}}}, []string{"e5"}},
		{"string range", Query{Conds: []Cond{{Field: "faas.name", Op: Lt, Value: "c"}}}, []string{"e5", "e6"}},
		{"invalid condition matches nothing", Query{Conds: []Cond{{Field: "faas.name", Op: "~", Value: "x"}}}, nil},
		{"injection attempt stays a value", Query{Conds: []Cond{{Field: "faas.name", Op: Eq, Value: `x" or * or "`}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logsql := LogsQL(tt.q)
			got := vlIDs(vl.Query(t, logsql))
			t.Logf("%s -> %v", logsql, got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("LogsQL %s\n got %v\nwant %v", logsql, got, tt.want)
			}
		})
	}

	t.Run("limit: the newest", func(t *testing.T) {
		q := Query{Conds: []Cond{{Field: "event.kind", Op: Eq, Value: "event"}}, Limit: 2}
		logsql := LogsQL(q)
		if got := vlIDs(vl.Query(t, logsql)); !slices.Equal(got, []string{"e4", "e6"}) {
			t.Fatalf("LogsQL %s: got %v, want the two newest events, e4 and e6", logsql, got)
		}
	})
	t.Run("no query", func(t *testing.T) {
		if got := vlIDs(vl.Query(t, LogsQL(Query{}))); len(got) != len(vlAuditRecords) {
			t.Errorf("LogsQL %q: got %v, want all %d", LogsQL(Query{}), got, len(vlAuditRecords))
		}
	})
}
