package query

// The Datadog answers these tests replay are DOCUMENTED examples
// (testdata/datadog/*.documented.json, composed from the documented shape
// of Datadog's logs search API; see its README.md), not captures: no
// Datadog API is reachable here.

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// ddHeader authenticates the test requests.
var ddHeader = http.Header{"Dd-Api-Key": {"0123456789abcdef0123456789abcdef"}, "Dd-Application-Key": {"0123456789abcdef0123456789abcdef01234567"}}

// ddQuery is the query of the paging tests.
var ddQuery = Query{
	Conds: []Cond{{Field: "cloud.provider", Op: Eq, Value: "aws"}, {Field: "http.route", Op: Ne, Value: "/health"}},
	Since: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC),
	Until: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC),
}

func ddPages() []answer {
	return []answer{
		{file: "datadog/page1.documented.json"},
		{file: "datadog/page2.documented.json"},
		{file: "datadog/page3.documented.json"},
	}
}

// ddRequestBody decodes the body of a dumped request.
func ddRequestBody(t *testing.T, dump string) map[string]any {
	t.Helper()
	_, body, _ := strings.Cut(dump, "\n\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return m
}

func TestScanDatadogPages(t *testing.T) {
	source := func(url string) Source { return Source{URL: DatadogScheme + url, Header: ddHeader} }
	checkScanPages(t, withPageSize(scanDatadog, fixturePageSize), ddQuery, source, []scanPagesCase{
		{"three pages, the last without cursor", 0, ddPages(), chainIDs, 3, "datadog/paging.golden"},
		{"limit over two pages", 4, ddPages()[:2], chainIDs[:4], 2, "datadog/limit.golden"},
		{"limit within the first page", 2, ddPages()[:1], chainIDs[:2], 1, ""},
	})
}

// TestScanDatadogRecords checks where raw and rec come from: the message
// when it is the record, else the attributes.
func TestScanDatadogRecords(t *testing.T) {
	srv := newReplay(t, ddPages()...)
	var c collected
	if err := scanDatadog(t.Context(), Source{URL: srv.URL, Header: ddHeader}, Query{}, nil, fixturePageSize, c.add); err != nil {
		t.Fatal(err)
	}
	if len(c.raws) != 7 {
		t.Fatalf("%d records, want 7", len(c.raws))
	}
	var page1 struct {
		Data []struct {
			Attributes struct {
				Message string `json:"message"`
			} `json:"attributes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(readTestdata(t, "datadog/page1.documented.json"), &page1); err != nil {
		t.Fatal(err)
	}
	if msg := page1.Data[1].Attributes.Message; string(c.raws[1]) != msg || msg == "" {
		t.Errorf("raw of the log whose message is the record:\n%s\nwant the message\n%s", c.raws[1], msg)
	}
	if got := cellText(c.recs[2], "@timestamp"); got != "2026-11-22T10:04:00.111Z" {
		t.Errorf("@timestamp of the log without it = %q, want the log's timestamp", got)
	}
	if v := c.recs[0]["aws"].(map[string]any)["lambda"].(map[string]any)["memory_size_mb"]; v != json.Number("128") {
		t.Errorf("memory_size_mb = %#v, want json.Number 128", v)
	}
	if strings.Contains(string(c.raws[0]), `\u003c`) {
		t.Errorf("rebuilt raw escapes HTML: %s", c.raws[0])
	}
}

func TestScanDatadogAddresses(t *testing.T) {
	tests := []struct {
		name    string
		address string
		q       Query
		want    map[string]any // the filter sent
	}{
		{"open range, all indexes", "", Query{},
			map[string]any{"query": "source:audittrail", "from": "1970-01-01T00:00:00.000Z", "to": "now"}},
		{"indexes and storage tier", "/?indexes=main,audit&storage_tier=flex", Query{Conds: []Cond{{Field: "user.id", Op: Eq, Value: "a b"}}, Until: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)},
			map[string]any{"query": `source:audittrail @user.id:a\ b`, "from": "1970-01-01T00:00:00.000Z", "to": "2026-11-23T00:00:00.000Z", "indexes": []any{"main", "audit"}, "storage_tier": "flex"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newReplay(t, answer{file: "datadog/page3.documented.json"})
			if err := ScanDatadog(t.Context(), Source{URL: srv.URL + tt.address}, tt.q, nil, func([]byte, map[string]any) error { return nil }); err != nil {
				t.Fatal(err)
			}
			reqs := srv.requests()
			if len(reqs) != 1 || !strings.HasPrefix(reqs[0], "POST /api/v2/logs/events/search\n") {
				t.Fatalf("requests %q", reqs)
			}
			body := ddRequestBody(t, reqs[0])
			if !reflect.DeepEqual(body["filter"], tt.want) {
				t.Errorf("filter %v, want %v", body["filter"], tt.want)
			}
			if body["sort"] != "-timestamp" || !reflect.DeepEqual(body["page"], map[string]any{"limit": 1000.0}) {
				t.Errorf("sort %v, page %v", body["sort"], body["page"])
			}
		})
	}
	checkBadAddresses(t, ScanDatadog, "datadog address",
		[]string{"", "datadog+", "ftp://api.datadoghq.com", "datadog+api.datadoghq.com", "https://", "https://api.datadoghq.com?site=eu", "https://api.datadoghq.com?indexes=a&indexes=b", "https://api.datadoghq.com#x", "https://key:app@api.datadoghq.com"})
}

func TestScanDatadogErrors(t *testing.T) {
	rateLimit := http.Header{
		"X-Ratelimit-Limit":     {"300"},
		"X-Ratelimit-Period":    {"3600"},
		"X-Ratelimit-Remaining": {"0"},
		"X-Ratelimit-Reset":     {"1234"},
		"X-Ratelimit-Name":      {"logs_list"},
	}
	checkScanErrors(t, withPageSize(scanDatadog, fixturePageSize), []scanErrorCase{
		{"bad request", []answer{{status: 400, file: "datadog/error_400.documented.json"}}, 0, "400 Bad Request: Bad Request"},
		{"forbidden", []answer{{status: 403, file: "datadog/error_403.documented.json"}}, 0, "403 Forbidden: Forbidden"},
		{"rate limited", []answer{{status: 429, file: "datadog/error_429.documented.json", header: rateLimit}}, 0,
			"rate limited (429 Too Many Requests): the limit resets in 1234 s (X-RateLimit-Reset), 300 requests per 3600 s (logs_list); Too many requests"},
		{"rate limited, no headers", []answer{{status: 429, file: "datadog/error_429.documented.json"}}, 0, "rate limited (429 Too Many Requests): no X-RateLimit-Reset given"},
		{"rate limited on the second page", []answer{{file: "datadog/page1.documented.json"}, {status: 429, file: "datadog/error_429.documented.json", header: rateLimit}}, 3, "the limit resets in 1234 s"},
		{"JSON:API errors", []answer{{status: 400, body: `{"errors":[{"status":"400","title":"Bad Request","detail":"page[limit] must be at most 1000"}]}`}}, 0,
			"400 Bad Request: Bad Request: page[limit] must be at most 1000"},
		{"timeout", []answer{{file: "datadog/timeout.documented.json"}}, 0, `the search timed out (meta.status "timeout")`},
		{"warnings", []answer{{file: "datadog/warnings.documented.json"}}, 0,
			"the answer may be partial: Datadog warns unknown_index: One or several indexes are missing or invalid, results hold data from the other indexes: indexes: audit"},
		{"proxy page", []answer{{status: 502, body: "<html>Bad Gateway</html>"}}, 0, "502 Bad Gateway: <html>Bad Gateway</html>"},
		{"long body cut", []answer{{status: 500, body: strings.Repeat("z", 10000)}}, 0, "500 Internal Server Error: " + strings.Repeat("z", answerExcerpt) + "..."},
		{"not JSON", []answer{{body: "ok"}}, 0, "not a log search answer"},
		{"not a search answer", []answer{{body: `{"status":"ok"}`}}, 0, "not a log search answer (no data, no meta)"},
		{"cursor stuck", []answer{{file: "datadog/page1.documented.json"}, {file: "datadog/page1.documented.json"}}, 6, "the answer's cursor (meta.page.after) did not move"},
		{"redirect", []answer{{status: 301, header: http.Header{"Location": {"https://api.datadoghq.eu/api/v2/logs/events/search"}}}}, 0,
			`301 Moved Permanently to "https://api.datadoghq.eu/api/v2/logs/events/search": redirects are not followed`},
	})
}

func TestScanDatadogStops(t *testing.T) {
	checkPagedScanStops(t, scanDatadog, ScanDatadog, DatadogScheme, ddPages())
}

func TestDDRecord(t *testing.T) {
	tests := []struct {
		name      string
		message   string
		attrs     string
		timestamp string
		wantRaw   string // "" for no record
	}{
		{"message is the record", ` {"audit":{"seq":1},"b":2.50} `, `{"b":2.5}`, "", `{"audit":{"seq":1},"b":2.50}`},
		{"message JSON without audit", `{"level":"info"}`, `{"level":"info","x":"<y>"}`, "", `{"level":"info","x":"<y>"}`},
		{"message not an object", `[1]`, `{"a":1}`, "", `{"a":1}`},
		{"timestamp added", "", `{"a":1}`, "2026-11-22T10:00:00.000Z", `{"@timestamp":"2026-11-22T10:00:00.000Z","a":1}`},
		{"timestamp kept", "", `{"@timestamp":"x"}`, "2026-11-22T10:00:00.000Z", `{"@timestamp":"x"}`},
		{"no attributes", "hello", ``, "", ""},
		{"empty attributes", "hello", `{}`, "", ""},
		{"attributes not an object", "", `[]`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, rec := ddRecord(tt.message, json.RawMessage(tt.attrs), tt.timestamp)
			if string(raw) != tt.wantRaw {
				t.Errorf("raw %s, want %s", raw, tt.wantRaw)
			}
			if (rec == nil) != (tt.wantRaw == "") {
				t.Errorf("rec %v with raw %s", rec, raw)
			}
		})
	}
}

func FuzzDDParsePage(f *testing.F) {
	for _, name := range []string{"page1", "page2", "page3", "timeout", "warnings", "error_400"} {
		f.Add(readTestdata(f, "datadog/"+name+".documented.json"))
	}
	for _, s := range []string{`{"data":[{"attributes":{"message":1,"timestamp":{},"attributes":[]}}]}`, `{"data":null,"meta":{}}`, `{"meta":{"warnings":[{}]}}`, `[]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, answer []byte) {
		p, err := ddParsePage(answer)
		if err != nil {
			if len(err.Error()) > 3*answerExcerpt {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
			return
		}
		for _, l := range p.logs {
			if l.rec == nil {
				continue
			}
			back, err := decodeObject(l.raw)
			if err != nil || !reflect.DeepEqual(back, l.rec) {
				t.Errorf("raw %s is not rec %v (%v)", l.raw, l.rec, err)
			}
		}
		_ = ddErrorText(answer)
	})
}

// FuzzDDErrorText feeds error answers to the error renderer, which must
// stay bounded.
func FuzzDDErrorText(f *testing.F) {
	for _, name := range []string{"error_400", "error_403", "error_429"} {
		f.Add(readTestdata(f, "datadog/"+name+".documented.json"))
	}
	f.Add([]byte(`{"errors":[{"title":"t"},1,null,"s"]}`))
	f.Fuzz(func(t *testing.T, answer []byte) {
		if s := ddErrorText(answer); len(s) > 2*answerExcerpt+3 {
			t.Errorf("error text of %d bytes", len(s))
		}
	})
}
