package query

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/audittrail/audittrail/internal/peers"
)

// vlScanIDs runs ScanVictoriaLogs and returns the sorted event.ids of the
// hits, checking that raw is the JSON of rec.
func vlScanIDs(t *testing.T, base string, q Query) ([]string, error) {
	t.Helper()
	var ids []string
	err := ScanVictoriaLogs(t.Context(), base, q, nil, func(raw []byte, rec map[string]any) error {
		var back map[string]any
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Errorf("raw is not JSON: %v: %s", err, raw)
		} else if !reflect.DeepEqual(back, rec) {
			t.Errorf("raw %s is not rec %v", raw, rec)
		}
		ev, _ := rec["event"].(map[string]any)
		id, _ := ev["id"].(string)
		ids = append(ids, id)
		return nil
	})
	slices.Sort(ids)
	return ids, err
}

func TestScanVictoriaLogs(t *testing.T) {
	vl := peers.VictoriaLogs(t, peers.VictoriaLogsOptions{})
	vlInsertJSONLines(t, vl.URL, vlAuditRecords)
	vl.Flush(t)
	tests := []struct {
		name string
		base string
		q    Query
		want []string
	}{
		{"equality", vl.URL, Query{Conds: []Cond{{Field: "http.request.method", Op: Eq, Value: "DELETE"}}}, []string{"e2", "e3"}},
		{"two conditions, with scheme prefix", VictoriaLogsScheme + vl.URL, Query{Conds: []Cond{{Field: "http.request.method", Op: Eq, Value: "DELETE"}, {Field: "event.outcome", Op: Eq, Value: "failure"}}}, []string{"e3"}},
		{"wildcard", vl.URL + "/", Query{Conds: []Cond{{Field: "url.path", Op: Eq, Value: "/users/*", Wildcard: true}}}, []string{"e2", "e3", "e6"}},
		{"numeric range", vl.URL, Query{Conds: []Cond{{Field: "http.response.status_code", Op: Gt, Value: "200"}, {Field: "http.response.status_code", Op: Lt, Value: "500"}}}, []string{"e2", "e4", "e6"}},
		{"none", vl.URL, Query{Conds: []Cond{{Field: "faas.name", Op: Eq, Value: "orders"}}}, nil},
		{"all", vl.URL, Query{}, []string{"e1", "e2", "e3", "e4", "e5", "e6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := vlScanIDs(t, tt.base, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("LogsQL %s: got %v, want %v", LogsQL(tt.q), got, tt.want)
			}
		})
	}

	t.Run("limit", func(t *testing.T) {
		got, err := vlScanIDs(t, vl.URL, Query{Conds: []Cond{{Field: "event.kind", Op: Eq, Value: "event"}}, Limit: 2})
		if err != nil || len(got) != 2 || slices.Contains(got, "e5") {
			t.Errorf("got %v, %v; want 2 of kind event", got, err)
		}
	})
	t.Run("nested record", func(t *testing.T) {
		var recs []map[string]any
		q := Query{Conds: []Cond{{Field: "event.id", Op: Eq, Value: "e1"}}}
		err := ScanVictoriaLogs(t.Context(), vl.URL, q, nil, func(_ []byte, rec map[string]any) error {
			recs = append(recs, rec)
			return nil
		})
		if err != nil || len(recs) != 1 {
			t.Fatalf("got %d records, %v", len(recs), err)
		}
		rec := recs[0]
		for field, want := range map[string]string{
			"http.request.method":       "GET",
			"http.response.status_code": "200", // a string: VictoriaLogs returns text
			"faas.coldstart":            "true",
			"@timestamp":                "2026-11-22T10:00:00Z",
		} {
			if got := cellText(rec, field); got != want {
				t.Errorf("%s = %q, want %q (record %v)", field, got, want, rec)
			}
		}
		if _, flat := rec["http.request.method"]; flat {
			t.Errorf("dotted name left flat: %v", rec)
		}
	})
	t.Run("callback error", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := ScanVictoriaLogs(t.Context(), vl.URL, Query{}, nil, func([]byte, map[string]any) error {
			calls++
			return stop
		})
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("err %v after %d calls, want stop after 1", err, calls)
		}
	})
}

func TestScanVictoriaLogsAnswers(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		want    []string
		wantErr string
	}{
		{"garbage lines skipped", 200, "not json\n{\"event.id\":\"a\"}\n[1,2]\n{\"event.id\":\"b\"\n\n\"x\"\n{\"event.id\":\"c\"} trailing\n{\"event.id\":\"d\"}\n", []string{"a", "d"}, ""},
		{"empty answer", 200, "", nil, ""},
		{"server error", 400, "cannot parse query: unexpected token\n", nil, "400 Bad Request: cannot parse query: unexpected token"},
		{"long error body cut", 500, strings.Repeat("x", 10000), nil, "500 Internal Server Error: " + strings.Repeat("x", vlErrorExcerpt)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotQuery string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/select/logsql/query" {
					http.NotFound(w, r)
					return
				}
				gotQuery = r.FormValue("query")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			q := Query{Conds: []Cond{{Field: "event.id", Op: Ne, Value: "z"}}}
			got, err := vlScanIDs(t, srv.URL, q)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q in it", err, tt.wantErr)
				}
				if len(err.Error()) > vlErrorExcerpt+200 {
					t.Errorf("error of %d bytes, want the body cut", len(err.Error()))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if gotQuery != LogsQL(q) {
				t.Errorf("server got query %q, want %q", gotQuery, LogsQL(q))
			}
		})
	}
}

func TestScanVictoriaLogsBadAddress(t *testing.T) {
	for _, base := range []string{"", "victorialogs+", "ftp://h:1", "victorialogs+localhost:9428", "http://", "http://h:1/?x=1", "http://[::1"} {
		err := ScanVictoriaLogs(context.Background(), base, Query{}, nil, func([]byte, map[string]any) error {
			t.Errorf("%q: callback called", base)
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), "victorialogs address") {
			t.Errorf("%q: err %v, want a victorialogs address error", base, err)
		}
	}
}

func TestUnflatten(t *testing.T) {
	tests := []struct {
		name string
		flat map[string]any
		want map[string]any
	}{
		{"nested", map[string]any{"a.b.c": "1", "a.d": "2", "e": "3"}, map[string]any{"a": map[string]any{"b": map[string]any{"c": "1"}, "d": "2"}, "e": "3"}},
		{"leaf and object collide", map[string]any{"a": "x", "a.b": "y"}, map[string]any{"a": "x", "a.b": "y"}},
		{"deeper collision", map[string]any{"a.b": "x", "a.b.c": "y"}, map[string]any{"a": map[string]any{"b": "x", "b.c": "y"}}},
		{"empty parts kept flat", map[string]any{".a": "1", "b..c": "2", "d.": "3"}, map[string]any{".a": "1", "b..c": "2", "d.": "3"}},
		{"empty", map[string]any{}, map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unflatten(tt.flat); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzVLRecord(f *testing.F) {
	for _, s := range []string{`{"a.b":"1","a":"2"}`, `{"_time":"2026-11-22T10:00:00Z","x..y":"z"}`, `garbage`, `{"a.b":{"c":"d"},"a.b.c":"e"}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		rec, ok := vlRecord(line)
		if !ok {
			return
		}
		if _, err := json.Marshal(rec); err != nil {
			t.Errorf("record of %q does not encode: %v", line, err)
		}
	})
}
