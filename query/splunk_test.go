package query

// The Splunk answers these tests replay are DOCUMENTED examples
// (testdata/splunk/*.documented.*, composed from the documented shape of
// Splunk's search export API; see its README.md), not captures: no Splunk
// runs here.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// splunkHeader authenticates the test requests.
var splunkHeader = http.Header{"Authorization": {"Bearer eyJraWQiOiJzcGx1bmsuc2VjcmV0IiwiYWxnIjoiSFM1MTIifQ.test"}}

// splunkRequestForm decodes the form of a dumped request.
func splunkRequestForm(t *testing.T, dump string) url.Values {
	t.Helper()
	_, body, ok := strings.Cut(dump, "\n\n")
	if !ok {
		t.Fatalf("no body in %q", dump)
	}
	form, err := url.ParseQuery(strings.TrimSuffix(body, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return form
}

// splunkRawsOf are the _raw of the results of a fixture stream, not
// preview rows, in order, decoded by hand.
func splunkRawsOf(t *testing.T, stream []byte) [][]byte {
	t.Helper()
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(stream))
	for sc.Scan() {
		var l struct {
			Preview bool `json:"preview"`
			Result  struct {
				Raw string `json:"_raw"`
			} `json:"result"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if !l.Preview && strings.HasPrefix(l.Result.Raw, "{") {
			out = append(out, []byte(l.Result.Raw))
		}
	}
	return out
}

func TestScanSplunk(t *testing.T) {
	q := Query{
		Conds: []Cond{{Field: "cloud.provider", Op: Eq, Value: "aws"}, {Field: "http.response.status_code", Op: Lt, Value: "600"}},
		Since: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC),
	}
	tests := []struct {
		name       string
		address    string // appended to the server's URL
		limit      int
		want       []string
		wantSearch string
		golden     string
	}{
		{"every index", "", 0, chainIDs, `search index=* sourcetype=audittrail ` + SPL(q), "splunk/export.golden"},
		{"one index", "?index=security", 0, chainIDs, `search index=security sourcetype=audittrail ` + SPL(q), ""},
		{"quoted index and sourcetype", "/?index=my%20index&sourcetype=aws:lambda", 0, chainIDs, `search index="my index" sourcetype=aws:lambda ` + SPL(q), ""},
		{"limit", "", 3, chainIDs[:3], `search index=* sourcetype=audittrail ` + SPL(Query{Conds: q.Conds, Since: q.Since, Limit: 3}), "splunk/limit.golden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newReplay(t, answer{file: "splunk/export.documented.ndjson"})
			q := q
			q.Limit = tt.limit
			var c collected
			if err := ScanSplunk(t.Context(), Source{URL: SplunkScheme + srv.URL + tt.address, Header: splunkHeader}, q, nil, c.add); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.ids(), tt.want) {
				t.Errorf("got %v, want %v", c.ids(), tt.want)
			}
			reqs := srv.requests()
			if len(reqs) != 1 || !strings.HasPrefix(reqs[0], "POST /services/search/v2/jobs/export\n") {
				t.Fatalf("requests %q, want one POST to the export endpoint", reqs)
			}
			form := splunkRequestForm(t, reqs[0])
			if got := form.Get("search"); got != tt.wantSearch {
				t.Errorf("search\n%s\nwant\n%s", got, tt.wantSearch)
			}
			if form.Get("output_mode") != "json" || len(form) != 2 {
				t.Errorf("form %v, want search and output_mode=json", form)
			}
			if tt.golden != "" {
				checkGolden(t, tt.golden, reqs)
			}
			c.checkRawIsRec(t)
			want := splunkRawsOf(t, readTestdata(t, "splunk/export.documented.ndjson"))
			for i := range c.raws {
				if !bytes.Equal(c.raws[i], want[i]) {
					t.Errorf("record %d: raw\n%s\nis not _raw\n%s", i, c.raws[i], want[i])
				}
			}
			if tt.limit == 0 {
				verifyChain(t, c.raws)
			}
		})
	}
}

func TestScanSplunkErrors(t *testing.T) {
	checkScanErrors(t, ScanSplunk, []scanErrorCase{
		{"unparsable search", []answer{{status: 400, file: "splunk/error_unparsable_search.documented.json"}}, 0,
			"400 Bad Request: FATAL: Error in 'search' command: Unable to parse the search"},
		{"not authenticated", []answer{{status: 401, file: "splunk/error_unauthenticated.documented.json"}}, 0,
			"401 Unauthorized: WARN: call not properly authenticated"},
		{"forbidden", []answer{{status: 403, file: "splunk/error_forbidden.documented.json"}}, 0,
			"403 Forbidden: ERROR: User 'auditor' with roles { user } cannot search"},
		{"results may be incomplete", []answer{{file: "splunk/stream_incomplete.documented.ndjson"}}, 2,
			"line 3: splunk says WARN: Search results might be incomplete: the search process on the peer:idx-2 ended prematurely"},
		{"fatal in the stream", []answer{{file: "splunk/stream_fatal.documented.ndjson"}}, 1,
			"line 2: splunk says FATAL: Error in 'where' command"},
		{"line not JSON", []answer{{body: `{"preview":false,"result":{"_raw":"{\"a\":1}"}}` + "\n<html>\n"}}, 1, "line 2: not a JSON object"},
		{"line too long", []answer{{body: `{"preview":false,"result":{"_raw":"` + strings.Repeat("x", maxRecordLine) + `"}}`}}, 0, "read answer after line 0"},
		{"proxy page", []answer{{status: 502, body: "<html>Bad Gateway</html>"}}, 0, "502 Bad Gateway: <html>Bad Gateway</html>"},
		{"long body cut", []answer{{status: 500, body: strings.Repeat("y", 100000)}}, 0, "500 Internal Server Error: " + strings.Repeat("y", answerExcerpt) + "..."},
		{"redirect", []answer{{status: 303, header: http.Header{"Location": {"/en-US/account/login"}}}}, 0, `303 See Other to "/en-US/account/login": redirects are not followed`},
	})
}

func TestScanSplunkAddresses(t *testing.T) {
	checkBadAddresses(t, ScanSplunk, "splunk address",
		[]string{"", "splunk+", "ftp://h:8089", "splunk+localhost:8089", "https://", "https://h:8089?idx=main", "https://h:8089?index=a&index=b", "https://h:8089#x", "https://admin:changeme@h:8089"})
}

func TestScanSplunkStops(t *testing.T) {
	t.Run("callback error", func(t *testing.T) {
		checkStopOnCallbackError(t, ScanSplunk, answer{file: "splunk/export.documented.ndjson"})
	})
	t.Run("cancel while streaming", func(t *testing.T) {
		// The server sends one event, then holds the stream open until the
		// client goes away: the scan must end when ctx does.
		first := bytes.SplitAfter(readTestdata(t, "splunk/stream_fatal.documented.ndjson"), []byte("\n"))[0]
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			_, _ = w.Write(first)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		calls, err := scanCancelingInCallback(t, ScanSplunk, srv.URL)
		if !errors.Is(err, context.Canceled) || calls != 1 {
			t.Errorf("err %v after %d calls, want context.Canceled after 1", err, calls)
		}
	})
	t.Run("cancel in flight", func(t *testing.T) {
		checkCancelInFlight(t, ScanSplunk, SplunkScheme)
	})
}

func TestSplunkParseLine(t *testing.T) {
	rec := `{\"audit\":{\"seq\":1},\"a\":1.50}`
	tests := []struct {
		name    string
		line    string
		want    []string // the raws
		wantErr string
	}{
		{"event", `{"preview":false,"offset":0,"result":{"_raw":"` + rec + `","_time":"x"}}`, []string{`{"audit":{"seq":1},"a":1.50}`}, ""},
		{"preview", `{"preview":true,"result":{"_raw":"` + rec + `"}}`, nil, ""},
		{"results array", `{"preview":false,"results":[{"_raw":"{}"},{"_raw":"not json"},{"_raw":["a","b"]},{"x":1}]}`, []string{`{}`}, ""},
		{"raw not an object", `{"result":{"_raw":"[1,2]"}}`, nil, ""},
		{"raw with data after", `{"result":{"_raw":"{} {}"}}`, nil, ""},
		{"blank", "  \t", nil, ""},
		{"info and debug", `{"messages":[{"type":"INFO","text":"x"},{"type":"DEBUG","text":"y"},{"type":"WARN","text":"Field 'z' does not exist"}]}`, nil, ""},
		{"error message", `{"messages":[{"type":"ERROR","text":"boom"}]}`, nil, "splunk says ERROR: boom"},
		{"fatal even in a preview", `{"preview":true,"messages":[{"type":"fatal","text":"boom"}]}`, nil, "splunk says fatal: boom"},
		{"incomplete", `{"messages":[{"type":"WARN","text":"Search results may be INCOMPLETE"}]}`, nil, "may be INCOMPLETE"},
		{"not JSON", `garbage`, nil, "not a JSON object"},
		{"not an object", `[1]`, nil, "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splunkParseLine([]byte(tt.line))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var raws []string
			for _, r := range got {
				raws = append(raws, string(r.raw))
				if r.rec == nil {
					t.Errorf("no rec for %s", r.raw)
				}
			}
			if !slices.Equal(raws, tt.want) {
				t.Errorf("got %q, want %q", raws, tt.want)
			}
		})
	}
	if got, _ := splunkParseLine([]byte(tests[0].line)); len(got) == 1 {
		if a := got[0].rec["a"]; a != json.Number("1.50") {
			t.Errorf("a = %#v, want json.Number 1.50", a)
		}
	}
}

func FuzzSplunkParseLine(f *testing.F) {
	for _, name := range []string{"export.documented.ndjson", "stream_incomplete.documented.ndjson", "stream_fatal.documented.ndjson"} {
		for line := range bytes.Lines(readTestdata(f, "splunk/"+name)) {
			f.Add(line)
		}
	}
	f.Add([]byte(`{"results":[{"_raw":"{}"},null,1]}`))
	f.Add([]byte(`{"messages":null,"result":null}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		results, err := splunkParseLine(line)
		if err != nil {
			if len(err.Error()) > 3*answerExcerpt {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
			return
		}
		for _, r := range results {
			back, err := decodeObject(r.raw)
			if err != nil || !reflect.DeepEqual(back, r.rec) {
				t.Errorf("raw %s is not rec %v (%v)", r.raw, r.rec, err)
			}
		}
	})
}

// FuzzSplunkErrorText feeds error answers to the error renderer, which
// must stay bounded.
func FuzzSplunkErrorText(f *testing.F) {
	for _, name := range []string{"error_unparsable_search", "error_unauthenticated", "error_forbidden"} {
		f.Add(readTestdata(f, "splunk/"+name+".documented.json"))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if s := splunkErrorText(body); len(s) > 2*answerExcerpt+3 {
			t.Errorf("error text of %d bytes", len(s))
		}
	})
}
