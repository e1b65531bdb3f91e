package elasticsearch

// Most tests here run against standIn, a handler that implements the
// documented semantics of _bulk creates into a data stream: one item per
// action in request order, a create of an _id already stored answers 409
// version_conflict_engine_exception, errors:true when any item failed; it
// fails the documents a test tells it to, with the statuses and error types
// Elasticsearch documents. Documented examples, no real peer here produces
// them: VictoriaLogs (peer_test.go) always answers errors:false.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/klauspost/compress/gzip"
)

// standIn is an Elasticsearch-like _bulk receiver.
type standIn struct {
	t *testing.T

	mu       sync.Mutex
	stored   map[string]int // _id -> times stored
	docs     []string       // event.ids of stored documents, in order
	requests []bulkRequest
	// fail, when set, decides the item of a document: a status and an
	// error type, or 0 to let it be created.
	fail func(req, doc int, id string) (int, string)
	// whole, when set, answers the request number req as a whole.
	whole func(req int, w http.ResponseWriter) bool
}

// bulkRequest is what a request carried.
type bulkRequest struct {
	header http.Header
	path   string
	query  string
	plain  []byte // the body, decompressed
	ids    []string
}

func newStandIn(t *testing.T) (*standIn, *httptest.Server) {
	s := &standIn{t: t, stored: map[string]int{}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	plain, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := bulkRequest{header: r.Header.Clone(), path: r.URL.Path, query: r.URL.RawQuery, plain: plain}
	n := len(s.requests)
	if s.whole != nil && s.whole(n, w) {
		s.requests = append(s.requests, req)
		return
	}
	if !bytes.HasSuffix(plain, []byte("\n")) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(readFile(s.t, "testdata/responses/error_no_newline.json")))
		return
	}
	type item struct {
		Index  string         `json:"_index"`
		ID     string         `json:"_id,omitempty"`
		Status int            `json:"status"`
		Result string         `json:"result,omitempty"`
		Error  map[string]any `json:"error,omitempty"`
	}
	var items []map[string]item
	anyFailed := false
	sc := bufio.NewScanner(bytes.NewReader(plain))
	sc.Buffer(nil, 1<<24)
	for doc := 0; sc.Scan(); doc++ {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || !sc.Scan() || !json.Valid(sc.Bytes()) {
			http.Error(w, "malformed action/metadata line", http.StatusBadRequest)
			return
		}
		a := action["create"]
		req.ids = append(req.ids, a.ID)
		it := item{Index: ".ds-" + a.Index + "-2026.12.01-000001", ID: a.ID}
		status, typ := 0, ""
		if s.fail != nil {
			status, typ = s.fail(n, doc, a.ID)
		}
		switch {
		case status != 0:
			it.Status, it.Error = status, map[string]any{"type": typ, "reason": "as the test says"}
		case a.ID != "" && s.stored[a.ID] > 0:
			it.Status, it.Error = http.StatusConflict, map[string]any{"type": "version_conflict_engine_exception",
				"reason": fmt.Sprintf("[%s]: version conflict, document already exists (current version [1])", a.ID)}
		default:
			it.Status, it.Result = http.StatusCreated, "created"
			var rec struct {
				Event struct{ ID string } `json:"event"`
			}
			_ = json.Unmarshal(sc.Bytes(), &rec)
			s.stored[a.ID]++
			s.docs = append(s.docs, rec.Event.ID)
		}
		anyFailed = anyFailed || it.Error != nil
		items = append(items, map[string]item{"create": it})
	}
	s.requests = append(s.requests, req)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"took": 1, "errors": anyFailed, "items": items})
}

// snapshot returns what the stand-in holds.
func (s *standIn) snapshot() (docs []string, requests []bulkRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.docs), slices.Clone(s.requests)
}

func idsOf(t testing.TB, records [][]byte) []string {
	var out []string
	for _, r := range records {
		out = append(out, usableID(r))
	}
	return out
}

func TestWriteHeadersAndAuthentication(t *testing.T) {
	records := readRecords(t, "testdata/encode/telemetry_invocations.json")
	for _, tt := range []struct {
		name  string
		cfg   Config
		auth  string
		codec string
	}{
		{"none, gzip", Config{}, "", "gzip"},
		{"api key", Config{APIKey: sinks.StaticSecret("VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==")}, "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==", "gzip"},
		{"basic, uncompressed", Config{Username: "audittrail", Password: sinks.StaticSecret("s3cret"), Codec: buffer.None}, "Basic YXVkaXR0cmFpbDpzM2NyZXQ=", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			si, srv := newStandIn(t)
			cfg := tt.cfg
			cfg.URL = srv.URL + "/insert/elasticsearch/?_time_field=@timestamp"
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Write(t.Context(), records); err != nil {
				t.Fatal(err)
			}
			docs, reqs := si.snapshot()
			if len(reqs) != 1 || !slices.Equal(docs, idsOf(t, records)) {
				t.Fatalf("%d requests, stored %v", len(reqs), docs)
			}
			r := reqs[0]
			h := r.header
			if r.path != "/insert/elasticsearch/_bulk" || r.query != "_time_field=@timestamp" {
				t.Errorf("sent to %s?%s", r.path, r.query)
			}
			if h.Get("Content-Type") != "application/x-ndjson" || h.Get("Content-Encoding") != tt.codec || h.Get("Authorization") != tt.auth {
				t.Errorf("headers %v", h)
			}
			var want bulkBody
			newEncoder(DefaultDataStream, true).encode(&want, records)
			if !bytes.Equal(r.plain, want.buf) {
				t.Errorf("body is not the encoded batch")
			}
			if err := s.Close(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestWriteThroughRetries follows a batch through sinks.WithRetry: the
// first answer takes some documents, throttles one and refuses one; the
// second attempt resends all but the refused one, and the documents already
// stored answer 409. Every record ends up stored exactly once, and the one
// refused is reported by its index.
func TestWriteThroughRetries(t *testing.T) {
	si, srv := newStandIn(t)
	records := readRecords(t, "testdata/encode/proxy_trail.json")
	ids := idsOf(t, records)
	si.fail = func(req, doc int, id string) (int, string) {
		switch {
		case id == ids[4]:
			return http.StatusBadRequest, "document_parsing_exception"
		case req == 0 && id == ids[2]:
			return http.StatusTooManyRequests, "es_rejected_execution_exception"
		}
		return 0, ""
	}
	s, err := New(Config{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	retry := sinks.DefaultRetryConfig()
	retry.InitialInterval, retry.MaxInterval = time.Millisecond, time.Millisecond
	err = sinks.WithRetry(s, retry).Write(t.Context(), records)

	var pe *sinks.PartialError
	if !errors.As(err, &pe) || pe.Retry || !slices.Equal(pe.Rejected, []int{4}) || !strings.Contains(err.Error(), "document_parsing_exception") {
		t.Fatalf("write: %v, want record 4 refused and nothing to retry", err)
	}
	docs, reqs := si.snapshot()
	want := slices.Delete(slices.Clone(ids), 4, 5)
	slices.Sort(want)
	slices.Sort(docs)
	if !slices.Equal(docs, want) {
		t.Errorf("stored %v, want each of %v once", docs, want)
	}
	if len(reqs) != 2 || len(reqs[1].ids) != len(records)-1 || slices.Contains(reqs[1].ids, ids[4]) {
		t.Errorf("%d requests; the second carried %v", len(reqs), reqs[len(reqs)-1].ids)
	}
}

func TestWriteSplitsBigBatches(t *testing.T) {
	si, srv := newStandIn(t)
	records := readRecords(t, "testdata/encode/proxy_trail.json") // about 1.7 KB each
	const maxBytes = 4 << 10
	s, err := New(Config{URL: srv.URL, MaxRequestBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), records); err != nil {
		t.Fatal(err)
	}
	docs, reqs := si.snapshot()
	if !slices.Equal(docs, idsOf(t, records)) {
		t.Errorf("stored %v", docs)
	}
	if len(reqs) < 2 {
		t.Fatalf("%d requests for %d bytes of records", len(reqs), len(records)*1700)
	}
	for i, r := range reqs {
		if len(r.plain) > maxBytes {
			t.Errorf("request %d: %d bytes", i, len(r.plain))
		}
	}
}

func TestWriteSplitBatchFailingHalfway(t *testing.T) {
	records := readRecords(t, "testdata/encode/proxy_trail.json")
	ids := idsOf(t, records)
	t.Run("refusals so far are kept", func(t *testing.T) {
		si, srv := newStandIn(t)
		si.fail = func(req, doc int, id string) (int, string) {
			if id == ids[0] {
				return http.StatusBadRequest, "mapper_parsing_exception"
			}
			return 0, ""
		}
		si.whole = func(req int, w http.ResponseWriter) bool {
			if req == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			return false
		}
		s, _ := New(Config{URL: srv.URL, MaxRequestBytes: 4 << 10})
		err := s.Write(t.Context(), records)
		var pe *sinks.PartialError
		if !errors.As(err, &pe) || !pe.Retry || !slices.Equal(pe.Rejected, []int{0}) {
			t.Fatalf("write: %v, want record 0 refused and a retry", err)
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "mapper_parsing_exception") || !strings.Contains(msg, "503") {
			t.Errorf("message %q: want both causes, on one line", msg)
		}
		if _, reqs := si.snapshot(); len(reqs) != 2 {
			t.Errorf("%d requests; want none after the failed one", len(reqs))
		}
	})
	t.Run("throttled", func(t *testing.T) {
		si, srv := newStandIn(t)
		si.whole = func(req int, w http.ResponseWriter) bool {
			if req == 1 {
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(readFile(t, "testdata/responses/error_rejected_execution.json")))
				return true
			}
			return false
		}
		s, _ := New(Config{URL: srv.URL, MaxRequestBytes: 4 << 10})
		err := s.Write(t.Context(), records)
		if after, ok := sinks.RetryAfter(err); !ok || after != 2*time.Second {
			t.Fatalf("write: %v, want throttled for 2s", err)
		}
	})
}

func TestWriteWholeRequestRefused(t *testing.T) {
	const key = "c2VjcmV0LWtleS1pZDpzZWNyZXQta2V5"
	si, srv := newStandIn(t)
	si.whole = func(req int, w http.ResponseWriter) bool {
		w.Header().Set("WWW-Authenticate", `ApiKey`)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(readFile(t, "testdata/responses/error_unauthenticated.json")))
		return true
	}
	s, _ := New(Config{URL: srv.URL, APIKey: sinks.StaticSecret(key)})
	err := s.Write(t.Context(), readRecords(t, "testdata/encode/telemetry_invocations.json"))
	if !sinks.IsPermanent(err) || strings.Contains(err.Error(), key) {
		t.Errorf("write: %v, want a permanent error without the key", err)
	}
}

func TestWriteRefusesUnframeableRecords(t *testing.T) {
	si, srv := newStandIn(t)
	records := readRecords(t, "testdata/encode/telemetry_invocations.json")[:3]
	records[1] = []byte("{\"event\":{\"id\":\"torn\"},\n\"x\":1}")
	s, _ := New(Config{URL: srv.URL})
	err := s.Write(t.Context(), records)
	var pe *sinks.PartialError
	if !errors.As(err, &pe) || pe.Retry || !slices.Equal(pe.Rejected, []int{1}) {
		t.Fatalf("write: %v, want record 1 refused", err)
	}
	if docs, _ := si.snapshot(); len(docs) != 2 {
		t.Errorf("stored %v", docs)
	}
	if err := s.Write(t.Context(), [][]byte{{}, []byte("a\nb")}); !sinks.IsPermanent(err) {
		t.Errorf("a batch of nothing sendable: %v, want permanent", err)
	}
}

func TestWriteEmptyBatchSendsNothing(t *testing.T) {
	si, srv := newStandIn(t)
	s, _ := New(Config{URL: srv.URL})
	if err := s.Write(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if _, reqs := si.snapshot(); len(reqs) != 0 {
		t.Errorf("%d requests", len(reqs))
	}
}

// TestWriteStopsWithTheContext: a receiver that never answers; the Write
// returns at the context's deadline with its connection closed, so nothing
// is in flight if Lambda freezes the process next.
func TestWriteStopsWithTheContext(t *testing.T) {
	release := make(chan struct{})
	closed := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		// With the body read, the server watches the connection: the
		// request's context ends when the client closes it.
		select {
		case <-r.Context().Done():
			close(closed)
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	s, _ := New(Config{URL: srv.URL})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err := s.Write(ctx, readRecords(t, "testdata/encode/telemetry_invocations.json"))
	if !errors.Is(err, context.DeadlineExceeded) || sinks.IsPermanent(err) {
		t.Fatalf("write to a hanging receiver: %v, want the context's deadline", err)
	}
	select {
	case <-closed:
	case <-t.Context().Done():
		t.Fatal("the connection of the abandoned request stayed open")
	}
}

func TestWriteNetworkErrorsAreTransient(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	s, _ := New(Config{URL: url})
	if err := s.Write(t.Context(), [][]byte{[]byte(`{"event":{"id":"a"}}`)}); err == nil || sinks.IsPermanent(err) {
		t.Fatalf("write to a closed port: %v, want a transient error", err)
	}
}

func TestWriteSecretUnavailableIsTransient(t *testing.T) {
	_, srv := newStandIn(t)
	failing := sinks.LazySecret(func(context.Context) (string, error) { return "", errors.New("secrets manager unreachable") })
	s, _ := New(Config{URL: srv.URL, APIKey: failing})
	if err := s.Write(t.Context(), [][]byte{[]byte(`{"event":{"id":"a"}}`)}); err == nil || sinks.IsPermanent(err) {
		t.Fatalf("write without its API key: %v, want a transient error", err)
	}
}

func TestConfigValidate(t *testing.T) {
	creds := func(context.Context) (aws.Credentials, error) { return aws.Credentials{}, nil }
	for _, tt := range []struct {
		cfg  Config
		want []string // parts of the error; nil: valid
	}{
		{Config{URL: "https://es.example.com:9243"}, nil},
		{Config{URL: "http://127.0.0.1:9428/insert/elasticsearch?_time_field=@timestamp", Codec: buffer.None, MaxRequestBytes: 1 << 10}, nil},
		{Config{URL: "https://x.eu-west-1.aoss.amazonaws.com", AWSService: "aoss", AWSRegion: "eu-west-1", Credentials: creds}, nil},
		{Config{}, []string{"AUDITTRAIL_ELASTICSEARCH_URL: required"}},
		{Config{URL: "ftp://x"}, []string{"AUDITTRAIL_ELASTICSEARCH_URL"}},
		{Config{URL: "https://elastic:hunter2@es.example.com"}, []string{"AUDITTRAIL_ELASTICSEARCH_URL: credentials belong"}},
		{Config{URL: "https://es", DataStream: "Logs-Audit"}, []string{"AUDITTRAIL_ELASTICSEARCH_DATA_STREAM", "upper-case"}},
		{Config{URL: "https://es", DataStream: "_x"}, []string{"AUDITTRAIL_ELASTICSEARCH_DATA_STREAM"}},
		{Config{URL: "https://es", DataStream: "a b"}, []string{"AUDITTRAIL_ELASTICSEARCH_DATA_STREAM"}},
		{Config{URL: "https://es", DataStream: ".."}, []string{"AUDITTRAIL_ELASTICSEARCH_DATA_STREAM"}},
		{Config{URL: "https://es", DataStream: ".ds-logs-x-y"}, []string{"AUDITTRAIL_ELASTICSEARCH_DATA_STREAM", "backing"}},
		{Config{URL: "https://es", DataStream: strings.Repeat("a", 256)}, []string{"AUDITTRAIL_ELASTICSEARCH_DATA_STREAM", "255"}},
		{Config{URL: "https://es", Codec: buffer.Zstd}, []string{"elasticsearch: compression"}},
		{Config{URL: "https://es", MaxRequestBytes: 10}, []string{"elasticsearch: max request size"}},
		{Config{URL: "https://es", MaxRequestBytes: 1 << 30}, []string{"elasticsearch: max request size"}},
		{Config{URL: "https://es", Username: "u"}, []string{"AUDITTRAIL_ELASTICSEARCH_PASSWORD: required"}},
		{Config{URL: "https://es", Password: sinks.StaticSecret("p")}, []string{"AUDITTRAIL_ELASTICSEARCH_USERNAME: required"}},
		{Config{URL: "https://es", APIKey: sinks.StaticSecret("k"), Username: "u", Password: sinks.StaticSecret("p")}, []string{"only one way"}},
		{Config{URL: "https://es", AWSService: "s3"}, []string{"AUDITTRAIL_ELASTICSEARCH_AWS_SIGV4", "AWS_REGION", "Credentials"}},
		// Every problem at once.
		{Config{URL: "nope", DataStream: "UP", Codec: "lz4"}, []string{"AUDITTRAIL_ELASTICSEARCH_URL", "AUDITTRAIL_ELASTICSEARCH_DATA_STREAM", "elasticsearch: compression"}},
	} {
		err := tt.cfg.Validate()
		if (err == nil) != (tt.want == nil) {
			t.Errorf("%+v: Validate() = %v", tt.cfg, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: %v does not mention %q", tt.cfg, err, w)
			}
		}
		if strings.Contains(fmt.Sprint(err), "hunter2") {
			t.Errorf("the error shows the URL's password: %v", err)
		}
		if _, nerr := New(tt.cfg); (nerr == nil) != (tt.want == nil) {
			t.Errorf("%+v: New: %v", tt.cfg, nerr)
		}
	}
}

func TestDefaults(t *testing.T) {
	s, err := New(Config{URL: "https://es.example.com/"})
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.DataStream != DefaultDataStream || s.cfg.Codec != buffer.Gzip || s.cfg.MaxRequestBytes != DefaultMaxRequestBytes ||
		s.bulkURL != "https://es.example.com/_bulk" || !s.enc.withID || s.Name() != "elasticsearch" {
		t.Errorf("defaults: %+v, %s", s.cfg, s.bulkURL)
	}
	if d, z := DefaultConfig(), (Config{}).withDefaults(); d.DataStream != z.DataStream || d.Codec != z.Codec || d.MaxRequestBytes != z.MaxRequestBytes {
		t.Errorf("DefaultConfig %+v, zero value's defaults %+v", d, z)
	}
	if err := errors.Join(s.Close(t.Context()), s.Close(t.Context())); err != nil {
		t.Errorf("close twice, without a write: %v", err)
	}
}
