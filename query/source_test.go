package query

// Helpers of the read-back backend tests (elasticsearch_test.go,
// splunk_test.go, datadog_test.go). No Elasticsearch, Splunk or Datadog
// runs here: the servers below replay the DOCUMENTED answer examples of
// testdata/<backend>/ (composed from the vendors' documented shapes, not
// captured from real servers; see each directory's README.md).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/audittrail/audittrail/schema"
)

// chainIDs are the event.ids of the seven records of the fixtures, newest
// first, as every backend returns them.
var chainIDs = []string{
	"a7e1c0d2-5b3f-5e6a-8c9d-000000000007",
	"a7e1c0d2-5b3f-5e6a-8c9d-000000000006",
	"a7e1c0d2-5b3f-5e6a-8c9d-000000000005",
	"a7e1c0d2-5b3f-5e6a-8c9d-000000000004",
	"a7e1c0d2-5b3f-5e6a-8c9d-000000000003",
	"a7e1c0d2-5b3f-5e6a-8c9d-000000000002",
	"a7e1c0d2-5b3f-5e6a-8c9d-000000000001",
}

// answer is one canned answer of a replay server: the testdata file (or
// body) it sends, with its status and headers.
type answer struct {
	status int // 0: 200
	file   string
	body   string
	header http.Header
}

// replay is a test server that answers its requests with its answers, in
// order, and records the requests.
type replay struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []string
}

// newReplay starts a replay server; a request beyond its answers fails
// the test.
func newReplay(t *testing.T, answers ...answer) *replay {
	t.Helper()
	bodies := make([][]byte, len(answers))
	for i, a := range answers {
		bodies[i] = []byte(a.body)
		if a.file != "" {
			bodies[i] = readTestdata(t, a.file)
		}
	}
	r := &replay{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		i := len(r.reqs)
		r.reqs = append(r.reqs, dumpRequest(req, body))
		r.mu.Unlock()
		if i >= len(answers) {
			t.Errorf("request %d, but only %d answers: %s %s", i+1, len(answers), req.Method, req.URL)
			http.Error(w, "replay: no more answers", http.StatusTeapot)
			return
		}
		a := answers[i]
		for k, vs := range a.header {
			w.Header()[k] = vs
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(cmpOr(a.status, http.StatusOK))
		_, _ = w.Write(bodies[i])
	}))
	t.Cleanup(r.Close)
	return r
}

// requests returns the requests received so far, dumped.
func (r *replay) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// cmpOr is v, or def when v is 0.
func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// dumpRequest writes the request line, the headers (but those the HTTP
// client adds by itself) in order, and the body.
func dumpRequest(req *http.Request, body []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", req.Method, req.URL.RequestURI())
	keys := make([]string, 0, len(req.Header))
	for k := range req.Header {
		switch k {
		case "Accept-Encoding", "User-Agent", "Content-Length":
		default:
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range req.Header[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n")
	b.Write(body)
	b.WriteString("\n")
	return b.String()
}

// checkGolden compares the requests with testdata/name, which -update
// rewrites.
func checkGolden(t *testing.T, name string, reqs []string) {
	t.Helper()
	got := strings.Join(reqs, "----\n")
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil || got != string(want) {
		t.Errorf("requests differ from %s (go test ./query -update, and review the diff): %v\n%s", path, err, got)
	}
}

// readTestdata reads a file of testdata.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// collected gathers what a scan gives.
type collected struct {
	raws [][]byte
	recs []map[string]any
}

// add is a scan callback.
func (c *collected) add(raw []byte, rec map[string]any) error {
	c.raws = append(c.raws, bytes.Clone(raw))
	c.recs = append(c.recs, rec)
	return nil
}

// ids are the event.ids of the records, in order.
func (c *collected) ids() []string {
	var ids []string
	for _, rec := range c.recs {
		ids = append(ids, cellText(rec, "event.id"))
	}
	return ids
}

// checkRawIsRec fails when a raw does not decode to its rec.
func (c *collected) checkRawIsRec(t *testing.T) {
	t.Helper()
	for i, raw := range c.raws {
		back, err := decodeObject(raw)
		if err != nil {
			t.Errorf("raw %d is not a JSON object: %v: %s", i, err, raw)
			continue
		}
		if !reflect.DeepEqual(back, c.recs[i]) {
			t.Errorf("raw %d is not rec:\n%s\n%v", i, raw, c.recs[i])
		}
	}
}

// verifyChain checks that raws are the fixtures' whole chain: seven
// records of one environment whose hashes and links all hold, as
// `audittrail verify` checks them.
func verifyChain(t *testing.T, raws [][]byte) {
	t.Helper()
	v := schema.NewVerifier()
	for _, raw := range raws {
		v.Add(raw)
	}
	reps := v.Report()
	if len(reps) != 1 {
		t.Fatalf("%d environments, want 1: %+v", len(reps), reps)
	}
	if r := reps[0]; !r.OK() || r.Records != 7 || r.LastSeq != 7 || r.Duplicates != 0 {
		t.Errorf("chain does not verify: %+v", r)
	}
}

// blockingServer is a server that holds every request until the client
// gives up (or the test ends), telling arrived when one comes.
func blockingServer(t *testing.T) (*httptest.Server, <-chan struct{}) {
	arrived := make(chan struct{}, 16)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body first: only then does the server watch the
		// connection, and cancel r's context when the client closes it.
		_, _ = io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first
	return srv, arrived
}

// scanFunc is one of the Scan functions.
type scanFunc func(ctx context.Context, src Source, q Query, client *http.Client, fn func(raw []byte, rec map[string]any) error) error

// checkCancelInFlight cancels a scan while its request waits for an
// answer, and checks that the scan ends with ctx's error.
func checkCancelInFlight(t *testing.T, scan scanFunc, prefix string) {
	t.Helper()
	srv, arrived := blockingServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- scan(ctx, Source{URL: prefix + srv.URL}, Query{}, nil, func([]byte, map[string]any) error {
			t.Error("callback called")
			return nil
		})
	}()
	<-arrived
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}

// fixturePageSize is the page size the paged backends' tests ask for:
// the pages of testdata/elasticsearch and testdata/datadog hold 3, 3 and
// 1 records.
const fixturePageSize = 3

// pagedScanFunc is scanElasticsearch or scanDatadog: a Scan function
// with the size of its pages as a parameter.
type pagedScanFunc func(ctx context.Context, src Source, q Query, client *http.Client, pageSize int, fn func(raw []byte, rec map[string]any) error) error

// withPageSize is scan asking for pages of size records.
func withPageSize(scan pagedScanFunc, size int) scanFunc {
	return func(ctx context.Context, src Source, q Query, client *http.Client, fn func(raw []byte, rec map[string]any) error) error {
		return scan(ctx, src, q, client, size, fn)
	}
}

// scanPagesCase is a read of the fixtures' pages: the limit of the
// query, the answers of the replay server, in order, the event.ids the
// scan must give, in order, the number of requests it must make, and the
// golden file of those requests ("" for none).
type scanPagesCase struct {
	name     string
	limit    int
	answers  []answer
	want     []string
	requests int
	golden   string
}

// checkScanPages runs scan with q, limited as each case says, at the
// Source that source makes of a replay server's URL, and checks the
// records it gives (raw decodes to rec; the whole chain verifies when
// there is no limit) and the requests it makes.
func checkScanPages(t *testing.T, scan scanFunc, q Query, source func(url string) Source, tests []scanPagesCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newReplay(t, tt.answers...)
			q := q
			q.Limit = tt.limit
			var c collected
			if err := scan(t.Context(), source(srv.URL), q, nil, c.add); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.ids(), tt.want) {
				t.Errorf("got %v, want %v", c.ids(), tt.want)
			}
			reqs := srv.requests()
			if len(reqs) != tt.requests {
				t.Errorf("%d requests, want %d", len(reqs), tt.requests)
			}
			if tt.golden != "" {
				checkGolden(t, tt.golden, reqs)
			}
			c.checkRawIsRec(t)
			if tt.limit == 0 {
				verifyChain(t, c.raws)
			}
		})
	}
}

// checkBadAddresses checks that scan refuses each of addrs, before any
// callback, with an error that holds want ("splunk address").
func checkBadAddresses(t *testing.T, scan scanFunc, want string, addrs []string) {
	t.Helper()
	for _, bad := range addrs {
		err := scan(t.Context(), Source{URL: bad}, Query{}, nil, func([]byte, map[string]any) error {
			t.Errorf("%q: callback called", bad)
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want an error with %q", bad, err, want)
		}
	}
}

// scanErrorCase is an exchange a scan must fail on: the answers of the
// replay server, in order, the number of records the scan hands on
// before it fails, and a text its error holds.
type scanErrorCase struct {
	name    string
	answers []answer
	calls   int
	wantErr string
}

// checkScanErrors runs scan, with an empty query, against a replay server
// of each case's answers, and checks that it fails with wantErr in an
// error cut to at most 3*answerExcerpt bytes, after calls callbacks.
func checkScanErrors(t *testing.T, scan scanFunc, tests []scanErrorCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newReplay(t, tt.answers...)
			calls := 0
			err := scan(t.Context(), Source{URL: srv.URL}, Query{}, nil, func([]byte, map[string]any) error {
				calls++
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want %q in it", err, tt.wantErr)
			}
			if len(err.Error()) > 3*answerExcerpt {
				t.Errorf("error of %d bytes, want it cut", len(err.Error()))
			}
			if calls != tt.calls {
				t.Errorf("%d callbacks, want %d", calls, tt.calls)
			}
		})
	}
}

// checkStopOnCallbackError checks that an error of the callback ends the
// scan at once, returned as is: after one callback and one request to a
// replay server of answers.
func checkStopOnCallbackError(t *testing.T, scan scanFunc, answers ...answer) {
	t.Helper()
	srv := newReplay(t, answers...)
	stop := errors.New("stop")
	calls := 0
	err := scan(t.Context(), Source{URL: srv.URL}, Query{}, nil, func([]byte, map[string]any) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 || len(srv.requests()) != 1 {
		t.Errorf("err %v after %d calls and %d requests, want stop after 1 and 1", err, calls, len(srv.requests()))
	}
}

// checkCancelBetweenPages cancels the scan's context in the callbacks of
// the first of pages, which holds perPage records, and checks that the
// scan ends with ctx's error after those, without asking for the next
// page.
func checkCancelBetweenPages(t *testing.T, scan scanFunc, perPage int, pages ...answer) {
	t.Helper()
	srv := newReplay(t, pages...)
	calls, err := scanCancelingInCallback(t, scan, srv.URL)
	if !errors.Is(err, context.Canceled) || calls != perPage || len(srv.requests()) != 1 {
		t.Errorf("err %v after %d calls and %d requests, want context.Canceled after the first page", err, calls, len(srv.requests()))
	}
}

// scanCancelingInCallback runs scan at url with a callback that cancels
// the scan's context, and returns the number of callbacks and the scan's
// error.
func scanCancelingInCallback(t *testing.T, scan scanFunc, url string) (int, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	calls := 0
	err := scan(ctx, Source{URL: url}, Query{}, nil, func([]byte, map[string]any) error {
		calls++
		cancel()
		return nil
	})
	return calls, err
}

// checkPagedScanStops runs the early ends of a paged backend: a callback
// error and a cancel between pages, with scan reading pages of
// fixturePageSize records from a replay server of pages; and a cancel in
// flight, with public, the exported Scan, at scheme + a server's URL.
func checkPagedScanStops(t *testing.T, scan pagedScanFunc, public scanFunc, scheme string, pages []answer) {
	t.Helper()
	paged := withPageSize(scan, fixturePageSize)
	t.Run("callback error", func(t *testing.T) {
		checkStopOnCallbackError(t, paged, pages...)
	})
	t.Run("cancel between pages", func(t *testing.T) {
		checkCancelBetweenPages(t, paged, fixturePageSize, pages...)
	})
	t.Run("cancel in flight", func(t *testing.T) {
		checkCancelInFlight(t, public, scheme)
	})
}

func TestReadPageBound(t *testing.T) {
	if _, err := readPage(t.Context(), strings.NewReader("12345678901"), 10); err == nil || !strings.Contains(err.Error(), "larger than 10 bytes") {
		t.Errorf("11 bytes for 10: err %v", err)
	}
	if b, err := readPage(t.Context(), strings.NewReader("1234567890"), 10); err != nil || string(b) != "1234567890" {
		t.Errorf("10 bytes for 10: %q, %v", b, err)
	}
}

func TestClip(t *testing.T) {
	for _, tt := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "abc..."},
		{"aé", 2, "a..."}, // é is 2 bytes: not cut in the middle
		{"", 0, ""},
	} {
		if got := clip(tt.s, tt.n); got != tt.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

func TestAddressErrorsHidePasswords(t *testing.T) {
	for _, addr := range []string{"https://elastic:s3cret@h:9200/i", "https://elastic:s3cret@[::1", "https://elastic:s3cret@h:9200/%zz"} {
		_, _, err := backendURL(Source{URL: addr}, ElasticsearchScheme, "elasticsearch")
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: err %v, want an error without the password", addr, err)
		}
	}
}
