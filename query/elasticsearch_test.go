package query

// The Elasticsearch answers these tests replay are DOCUMENTED examples
// (testdata/elasticsearch/*.documented.json, composed from
// Elasticsearch's documented response shapes; see its README.md), not
// captures: no Elasticsearch or OpenSearch runs here.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// esQuery is the query of the paging tests: two conditions and a time
// range, so that the golden bodies show the DSL.
var esQuery = Query{
	Conds: []Cond{
		{Field: "cloud.provider", Op: Eq, Value: "aws"},
		{Field: "http.route", Op: Ne, Value: "/health"},
	},
	Since: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC),
	Until: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC),
}

// esHeader authenticates the test requests.
var esHeader = http.Header{"Authorization": {"ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="}}

func esPages() []answer {
	return []answer{
		{file: "elasticsearch/page1.documented.json"},
		{file: "elasticsearch/page2.documented.json"},
		{file: "elasticsearch/page3.documented.json"},
	}
}

func TestScanElasticsearchPages(t *testing.T) {
	source := func(url string) Source {
		return Source{URL: ElasticsearchScheme + url + "/" + ElasticsearchDefaultIndex, Header: esHeader}
	}
	checkScanPages(t, withPageSize(scanElasticsearch, fixturePageSize), esQuery, source, []scanPagesCase{
		{"three pages, the last short", 0, esPages(), chainIDs, 3, "elasticsearch/paging.golden"},
		{"limit over two pages", 5, esPages()[:2], chainIDs[:5], 2, "elasticsearch/limit.golden"},
		{"limit within the first page", 2, esPages()[:1], chainIDs[:2], 1, "elasticsearch/limit_one_page.golden"},
		{"limit of exactly one page", 3, esPages()[:1], chainIDs[:3], 1, ""},
	})
}

// TestScanElasticsearchRawIsSource proves that raw is the hit's _source
// byte for byte, even when it is not laid out as the extension writes
// records (page 1's second hit).
func TestScanElasticsearchRawIsSource(t *testing.T) {
	srv := newReplay(t, esPages()...)
	var c collected
	if err := scanElasticsearch(t.Context(), Source{URL: srv.URL}, Query{}, nil, fixturePageSize, c.add); err != nil {
		t.Fatal(err)
	}
	var sources [][]byte
	for _, p := range esPages() {
		sources = append(sources, esSourcesOf(t, readTestdata(t, p.file))...)
	}
	if len(c.raws) != len(sources) {
		t.Fatalf("%d records, %d _source in the fixtures", len(c.raws), len(sources))
	}
	for i := range sources {
		if !bytes.Equal(c.raws[i], sources[i]) {
			t.Errorf("record %d: raw\n%s\nis not _source\n%s", i, c.raws[i], sources[i])
		}
	}
	if odd := c.raws[1]; !bytes.Contains(odd, []byte(" :\t")) || !bytes.HasPrefix(odd, []byte("{ \n")) {
		t.Errorf("the spaced-out _source came back re-encoded: %s", odd)
	}
	audit, _ := c.recs[1]["audit"].(map[string]any)
	if seq, ok := audit["seq"].(json.Number); !ok || seq != "6" {
		t.Errorf("audit.seq = %#v, want json.Number 6", audit["seq"])
	}
	verifyChain(t, c.raws)
}

// esSourcesOf cuts the _source values out of a fixture's text, without
// decoding it.
func esSourcesOf(t *testing.T, page []byte) [][]byte {
	t.Helper()
	var out [][]byte
	const start, end = `"_source" : `, ",\n        \"sort\""
	for {
		i := bytes.Index(page, []byte(start))
		if i < 0 {
			return out
		}
		page = page[i+len(start):]
		j := bytes.Index(page, []byte(end))
		if j < 0 {
			t.Fatal("fixture layout: no sort after _source")
		}
		out = append(out, page[:j])
		page = page[j:]
	}
}

func TestScanElasticsearchAddresses(t *testing.T) {
	tests := []struct {
		path     string // appended to the server's URL
		wantPath string
	}{
		{"", "/logs-audittrail-default/_search"},
		{"/", "/logs-audittrail-default/_search"},
		{"/audit", "/audit/_search"},
		{"/audit/", "/audit/_search"},
		{"/logs-audittrail-*", "/logs-audittrail-%2A/_search"},
		{"/es/logs-x", "/es/logs-x/_search"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			srv := newReplay(t, answer{file: "elasticsearch/page3.documented.json"})
			var c collected
			if err := ScanElasticsearch(t.Context(), Source{URL: srv.URL + tt.path}, Query{}, nil, c.add); err != nil {
				t.Fatal(err)
			}
			reqs := srv.requests()
			if len(reqs) != 1 || !strings.HasPrefix(reqs[0], "POST "+tt.wantPath+"\n") {
				t.Errorf("requests %q, want one POST %s", reqs, tt.wantPath)
			}
			if len(c.raws) != 1 {
				t.Errorf("%d records, want 1", len(c.raws))
			}
		})
	}
	t.Run("page size", func(t *testing.T) {
		srv := newReplay(t, answer{file: "elasticsearch/page3.documented.json"})
		if err := ScanElasticsearch(t.Context(), Source{URL: srv.URL}, Query{}, nil, func([]byte, map[string]any) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if reqs := srv.requests(); len(reqs) != 1 || !strings.Contains(reqs[0], `"size":1000,`) {
			t.Errorf("want one request of size 1000: %q", reqs)
		}
	})
	checkBadAddresses(t, ScanElasticsearch, "elasticsearch address",
		[]string{"", "elasticsearch+", "ftp://h:9200/i", "elasticsearch+localhost:9200", "http://", "http://h:9200/i?pretty", "http://h:9200/i#x", "http://elastic:changeme@h:9200/i", "http://[::1"})
	t.Run("invalid condition", func(t *testing.T) {
		err := ScanElasticsearch(t.Context(), Source{URL: "http://127.0.0.1:1"}, Query{Conds: []Cond{{Field: "a", Op: "~", Value: "b"}}}, nil, nil)
		if err == nil || !strings.Contains(err.Error(), "unknown comparison") {
			t.Errorf("err %v", err)
		}
	})
}

func TestScanElasticsearchErrors(t *testing.T) {
	hit := func(source, sort string) string {
		return `{"timed_out":false,"_shards":{"total":1,"successful":1,"failed":0},"hits":{"hits":[{"_index":"i","_id":"x","_source":` + source + sort + `}]}}`
	}
	full := func(n int) string { // n hits without sort values
		hits := strings.Repeat(`{"_index":"i","_id":"x","_source":{"a":1}},`, n)
		return `{"timed_out":false,"hits":{"hits":[` + strings.TrimSuffix(hits, ",") + `]}}`
	}
	checkScanErrors(t, withPageSize(scanElasticsearch, fixturePageSize), []scanErrorCase{
		{"parsing exception", []answer{{status: 400, file: "elasticsearch/error_parsing_exception.documented.json"}}, 0,
			"400 Bad Request: parsing_exception: [wildcard] query does not support [valu]"},
		{"no such index", []answer{{status: 404, file: "elasticsearch/error_index_not_found.documented.json"}}, 0,
			"404 Not Found: index_not_found_exception: no such index [logs-audittrail-default]"},
		{"no credentials", []answer{{status: 401, file: "elasticsearch/error_security_exception.documented.json"}}, 0,
			"401 Unauthorized: security_exception: missing authentication credentials for REST request [/logs-audittrail-default/_search]"},
		{"all shards failed", []answer{{status: 400, file: "elasticsearch/error_all_shards_failed.documented.json"}}, 0,
			"search_phase_execution_exception: all shards failed (root cause: query_shard_exception: No mapping found for [event.id] in order to sort on)"},
		{"a shard failed", []answer{{file: "elasticsearch/shard_failures.documented.json"}}, 0,
			"1 of 2 shards failed, the answer is partial: [.ds-logs-audittrail-default-2026.11.21-000001][0] on node b8W9xhvTSuKzbvuQ4a7x7Q: node_not_connected_exception: [es-node-2][10.0.1.12:9300] Node not connected"},
		{"timed out", []answer{{file: "elasticsearch/timed_out.documented.json"}}, 0, "the search timed out: its answer is partial"},
		{"caused by", []answer{{status: 500, body: `{"error":{"type":"a","reason":"r","caused_by":{"type":"b","reason":"s"}},"status":500}`}}, 0,
			"500 Internal Server Error: a: r (caused by b: s)"},
		{"error as a string", []answer{{status: 400, body: `{"error":"IndexMissingException[[x] missing]","status":404}`}}, 0, "IndexMissingException[[x] missing]"},
		{"proxy page", []answer{{status: 502, body: "<html><body>Bad Gateway</body></html>", header: http.Header{"Content-Type": {"text/html"}}}}, 0,
			"502 Bad Gateway: <html><body>Bad Gateway</body></html>"},
		{"long body cut", []answer{{status: 503, body: strings.Repeat("x", 10000)}}, 0, "503 Service Unavailable: " + strings.Repeat("x", answerExcerpt) + "..."},
		{"not JSON", []answer{{body: "ok"}}, 0, "not a search answer"},
		{"no hits", []answer{{body: `{"took":1}`}}, 0, "not a search answer (no hits)"},
		{"no _source", []answer{{body: hit(`null`, "")}}, 0, "hit [i][x] has no _source"},
		{"_source not an object", []answer{{body: hit(`[1]`, "")}}, 0, "hit [i][x]: _source: not a JSON object"},
		{"sort not an array", []answer{{body: hit(`{}`, `,"sort":1`)}}, 0, "hit [i][x]: sort is not an array"},
		{"full page without sort", []answer{{body: full(fixturePageSize)}}, fixturePageSize, "hit [i][x] has no sort values to page on"},
		{"redirect", []answer{{status: 307, header: http.Header{"Location": {"https://elsewhere.example/"}}}}, 0,
			`307 Temporary Redirect to "https://elsewhere.example/": redirects are not followed`},
	})
}

func TestScanElasticsearchStops(t *testing.T) {
	checkPagedScanStops(t, scanElasticsearch, ScanElasticsearch, ElasticsearchScheme, esPages())
}

func TestESPageBody(t *testing.T) {
	base := map[string]json.RawMessage{"query": json.RawMessage(`{"term":{"a":"<&>"}}`)}
	got, err := esPageBody(base, 7, json.RawMessage(`[1795341960185,"e<7>"]`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"query":{"term":{"a":"<&>"}},"search_after":[1795341960185,"e<7>"],"size":7,"track_total_hits":false}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, ok := base["size"]; ok {
		t.Error("the base body was changed")
	}
	// The sort value is sent back as it came, digits and all: no float
	// rounding of a date_nanos sort value.
	got, _ = esPageBody(base, 1, json.RawMessage(`[1795341960185123456]`))
	if !bytes.Contains(got, []byte(`[1795341960185123456]`)) {
		t.Errorf("sort value changed: %s", got)
	}
}

func FuzzESParsePage(f *testing.F) {
	for _, name := range []string{"page1", "page2", "page3", "shard_failures", "timed_out", "error_parsing_exception"} {
		f.Add(readTestdata(f, "elasticsearch/"+name+".documented.json"))
	}
	for _, s := range []string{`{}`, `{"hits":{"hits":[{"_source":{"a":1},"sort":[1]}]}}`, `{"hits":{"hits":[{"_source":"x"}]}}`, `{"_shards":{"failed":-1},"hits":{}}`, `[]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, answer []byte) {
		hits, err := esParsePage(answer)
		if err != nil {
			return
		}
		for _, h := range hits {
			back, err := decodeObject(h.source)
			if err != nil || !reflect.DeepEqual(back, h.rec) {
				t.Errorf("hit %s: _source %s is not rec %v (%v)", h.name(), h.source, h.rec, err)
			}
			if len(h.sort) > 0 && h.sort[0] != '[' {
				t.Errorf("hit %s: sort %s kept", h.name(), h.sort)
			}
		}
		_ = esErrorText(answer)
	})
}

// FuzzESErrorText feeds error answers to the error renderer, which must
// stay bounded.
func FuzzESErrorText(f *testing.F) {
	for _, name := range []string{"error_parsing_exception", "error_index_not_found", "error_security_exception", "error_all_shards_failed"} {
		f.Add(readTestdata(f, "elasticsearch/"+name+".documented.json"))
	}
	f.Add([]byte(`{"error":{"caused_by":{"caused_by":{"caused_by":{"caused_by":{"type":"deep"}}}}}}`))
	f.Fuzz(func(t *testing.T, answer []byte) {
		if s := esErrorText(answer); len(s) > 2*answerExcerpt+3 {
			t.Errorf("error text of %d bytes", len(s))
		}
	})
}
