package datadog

// The receiver in these tests is an httptest server that reads a request
// as the intake does (gzip, a JSON array of entries) and answers as the
// test says, with Datadog's documented status codes and example body;
// peer_test.go sends to VictoriaLogs, a real receiver of the protocol.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/audittrail/audittrail/buffer"
	"github.com/audittrail/audittrail/sinks"
	"github.com/klauspost/compress/gzip"
)

const apiKey = "0123456789abcdef0123456789abcdef"

// documentedError is the example body Datadog's specification gives for
// every error status of "Send logs" (DataDog/documentation
// content/en/api/v2/logs/examples.json). The tests that answer with it,
// and with 202, 400, 401, 403, 408, 413, 5xx: documented example, no real
// peer here produces it (VictoriaLogs answers 200 {} and, read-only, 429:
// peer_test.go).
const documentedError = `{"errors":[{"detail":"Malformed payload","status":"400","title":"Bad Request"}]}`

// request is one request the receiver got.
type request struct {
	header  http.Header
	path    string
	entries []entryJSON
}

// ids returns the event.id of each entry's record.
func (r request) ids(t *testing.T) []string {
	t.Helper()
	var ids []string
	for _, e := range r.entries {
		msg := []byte(e["message"].(string))
		if !json.Valid(msg) {
			t.Fatalf("message is not a record: %s", msg)
		}
		var f fields
		readFields(msg, &f)
		ids = append(ids, f.Event.ID)
	}
	return ids
}

// receiver is an intake that answers each request with answer's status
// and body.
type receiver struct {
	url string
	mu  sync.Mutex
	got []request
}

func newReceiver(t *testing.T, answer func(r request) (int, string)) *receiver {
	t.Helper()
	rc := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		var body io.Reader = hr.Body
		if hr.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(hr.Body)
			if err != nil {
				t.Errorf("gzip: %v", err)
				w.WriteHeader(400)
				return
			}
			body = zr
		}
		var r request
		r.header, r.path = hr.Header.Clone(), hr.URL.Path
		if err := json.NewDecoder(body).Decode(&r.entries); err != nil {
			t.Errorf("body: %v", err)
		}
		rc.mu.Lock()
		rc.got = append(rc.got, r)
		rc.mu.Unlock()
		status, text := answer(r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, text)
	}))
	t.Cleanup(srv.Close)
	rc.url = srv.URL + "/api/v2/logs"
	return rc
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// accepted answers as the intake does when all is well.
func accepted(request) (int, string) { return http.StatusAccepted, "{}" }

// newSink returns a sink posting to url, with the clock at the end of the
// demo's trail (testdata/invocations.ndjson) and at most perRequest
// entries per request.
func newSink(t *testing.T, url string, perRequest int) *Sink {
	t.Helper()
	s, err := New(Config{URL: url, APIKey: sinks.StaticSecret(apiKey), Tags: []string{"env:test"}})
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return mustTime(t, "2026-12-01T08:00:00Z") }
	s.enc.limits.entries = perRequest
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// eventIDs returns the event.id of each record.
func eventIDs(t *testing.T, batch [][]byte) []string {
	t.Helper()
	var ids []string
	for _, r := range batch {
		var f fields
		readFields(r, &f)
		ids = append(ids, f.Event.ID)
	}
	return ids
}

func TestWriteSendsTheBatch(t *testing.T) {
	rc := newReceiver(t, accepted)
	batch := readRecords(t, "invocations")
	s := newSink(t, rc.url, maxEntries)
	if err := s.Write(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	h := got[0].header
	if h.Get("DD-API-KEY") != apiKey || h.Get("Content-Encoding") != "gzip" || h.Get("Content-Type") != "application/json" || got[0].path != "/api/v2/logs" {
		t.Errorf("request %s with headers %v", got[0].path, h)
	}
	if ids := got[0].ids(t); !slices.Equal(ids, eventIDs(t, batch)) {
		t.Errorf("received %v", ids)
	}
	for i, e := range got[0].entries {
		if e["message"] != string(batch[i]) || e["ddtags"] != "env:test" || e["service"] != "orders-api" {
			t.Errorf("entry %d: %v", i, e)
		}
	}
	if err := s.Write(t.Context(), nil); err != nil || len(rc.requests()) != 1 {
		t.Errorf("an empty batch: %v, %d requests", err, len(rc.requests()))
	}
}

func TestWriteWithoutCompression(t *testing.T) {
	rc := newReceiver(t, accepted)
	s, err := New(Config{URL: rc.url, APIKey: sinks.StaticSecret(apiKey), Compression: buffer.None})
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return mustTime(t, "2026-12-01T08:00:00Z") }
	if err := s.Write(t.Context(), readRecords(t, "invocations")[:2]); err != nil {
		t.Fatal(err)
	}
	if got := rc.requests(); len(got) != 1 || got[0].header.Get("Content-Encoding") != "" || len(got[0].entries) != 2 {
		t.Errorf("requests %+v", got)
	}
}

func TestWriteSplitsAtTheEntryLimit(t *testing.T) {
	rc := newReceiver(t, accepted)
	batch := readRecords(t, "invocations") // 14 records
	s := newSink(t, rc.url, 4)
	if err := s.Write(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	var ids []string
	var sizes []int
	for _, r := range rc.requests() {
		ids = append(ids, r.ids(t)...)
		sizes = append(sizes, len(r.entries))
	}
	if !slices.Equal(sizes, []int{4, 4, 4, 2}) || !slices.Equal(ids, eventIDs(t, batch)) {
		t.Errorf("requests of %v entries carrying %v", sizes, ids)
	}
}

// TestWriteHalvesTooLargeRequests: a proxy that takes at most 3 entries
// per request (413 above). Every record arrives once; a single record the
// proxy still refuses is refused for good.
func TestWriteHalvesTooLargeRequests(t *testing.T) {
	batch := readRecords(t, "invocations")
	ids := eventIDs(t, batch)
	rc := newReceiver(t, func(r request) (int, string) {
		if len(r.entries) > 3 || slices.Contains(r.ids(t), ids[5]) {
			return http.StatusRequestEntityTooLarge, documentedError
		}
		return http.StatusAccepted, "{}"
	})
	s := newSink(t, rc.url, maxEntries)
	err := s.Write(t.Context(), batch)
	var pe *sinks.PartialError
	if !errors.As(err, &pe) || !slices.Equal(pe.Rejected, []int{5}) || pe.Retry {
		t.Fatalf("Write: %v, want record 5 refused for good", err)
	}
	var got []string
	for _, r := range rc.requests() {
		if len(r.entries) <= 3 && !slices.Contains(r.ids(t), ids[5]) {
			got = append(got, r.ids(t)...)
		}
	}
	want := slices.Delete(slices.Clone(ids), 5, 6)
	if !slices.Equal(got, want) {
		t.Errorf("accepted %v, want %v", got, want)
	}
}

func TestWriteRefusesOnlyTheBadRequest(t *testing.T) {
	batch := readRecords(t, "invocations")[:5]
	ids := eventIDs(t, batch)
	rc := newReceiver(t, func(r request) (int, string) {
		if slices.Contains(r.ids(t), ids[2]) {
			return http.StatusBadRequest, documentedError
		}
		return http.StatusAccepted, "{}"
	})
	s := newSink(t, rc.url, 2) // requests of records 0-1, 2-3, 4
	err := s.Write(t.Context(), batch)
	var pe *sinks.PartialError
	if !errors.As(err, &pe) || !slices.Equal(pe.Rejected, []int{2, 3}) || pe.Retry || !strings.Contains(err.Error(), "Malformed payload") {
		t.Fatalf("Write: %v, want records 2 and 3 refused for good", err)
	}
	if n := len(rc.requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestWriteBadKeyRefusesTheBatch(t *testing.T) {
	batch := readRecords(t, "invocations")[:5]
	t.Run("first request", func(t *testing.T) {
		rc := newReceiver(t, func(request) (int, string) { return http.StatusForbidden, documentedError })
		err := newSink(t, rc.url, 2).Write(t.Context(), batch)
		var pe *sinks.PartialError
		if !sinks.IsPermanent(err) || errors.As(err, &pe) || !strings.Contains(err.Error(), EnvAPIKey) {
			t.Fatalf("Write: %v, want the whole batch refused", err)
		}
		if n := len(rc.requests()); n != 1 {
			t.Errorf("%d requests after a 403, want 1", n)
		}
	})
	t.Run("after a taken request", func(t *testing.T) {
		n := 0
		rc := newReceiver(t, func(request) (int, string) {
			if n++; n > 1 {
				return http.StatusUnauthorized, documentedError
			}
			return http.StatusAccepted, "{}"
		})
		err := newSink(t, rc.url, 2).Write(t.Context(), batch)
		var pe *sinks.PartialError
		if !errors.As(err, &pe) || !slices.Equal(pe.Rejected, []int{2, 3, 4}) || pe.Retry {
			t.Fatalf("Write: %v, want records 2-4 refused", err)
		}
	})
}

func TestWriteTransientAnswers(t *testing.T) {
	batch := readRecords(t, "invocations")[:3]
	tests := []struct {
		status     int
		retryAfter string
		wantAfter  time.Duration // 0: not throttled
	}{
		{http.StatusRequestTimeout, "", 0},
		{http.StatusTooManyRequests, "", throttleDelay},
		{http.StatusTooManyRequests, "3", 3 * time.Second},
		{http.StatusInternalServerError, "", 0},
		{http.StatusServiceUnavailable, "", 0},
	}
	for _, tt := range tests {
		rc := newReceiver(t, func(request) (int, string) { return tt.status, documentedError })
		s := newSink(t, rc.url, maxEntries)
		if tt.retryAfter != "" {
			s.client = &http.Client{Transport: retryAfterTransport{tt.retryAfter}}
		}
		err := s.Write(t.Context(), batch)
		after, throttled := sinks.RetryAfter(err)
		var pe *sinks.PartialError
		if err == nil || sinks.IsPermanent(err) || errors.As(err, &pe) || after != tt.wantAfter || throttled != (tt.wantAfter > 0) {
			t.Errorf("%d (Retry-After %q): %v, throttled %v for %v", tt.status, tt.retryAfter, err, throttled, after)
		}
	}
}

// retryAfterTransport adds a Retry-After header to every answer.
type retryAfterTransport struct{ value string }

func (rt retryAfterTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		resp.Header.Set("Retry-After", rt.value)
	}
	return resp, err
}

// TestWriteTransientAfterARefusal: request 1 refused (400), request 2
// fails (503): the refused records are named, the rest sent again.
func TestWriteTransientAfterARefusal(t *testing.T) {
	n := 0
	rc := newReceiver(t, func(request) (int, string) {
		n++
		if n == 1 {
			return http.StatusBadRequest, documentedError
		}
		return http.StatusServiceUnavailable, "{}"
	})
	err := newSink(t, rc.url, 2).Write(t.Context(), readRecords(t, "invocations")[:4])
	var pe *sinks.PartialError
	if !errors.As(err, &pe) || !slices.Equal(pe.Rejected, []int{0, 1}) || !pe.Retry {
		t.Fatalf("Write: %v, want records 0-1 refused and a retry", err)
	}
}

func TestWriteRefusesRecordsOutsideTheWindow(t *testing.T) {
	rc := newReceiver(t, accepted)
	s := newSink(t, rc.url, maxEntries)
	batch := readRecords(t, "invocations")[:4]
	// The window opens between record 1 (07:17:51.333) and 2 (.335).
	s.now = func() time.Time { return mustTime(t, "2026-12-01T07:17:51.334Z").Add(maxPast) }
	err := s.Write(t.Context(), batch)
	var pe *sinks.PartialError
	if !errors.As(err, &pe) || !slices.Equal(pe.Rejected, []int{0, 1}) || pe.Retry || !strings.Contains(err.Error(), "outside the window") {
		t.Fatalf("Write: %v, want records 0-1 refused for their date", err)
	}
	if got := rc.requests(); len(got) != 1 || len(got[0].entries) != 2 {
		t.Errorf("requests %+v", got)
	}

	s.now = func() time.Time { return mustTime(t, "2027-01-01T00:00:00Z") }
	if err := s.Write(t.Context(), batch); !sinks.IsPermanent(err) || errors.As(err, &pe) {
		t.Errorf("a batch all too old: %v, want it refused whole", err)
	}
	if n := len(rc.requests()); n != 1 {
		t.Errorf("%d requests, want none more", n)
	}
}

func TestWriteAPIKeyProblems(t *testing.T) {
	rc := newReceiver(t, accepted)
	batch := readRecords(t, "invocations")[:1]
	s := newSink(t, rc.url, maxEntries)

	s.cfg.APIKey = sinks.LazySecret(func(context.Context) (string, error) { return "", errors.New("secrets manager unreachable") })
	if err := s.Write(t.Context(), batch); err == nil || sinks.IsPermanent(err) || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("a key that cannot be fetched: %v, want a transient error", err)
	}
	s.cfg.APIKey = sinks.StaticSecret("abc\r\nX-Evil: 1")
	if err := s.Write(t.Context(), batch); !sinks.IsPermanent(err) || strings.Contains(err.Error(), "abc") {
		t.Errorf("a key no header can carry: %v, want a permanent error that does not print it", err)
	}
	if n := len(rc.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestWriteDoesNotFollowRedirects(t *testing.T) {
	elsewhere := newReceiver(t, accepted)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.url, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	err := newSink(t, srv.URL, maxEntries).Write(t.Context(), readRecords(t, "invocations")[:1])
	if !sinks.IsPermanent(err) || !strings.Contains(err.Error(), "redirect") {
		t.Errorf("Write: %v, want a permanent error about the redirect", err)
	}
	if n := len(elsewhere.requests()); n != 0 {
		t.Errorf("the redirect was followed, with the API key")
	}
}

func TestWriteNetworkErrorsAreTransient(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	if err := newSink(t, url, maxEntries).Write(t.Context(), readRecords(t, "invocations")[:1]); err == nil || sinks.IsPermanent(err) {
		t.Fatalf("write to a closed port: %v, want a transient error", err)
	}
}

func TestWriteStopsWithTheContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release // an intake that hangs
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err := newSink(t, srv.URL, maxEntries).Write(ctx, readRecords(t, "invocations")[:1])
	if !errors.Is(err, context.DeadlineExceeded) || sinks.IsPermanent(err) {
		t.Fatalf("write to a hanging intake: %v, want the context's deadline", err)
	}
}

func TestCloseTwice(t *testing.T) {
	s, err := New(Config{APIKey: sinks.StaticSecret(apiKey)})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Close(t.Context()); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	if s.Name() != "datadog" {
		t.Errorf("Name() = %q", s.Name())
	}
}

func TestValidate(t *testing.T) {
	key := sinks.StaticSecret(apiKey)
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error, in order; none: valid
	}{
		{"defaults", Config{APIKey: key}, nil},
		{"default config", func() Config { c := DefaultConfig(); c.APIKey = key; return c }(), nil},
		{"eu site, app. and case", Config{APIKey: key, Site: " App.DatadogHQ.EU "}, nil},
		{"url", Config{APIKey: key, URL: "http://127.0.0.1:9428/insert/datadog/api/v2/logs", Site: "nonsense"}, nil},
		{"tags", Config{APIKey: key, Tags: []string{"env:prod", "team:payments", "version:1.2:3"}}, nil},
		{"no key", Config{}, []string{"AUDITTRAIL_DATADOG_API_KEY (or DD_API_KEY): required (or AUDITTRAIL_DATADOG_API_KEY_SECRET_ARN (or DD_API_KEY_SECRET_ARN))"}},
		{"everything wrong", Config{
			Site:        "datadog.com",
			Compression: buffer.Zstd,
			Tags:        []string{"", "a,b", "bare", ":x", "k:" + strings.Repeat("v", 200)},
		}, []string{
			"AUDITTRAIL_DATADOG_API_KEY (or DD_API_KEY): required",
			`AUDITTRAIL_DATADOG_SITE (or DD_SITE): unknown site "datadog.com" (want one of datadoghq.com, us3.datadoghq.com`,
			`AUDITTRAIL_DATADOG_COMPRESSION: "zstd" is not taken by the logs intake (want gzip or none)`,
			"AUDITTRAIL_DATADOG_TAGS (or DD_TAGS): empty tag",
			`AUDITTRAIL_DATADOG_TAGS (or DD_TAGS): tag "a,b": no commas or spaces in a tag`,
			`AUDITTRAIL_DATADOG_TAGS (or DD_TAGS): tag "bare": want key:value`,
			`AUDITTRAIL_DATADOG_TAGS (or DD_TAGS): tag ":x": want key:value`,
			"longer than Datadog's 200 characters",
		}},
		{"bad urls", Config{APIKey: key, URL: "ftp://example.com/x"}, []string{"AUDITTRAIL_DATADOG_URL: \"ftp://example.com/x\": want an http:// or https:// URL"}},
		{"no host", Config{APIKey: key, URL: "https:///api/v2/logs"}, []string{"AUDITTRAIL_DATADOG_URL: \"https:///api/v2/logs\": no host"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			_, nerr := New(tt.cfg)
			if len(tt.want) == 0 {
				if err != nil || nerr != nil {
					t.Fatalf("Validate: %v; New: %v", err, nerr)
				}
				return
			}
			if err == nil || nerr == nil {
				t.Fatalf("accepted")
			}
			msg := err.Error()
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error lacks (in order) %q:\n%s", w, msg)
				}
				rest = rest[i+len(w):]
			}
			if n := strings.Count(msg, "\n") + 1; n != len(tt.want) {
				t.Errorf("%d problems reported, want %d:\n%s", n, len(tt.want), msg)
			}
		})
	}
}

func TestEndpoint(t *testing.T) {
	want := map[string]string{
		"":                  "https://http-intake.logs.datadoghq.com/api/v2/logs",
		"datadoghq.com":     "https://http-intake.logs.datadoghq.com/api/v2/logs",
		"us3.datadoghq.com": "https://http-intake.logs.us3.datadoghq.com/api/v2/logs",
		"us5.datadoghq.com": "https://http-intake.logs.us5.datadoghq.com/api/v2/logs",
		"datadoghq.eu":      "https://http-intake.logs.datadoghq.eu/api/v2/logs",
		"app.datadoghq.eu":  "https://http-intake.logs.datadoghq.eu/api/v2/logs",
		"ap1.datadoghq.com": "https://http-intake.logs.ap1.datadoghq.com/api/v2/logs",
		"ap2.datadoghq.com": "https://http-intake.logs.ap2.datadoghq.com/api/v2/logs",
		"uk1.datadoghq.com": "https://http-intake.logs.uk1.datadoghq.com/api/v2/logs",
		"ddog-gov.com":      "https://http-intake.logs.ddog-gov.com/api/v2/logs",
		"us2.ddog-gov.com":  "https://http-intake.logs.us2.ddog-gov.com/api/v2/logs",
		"DATADOGHQ.COM.":    "https://http-intake.logs.datadoghq.com/api/v2/logs",
	}
	for site, w := range want {
		if got, err := (Config{Site: site}).Endpoint(); got != w || err != nil {
			t.Errorf("site %q: %q, %v; want %q", site, got, err, w)
		}
	}
	if got, _ := (Config{Site: "datadoghq.eu", URL: "http://proxy:8080/x"}).Endpoint(); got != "http://proxy:8080/x" {
		t.Errorf("URL does not win over Site: %q", got)
	}
	if _, err := (Config{Site: "datadoghq.co"}).Endpoint(); err == nil {
		t.Error("a typo accepted")
	}
}

func TestLookupEnv(t *testing.T) {
	env := map[string]string{
		"DD_API_KEY":                 "dd-key",
		"DD_SITE":                    "datadoghq.eu",
		"AUDITTRAIL_DATADOG_SITE":    "us5.datadoghq.com",
		"AUDITTRAIL_DATADOG_SERVICE": "",
		"DD_SERVICE":                 "orders",
		"DD_TAGS":                    "env:prod team:payments",
		"AUDITTRAIL_DATADOG_URL":     "http://x",
	}
	lookup := LookupEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	tests := []struct {
		name, want string
		ok         bool
	}{
		{EnvAPIKey, "dd-key", true},          // absent: Datadog's
		{EnvSite, "us5.datadoghq.com", true}, // ours wins
		{EnvService, "orders", true},         // empty counts as absent
		{EnvTags, "env:prod team:payments", true},
		{EnvAPIKeySecretARN, "", false},   // neither set
		{EnvURL, "http://x", true},        // no fallback
		{"DD_SITE", "datadoghq.eu", true}, // other names pass through
	}
	for _, tt := range tests {
		if v, ok := lookup(tt.name); v != tt.want || ok != tt.ok {
			t.Errorf("%s = %q, %v; want %q, %v", tt.name, v, ok, tt.want, tt.ok)
		}
	}
	if Fallback(EnvAPIKey) != "DD_API_KEY" || Fallback(EnvURL) != "" {
		t.Error("Fallback")
	}
	if got := ParseTags(" env:prod,team:payments  version:3 ,,"); !slices.Equal(got, []string{"env:prod", "team:payments", "version:3"}) {
		t.Errorf("ParseTags: %q", got)
	}
}
