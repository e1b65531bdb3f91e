package splunk

// The receiver in these tests is fakeHEC, a handler that decodes requests
// as HEC does and answers from a script with Splunk's documented answers
// (testdata/answers and classify_test.go say where each comes from). The
// collector's splunk_hec receiver, the only real HEC here, cannot be made
// to refuse part of a batch, to be busy or to be slow to acknowledge, so
// those behaviours are tested here against documented examples; the happy
// path, the token refusal and acknowledgement run against it in
// peer_test.go.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/audittrail/audittrail/sinks"
	"github.com/google/uuid"
	"github.com/klauspost/compress/gzip"
)

const testToken = "11111111-2222-3333-4444-555555555555"

// reply is one scripted answer.
type reply struct {
	status     int
	body       string
	retryAfter string
}

// seen is a request the fake received, its body decoded.
type seen struct {
	path, query string
	header      http.Header
	body        string
	at          time.Time
}

// fakeHEC answers event posts and acknowledgement queries from scripts; past
// the end of a script it succeeds: an event post gets an ackId when it
// carries a channel, an acknowledgement query gets every id acknowledged.
type fakeHEC struct {
	t *testing.T

	mu        sync.Mutex
	events    []reply
	acks      []reply
	gotEvents []seen
	gotAcks   []seen
	nextAckID uint64
}

func (f *fakeHEC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			f.t.Errorf("gzip: %v", err)
			http.Error(w, `{"text":"Invalid data format","code":6}`, http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		f.t.Errorf("body: %v", err)
	}
	s := seen{path: r.URL.Path, query: r.URL.RawQuery, header: r.Header.Clone(), body: string(b), at: time.Now()}

	f.mu.Lock()
	defer f.mu.Unlock()
	var rep reply
	switch r.URL.Path {
	case "/services/collector/event":
		f.gotEvents = append(f.gotEvents, s)
		if n := len(f.gotEvents); n <= len(f.events) {
			rep = f.events[n-1]
		} else if r.Header.Get("X-Splunk-Request-Channel") != "" {
			rep = reply{200, `{"text":"Success","code":0,"ackId":` + strconv.FormatUint(f.nextAckID, 10) + `}`, ""}
			f.nextAckID++
		} else {
			rep = reply{200, `{"text":"Success","code":0}`, ""}
		}
	case "/services/collector/ack":
		f.gotAcks = append(f.gotAcks, s)
		if n := len(f.gotAcks); n <= len(f.acks) {
			rep = f.acks[n-1]
		} else {
			var q struct{ Acks []uint64 }
			if err := json.Unmarshal(b, &q); err != nil {
				f.t.Errorf("ack query %q: %v", b, err)
			}
			var out []string
			for _, id := range q.Acks {
				out = append(out, strconv.Quote(strconv.FormatUint(id, 10))+":true")
			}
			rep = reply{200, `{"acks":{` + strings.Join(out, ",") + `}}`, ""}
		}
	default:
		rep = reply{404, "Not Found", ""}
	}
	if rep.retryAfter != "" {
		w.Header().Set("Retry-After", rep.retryAfter)
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (f *fakeHEC) sentEvents() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.gotEvents)
}

func (f *fakeHEC) sentAcks() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.gotAcks)
}

// serve starts f on a real socket and returns its URL.
func (f *fakeHEC) serve(t *testing.T) string {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

// handlerTransport serves requests with a handler, in memory: a client
// with it runs inside a synctest bubble, whose fake clock real sockets
// would stop.
type handlerTransport struct{ h http.Handler }

func (ht handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	ht.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

func newSink(t *testing.T, cfg Config) *Sink {
	t.Helper()
	if cfg.Token == nil {
		cfg.Token = sinks.StaticSecret(testToken)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// records returns n small records.
func records(n int) [][]byte {
	var b [][]byte
	for i := range n {
		b = append(b, []byte(`{"@timestamp":"2026-11-22T10:00:00Z","event":{"id":"r`+strconv.Itoa(i)+`"},"pad":"`+strings.Repeat("x", 300)+`"}`))
	}
	return b
}

func TestWriteSendsTheGoldenBodies(t *testing.T) {
	for _, compress := range []bool{true, false} {
		f := &fakeHEC{t: t}
		s := newSink(t, Config{URL: f.serve(t), Host: goldenMeta.host, Index: goldenMeta.index,
			MaxBodyBytes: goldenCases["split"].maxBody, DisableCompression: !compress})
		if err := s.Write(t.Context(), readCase(t, "split")); err != nil {
			t.Fatal(err)
		}
		got := f.sentEvents()
		want := goldenBodies(t, "split")
		if len(got) != len(want) {
			t.Fatalf("%d requests, want %d", len(got), len(want))
		}
		for i, r := range got {
			if r.body != want[i] {
				t.Errorf("request %d differs from split.golden:\n%s", i, r.body)
			}
			h := r.header
			enc := map[bool]string{true: "gzip", false: ""}[compress]
			if h.Get("Authorization") != "Splunk "+testToken || h.Get("Content-Type") != "application/json" ||
				h.Get("Content-Encoding") != enc || h.Get("X-Splunk-Request-Channel") != "" || r.path != "/services/collector/event" {
				t.Errorf("request %d: %s %v", i, r.path, h)
			}
		}
		if len(f.sentAcks()) != 0 {
			t.Error("acknowledgement queried without Ack")
		}
	}
}

func TestWriteEmptyBatchSendsNothing(t *testing.T) {
	f := &fakeHEC{t: t}
	s := newSink(t, Config{URL: f.serve(t)})
	if err := s.Write(t.Context(), nil); err != nil || len(f.sentEvents()) != 0 {
		t.Fatalf("%v, %d requests", err, len(f.sentEvents()))
	}
}

func TestURLForms(t *testing.T) {
	for _, suffix := range []string{"", "/", "/services/collector", "/services/collector/", "/services/collector/event", "/services/collector/event/1.0"} {
		f := &fakeHEC{t: t}
		s := newSink(t, Config{URL: f.serve(t) + suffix})
		if err := s.Write(t.Context(), records(1)); err != nil {
			t.Errorf("%q: %v", suffix, err)
		}
	}
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.URL.Path + "?" + r.URL.RawQuery }))
	defer srv.Close()
	s := newSink(t, Config{URL: srv.URL + "/splunk/services/collector?x=1"})
	if err := s.Write(t.Context(), records(1)); err != nil || got != "/splunk/services/collector/event?x=1" {
		t.Errorf("behind a prefix: %q, %v", got, err)
	}
}

// TestWriteOutcomes scripts HEC's answers (Splunk's documented ones) to a
// batch of 6 records sent as 3 requests of 2, and checks what Write
// returns and which requests it made.
func TestWriteOutcomes(t *testing.T) {
	invalidToken := reply{403, `{"text":"Invalid token","code":4}`, ""}
	badData := reply{400, `{"text":"Invalid data format","code":6}`, ""}
	badEvent1 := reply{400, `{"text":"Invalid data format","code":6,"invalid-event-number":1}`, ""}
	busy := reply{503, `{"text":"Server is busy","code":9}`, ""}
	ok := reply{200, `{"text":"Success","code":0}`, ""}
	tests := []struct {
		name      string
		bad       int // index of a record that is not JSON, or -1
		answers   []reply
		requests  int
		permanent bool
		throttled bool
		rejected  []int // nil: not a PartialError
		retry     bool
	}{
		{"all taken", -1, nil, 3, false, false, nil, false},
		{"token refused at once", -1, []reply{invalidToken}, 1, true, false, nil, false},
		{"token refused after a request", -1, []reply{ok, invalidToken}, 2, false, false, []int{2, 3, 4, 5}, false},
		{"one request's data refused", -1, []reply{ok, badData}, 3, false, false, []int{2, 3}, false},
		{"one event refused", -1, []reply{ok, badEvent1}, 3, false, false, []int{3}, true},
		{"busy", -1, []reply{ok, busy}, 2, false, true, nil, false},
		{"busy at once", -1, []reply{busy}, 1, false, true, nil, false},
		{"a record is not JSON", 4, nil, 3, false, false, []int{4}, false},
		{"not JSON, then busy", 0, []reply{busy}, 1, false, false, []int{0}, true},
		{"not JSON, then the token", 0, []reply{invalidToken}, 1, false, false, []int{0, 1, 2, 3, 4, 5}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batch := records(6)
			if tt.bad >= 0 {
				batch[tt.bad] = []byte(`{"truncated":`)
			}
			one, _ := newEncoder("", DefaultSource, DefaultSourcetype, "", 0).appendEvent(nil, batch[1])
			f := &fakeHEC{t: t, events: tt.answers}
			s := newSink(t, Config{URL: f.serve(t), MaxBodyBytes: max(2*len(one), MinMaxBodyBytes)})
			err := s.Write(t.Context(), batch)

			if n := len(f.sentEvents()); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			var pe *sinks.PartialError
			isPartial := errors.As(err, &pe)
			_, throttled := sinks.RetryAfter(err)
			switch {
			case tt.rejected != nil:
				if !isPartial || !slices.Equal(pe.Rejected, tt.rejected) || pe.Retry != tt.retry || pe.RejectedCount != 0 {
					t.Errorf("%v (%+v), want rejected %v retry %v", err, pe, tt.rejected, tt.retry)
				}
			case isPartial:
				t.Errorf("unexpected partial error %v", err)
			case !tt.permanent && !tt.throttled:
				if err != nil {
					t.Errorf("error %v", err)
				}
			default:
				if err == nil || sinks.IsPermanent(err) != tt.permanent || throttled != tt.throttled {
					t.Errorf("%v: permanent %v, throttled %v; want %v, %v", err, sinks.IsPermanent(err), throttled, tt.permanent, tt.throttled)
				}
			}
		})
	}
}

// TestWriteUnderRetry runs the sink under the delivery core's retry
// wrapper: after HEC names one bad event, the next attempt sends the rest
// of the batch and the refused record is reported by its index.
func TestWriteUnderRetry(t *testing.T) {
	f := &fakeHEC{t: t, events: []reply{{400, `{"text":"Invalid data format","code":6,"invalid-event-number":2}`, ""}}}
	s := newSink(t, Config{URL: f.serve(t)})
	r := sinks.WithRetry(s, sinks.RetryConfig{InitialInterval: time.Millisecond, MaxInterval: time.Millisecond, Multiplier: 1, MaxElapsed: time.Minute, BreakerFailures: 3})
	err := r.Write(t.Context(), records(4))
	var pe *sinks.PartialError
	if !errors.As(err, &pe) || !slices.Equal(pe.Rejected, []int{2}) || pe.Retry {
		t.Fatalf("%v, want record 2 rejected and the rest delivered", err)
	}
	got := f.sentEvents()
	if len(got) != 2 || strings.Count(got[1].body, `"event":{"@timestamp"`) != 3 || strings.Contains(got[1].body, `"r2"`) {
		t.Fatalf("%d requests; the second: %s", len(got), got[len(got)-1].body)
	}
}

func TestWriteTokenNeverInErrors(t *testing.T) {
	// The collector echoes a wrong token in its 401 body.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, "scheme or token does not match: "+r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	s := newSink(t, Config{URL: srv.URL})
	err := s.Write(t.Context(), records(1))
	if !sinks.IsPermanent(err) || strings.Contains(err.Error(), testToken) || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Fatalf("%v", err)
	}
}

func TestWriteTokenFetchFailureIsTransient(t *testing.T) {
	fetches := 0
	tok := sinks.LazySecret(func(context.Context) (string, error) {
		fetches++
		if fetches == 1 {
			return "", errors.New("secrets manager unreachable")
		}
		return testToken, nil
	})
	f := &fakeHEC{t: t}
	s := newSink(t, Config{URL: f.serve(t), Token: tok})
	if err := s.Write(t.Context(), records(1)); err == nil || sinks.IsPermanent(err) {
		t.Fatalf("first write: %v, want a transient error", err)
	}
	if err := s.Write(t.Context(), records(1)); err != nil {
		t.Fatal(err)
	}
	if got := f.sentEvents(); len(got) != 1 || got[0].header.Get("Authorization") != "Splunk "+testToken {
		t.Fatalf("requests %v", got)
	}
}

func TestWriteNetworkErrorsAreTransient(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	s := newSink(t, Config{URL: url})
	if err := s.Write(t.Context(), records(1)); err == nil || sinks.IsPermanent(err) {
		t.Fatalf("%v, want a transient error", err)
	}
}

func TestWriteStopsWithTheContextAndClosesTheConnection(t *testing.T) {
	gone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // then the server watches the connection
		<-r.Context().Done()               // hangs until the client goes away
		close(gone)
	}))
	defer srv.Close()
	s := newSink(t, Config{URL: srv.URL})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := s.Write(ctx, records(1)); !errors.Is(err, context.DeadlineExceeded) || sinks.IsPermanent(err) {
		t.Fatalf("%v, want the context's deadline", err)
	}
	<-gone // the connection was closed, not left to the transport
}

// TestAck runs the acknowledgement in a synctest bubble, HEC answering
// in memory, so the polls' timing is exact.
func TestAck(t *testing.T) {
	notYet := func(ids ...string) reply {
		var kv []string
		for _, id := range ids {
			kv = append(kv, `"`+id+`":false`)
		}
		return reply{200, `{"acks":{` + strings.Join(kv, ",") + `}}`, ""}
	}
	tests := []struct {
		name      string
		events    []reply
		acks      []reply
		timeout   time.Duration // of ctx; 0: none
		ackTO     time.Duration
		wantErr   string // "": nil
		permanent bool
		queries   int
	}{
		{name: "acknowledged at the first poll", queries: 1},
		{name: "acknowledged in two polls", acks: []reply{{200, `{"acks":{"0":true,"1":false}}`, ""}}, queries: 2},
		{name: "a failed query is tried again", acks: []reply{{503, `{"text":"Server is busy","code":9}`, ""}}, queries: 2},
		{name: "never acknowledged within ctx", acks: slices.Repeat([]reply{notYet("0", "1")}, 100), timeout: 50 * time.Millisecond,
			wantErr: "2 of 2 request(s) not acknowledged: context deadline exceeded", queries: 2},
		{name: "never acknowledged within AckTimeout", acks: slices.Repeat([]reply{notYet("0", "1")}, 100), ackTO: 3 * time.Second,
			wantErr: "not acknowledged within AUDITTRAIL_SPLUNK_ACK_TIMEOUT (3s)", queries: 8},
		{name: "ack refused", acks: []reply{{400, `{"text":"ACK is disabled","code":14}`, ""}},
			wantErr: "indexing cannot be confirmed", permanent: true, queries: 1},
		{name: "ack query answer unreadable", acks: []reply{{200, `<html>`, ""}}, queries: 2},
		{name: "no ackId: the token does not use acknowledgement",
			events: []reply{{200, `{"text":"Success","code":0}`, ""}, {200, `{"text":"Success","code":0}`, ""}}, queries: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeHEC{t: t, events: tt.events, acks: tt.acks}
				s := newSink(t, Config{URL: "https://hec.example.com:8088", Ack: true, AckTimeout: tt.ackTO,
					MaxBodyBytes: MinMaxBodyBytes, Client: &http.Client{Transport: handlerTransport{f}}})
				ctx := t.Context()
				if tt.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				start := time.Now()
				err := s.Write(ctx, records(4)) // 2 requests of 2

				switch {
				case tt.wantErr == "" && err != nil:
					t.Fatalf("error %v", err)
				case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || sinks.IsPermanent(err) != tt.permanent):
					t.Fatalf("%v (permanent %v), want %q (permanent %v)", err, sinks.IsPermanent(err), tt.wantErr, tt.permanent)
				}
				events, acks := f.sentEvents(), f.sentAcks()
				if len(events) != 2 {
					t.Fatalf("%d event requests", len(events))
				}
				ch := events[0].header.Get("X-Splunk-Request-Channel")
				if _, err := uuid.Parse(ch); err != nil {
					t.Errorf("channel %q: %v", ch, err)
				}
				if len(acks) != tt.queries {
					t.Errorf("%d acknowledgement queries, want %d", len(acks), tt.queries)
				}
				// Polls come 10 ms after the last request, then after 20, 40... ms.
				wait, at := ackPollInterval, start
				for i, q := range acks {
					at = at.Add(wait)
					wait = min(2*wait, maxAckPollInterval)
					if q.header.Get("X-Splunk-Request-Channel") != ch || q.header.Get("Authorization") != "Splunk "+testToken || q.path != "/services/collector/ack" {
						t.Errorf("query %d: %s %v", i, q.path, q.header)
					}
					if !q.at.Equal(at) {
						t.Errorf("query %d at %v, want %v", i, q.at.Sub(start), at.Sub(start))
					}
				}
				if tt.queries > 0 && acks[0].body != `{"acks":[0,1]}` {
					t.Errorf("first query %s", acks[0].body)
				}
				if tt.name == "acknowledged in two polls" && acks[1].body != `{"acks":[1]}` {
					t.Errorf("second query %s, want only the id still pending", acks[1].body)
				}
			})
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tok := sinks.StaticSecret("t")
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; nil: valid
	}{
		{"minimal", Config{URL: "https://hec.example.com:8088", Token: tok}, nil},
		{"everything", Config{URL: "http://127.0.0.1:8088/services/collector/event", Token: tok, Host: "orders-api", Source: "s", Sourcetype: "aws:lambda:audit",
			Index: "security_audit-1", MaxBodyBytes: MinMaxBodyBytes, Ack: true, AckTimeout: time.Second}, nil},
		{"defaults", func() Config { c := DefaultConfig(); c.URL, c.Token = "https://h", tok; return c }(), nil},
		{"nothing", Config{}, []string{"AUDITTRAIL_SPLUNK_URL: required", "AUDITTRAIL_SPLUNK_TOKEN: required"}},
		{"bad URL", Config{URL: "ftp://x", Token: tok}, []string{`AUDITTRAIL_SPLUNK_URL: "ftp://x" is not an http:// or https:// URL`}},
		{"no host", Config{URL: "https://", Token: tok}, []string{"AUDITTRAIL_SPLUNK_URL"}},
		{"unparsable URL", Config{URL: "http://[::1", Token: tok}, []string{"AUDITTRAIL_SPLUNK_URL: not a URL"}},
		{"raw endpoint", Config{URL: "https://h/services/collector/raw", Token: tok}, []string{"neither HEC's base URL"}},
		{"password hidden", Config{URL: "ftp://u:hunter2@h", Token: tok}, []string{"u:xxxxx@h"}},
		{"all fields bad", Config{URL: "https://h", Token: tok, Host: "a\nb", Source: "\xff", Sourcetype: "\t", Index: "Main",
			MaxBodyBytes: 10, AckTimeout: -1}, []string{
			"AUDITTRAIL_SPLUNK_HOST:", "AUDITTRAIL_SPLUNK_SOURCE:", "AUDITTRAIL_SPLUNK_SOURCETYPE:", `AUDITTRAIL_SPLUNK_INDEX: "Main"`,
			"AUDITTRAIL_SPLUNK_MAX_BODY_BYTES: 10 is not between", "AUDITTRAIL_SPLUNK_ACK_TIMEOUT: -1ns is negative"}},
		{"body too large", Config{URL: "https://h", Token: tok, MaxBodyBytes: MaxMaxBodyBytes + 1}, []string{"AUDITTRAIL_SPLUNK_MAX_BODY_BYTES"}},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", tt.name, err, w)
			}
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: password in %q", tt.name, err)
		}
		if _, nerr := New(tt.cfg); nerr == nil {
			t.Errorf("%s: New accepted what Validate refuses", tt.name)
		}
	}
}

func TestNewAndClose(t *testing.T) {
	s, err := New(Config{URL: "https://hec.example.com:8088/", Token: sinks.StaticSecret("t")})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "splunk" || s.eventURL != "https://hec.example.com:8088/services/collector/event" ||
		s.ackURL != "https://hec.example.com:8088/services/collector/ack" || s.channel != "" || s.cfg.Client.Jar == nil {
		t.Errorf("sink %+v", s)
	}
	if !bytes.Equal(s.enc.meta, []byte(`"source":"audittrail","sourcetype":"audittrail",`)) || s.enc.maxBody != DefaultMaxBodyBytes || s.cfg.AckTimeout != DefaultAckTimeout {
		t.Errorf("defaults: meta %s, max %d, ack timeout %v", s.enc.meta, s.enc.maxBody, s.cfg.AckTimeout)
	}
	for range 2 { // Close without Write, and twice
		if err := s.Close(t.Context()); err != nil {
			t.Error(err)
		}
	}
	a, _ := New(Config{URL: "https://h", Token: sinks.StaticSecret("t"), Ack: true})
	b, _ := New(Config{URL: "https://h", Token: sinks.StaticSecret("t"), Ack: true})
	if a.channel == "" || a.channel == b.channel {
		t.Errorf("channels %q and %q", a.channel, b.channel)
	}
}
