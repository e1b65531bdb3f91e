package otlp

// The receiver in these tests is an httptest handler that decodes each
// request as an OTLP/HTTP receiver must (Content-Encoding, then the
// protobuf body, with the generated OTLP types) and answers as the test
// says; peer_test.go sends to the real Collector and VictoriaLogs.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/audittrail/audittrail/buffer"
	"github.com/audittrail/audittrail/sinks"
	"github.com/klauspost/compress/gzip"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/proto"
)

// received is one request as the receiver saw it.
type received struct {
	path   string
	header http.Header
	logs   *logspb.LogsData
	err    error // decoding it
}

// bodies returns the log records' bodies, in order.
func (r received) bodies() []string {
	var out []string
	for _, rl := range r.logs.GetResourceLogs() {
		for _, sl := range rl.ScopeLogs {
			for _, lr := range sl.LogRecords {
				out = append(out, lr.Body.GetStringValue())
			}
		}
	}
	return out
}

// receiver is an OTLP/HTTP receiver that records requests and answers with
// answer.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
}

// newReceiver starts a receiver; setup, if given, adjusts its server
// before it starts.
func newReceiver(t *testing.T, answer http.HandlerFunc, setup ...func(*http.Server)) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := received{path: r.URL.Path, header: r.Header.Clone(), logs: &logspb.LogsData{}}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				got.err = err
			} else {
				body = zr
			}
		}
		if got.err == nil {
			b, err := io.ReadAll(body)
			if err == nil {
				err = proto.Unmarshal(b, got.logs)
			}
			got.err = err
		}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, got)
		rc.mu.Unlock()
		answer(w, r)
	}))
	for _, f := range setup {
		f(rc.Config)
	}
	rc.Start()
	t.Cleanup(rc.Close)
	return rc
}

// requests returns what the receiver got so far.
func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

func answerOK(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", contentProtobuf)
	_, _ = w.Write([]byte{0x0a, 0x00}) // what the Collector answers
}

func newSink(t *testing.T, cfg Config) *Sink {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func demoBatch(t testing.TB) [][]byte {
	return loadBatch(t, filepath.Join("testdata", "demo_environment.json"))
}

func TestWriteSendsOneRequest(t *testing.T) {
	for _, codec := range []buffer.Codec{buffer.Gzip, buffer.None} {
		t.Run(string(codec), func(t *testing.T) {
			rc := newReceiver(t, answerOK)
			cfg := DefaultConfig()
			cfg.Endpoint = rc.URL + "/v1/logs"
			cfg.Compression = codec
			cfg.Headers = sinks.LazySecret(func(context.Context) (string, error) {
				return "Authorization=Bearer%20t0ken, x-scope-orgid=tenant-1", nil
			})
			s := newSink(t, cfg)
			batch := demoBatch(t)
			if err := s.Write(t.Context(), batch); err != nil {
				t.Fatal(err)
			}
			reqs := rc.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.err != nil {
				t.Fatalf("the receiver could not decode the request: %v", r.err)
			}
			h := r.header
			if r.path != "/v1/logs" || h.Get("Content-Type") != "application/x-protobuf" || h.Get("Content-Encoding") != codec.ContentEncoding() ||
				h.Get("Authorization") != "Bearer t0ken" || h.Get("X-Scope-Orgid") != "tenant-1" || h.Get("User-Agent") != "audittrail" {
				t.Errorf("path %s, headers %v", r.path, h)
			}
			got := r.bodies()
			if len(got) != len(batch) {
				t.Fatalf("%d log records, want %d", len(got), len(batch))
			}
			for i := range got {
				if got[i] != string(batch[i]) {
					t.Errorf("record %d arrived as %.60q", i, got[i])
				}
			}
		})
	}
}

func TestWriteEmptyBatchSendsNothing(t *testing.T) {
	rc := newReceiver(t, answerOK)
	s := newSink(t, Config{Endpoint: rc.URL})
	if err := s.Write(t.Context(), nil); err != nil || len(rc.requests()) != 0 {
		t.Errorf("empty batch: %v, %d requests", err, len(rc.requests()))
	}
}

func TestWriteClassifiesTheAnswer(t *testing.T) {
	for _, tt := range []struct {
		name   string
		answer http.HandlerFunc
		check  func(error) bool
	}{
		{"partial success", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", contentProtobuf)
			_, _ = w.Write(pbPartialSuccess(3, "3 records too old"))
		}, func(err error) bool {
			var pe *sinks.PartialError
			return errors.As(err, &pe) && pe.RejectedCount == 3 && !pe.Retry && len(pe.Rejected) == 0
		}},
		{"503 with Retry-After", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(503)
		}, func(err error) bool {
			d, ok := sinks.RetryAfter(err)
			return ok && d.Seconds() == 3 && !sinks.IsPermanent(err)
		}},
		{"400 with a Status", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", contentProtobuf)
			w.WriteHeader(400)
			_, _ = w.Write(pbStatus(3, "bad body"))
		}, func(err error) bool { return sinks.IsPermanent(err) && strings.Contains(err.Error(), "bad body") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, tt.answer)
			err := newSink(t, Config{Endpoint: rc.URL}).Write(t.Context(), demoBatch(t))
			if !tt.check(err) {
				t.Errorf("error %v", err)
			}
		})
	}
}

func TestWriteRefusesWhatIsNotARecord(t *testing.T) {
	batch := demoBatch(t)[:3]
	batch = slices.Insert(batch, 1, []byte("{torn"))
	tests := []struct {
		name   string
		answer http.HandlerFunc
		want   sinks.PartialError // Err not compared
		perm   bool
	}{
		{"taken", answerOK, sinks.PartialError{Rejected: []int{1}}, false},
		{"partly taken", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", contentProtobuf)
			_, _ = w.Write(pbPartialSuccess(1, ""))
		}, sinks.PartialError{Rejected: []int{1}, RejectedCount: 1}, false},
		{"unavailable: retry the others", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) },
			sinks.PartialError{Rejected: []int{1}, Retry: true}, false},
		{"refused: all of it", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(400) }, sinks.PartialError{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, tt.answer)
			err := newSink(t, Config{Endpoint: rc.URL}).Write(t.Context(), batch)
			if got := rc.requests(); len(got) != 1 || len(got[0].bodies()) != 3 {
				t.Fatalf("the receiver got %v", got)
			}
			if tt.perm {
				if !sinks.IsPermanent(err) {
					t.Errorf("error %v, want a permanent one", err)
				}
				return
			}
			var pe *sinks.PartialError
			if !errors.As(err, &pe) || !slices.Equal(pe.Rejected, tt.want.Rejected) || pe.RejectedCount != tt.want.RejectedCount || pe.Retry != tt.want.Retry {
				t.Errorf("error %#v, want %+v", err, tt.want)
			}
		})
	}
}

func TestWriteSendsNothingWithoutRecords(t *testing.T) {
	rc := newReceiver(t, answerOK)
	err := newSink(t, Config{Endpoint: rc.URL}).Write(t.Context(), [][]byte{[]byte("x"), []byte("[]")})
	var pe *sinks.PartialError
	if !errors.As(err, &pe) || !slices.Equal(pe.Rejected, []int{0, 1}) || pe.Retry || len(rc.requests()) != 0 {
		t.Errorf("error %v, %d requests", err, len(rc.requests()))
	}
}

func TestWriteWithoutItsHeadersSendsNothing(t *testing.T) {
	for _, tt := range []struct {
		name    string
		headers *sinks.Secret
		want    string
	}{
		{"not fetched", sinks.LazySecret(func(context.Context) (string, error) { return "", errors.New("secrets manager unreachable") }), "unreachable"},
		{"not a list", sinks.StaticSecret("Bearer s3cret"), `AUDITTRAIL_OTLP_HEADERS: item 1: no "="`},
		{"reserved", sinks.StaticSecret("Content-Type=text/plain"), `"Content-Type": set by the sink`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, answerOK)
			err := newSink(t, Config{Endpoint: rc.URL, Headers: tt.headers}).Write(t.Context(), demoBatch(t))
			if err == nil || sinks.IsPermanent(err) || !strings.Contains(err.Error(), tt.want) || len(rc.requests()) != 0 {
				t.Errorf("error %v (want a transient one with %q), %d requests", err, tt.want, len(rc.requests()))
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error prints the secret: %v", err)
			}
		})
	}
}

func TestWriteToNothingIsTransient(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := newSink(t, Config{Endpoint: url}).Write(t.Context(), demoBatch(t))
	if err == nil || sinks.IsPermanent(err) {
		t.Errorf("write to a closed port: %v, want a transient error", err)
	}
}

// TestWriteCutShortLeavesNothingOnTheWire checks that when the context ends
// during a request, the request's connection is closed by the time Write
// returns, so nothing is in flight when Lambda freezes the process.
func TestWriteCutShortLeavesNothingOnTheWire(t *testing.T) {
	arrived := make(chan struct{})
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release // a receiver that hangs
	})
	defer close(release)

	var mu sync.Mutex
	var conns []net.Conn
	dialer := &net.Dialer{}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err == nil {
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
		return c, err
	}}}
	s := newSink(t, Config{Endpoint: rc.URL, Client: client})

	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived // the request is on the wire
		cancel()
	}()
	err := s.Write(ctx, demoBatch(t))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want the context's", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) != 1 {
		t.Fatalf("%d connections", len(conns))
	}
	if _, err := conns[0].Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("the connection is still open after Write returned (write: %v)", err)
	}
}

func TestWriteReusesItsConnection(t *testing.T) {
	var conns int
	var mu sync.Mutex
	rc := newReceiver(t, answerOK, func(s *http.Server) {
		s.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				mu.Lock()
				conns++
				mu.Unlock()
			}
		}
	})
	s := newSink(t, Config{Endpoint: rc.URL})
	for range 3 {
		if err := s.Write(t.Context(), demoBatch(t)); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if conns != 1 {
		t.Errorf("%d connections for 3 writes, want 1", conns)
	}
}

func TestValidate(t *testing.T) {
	ok := DefaultConfig()
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	secret := sinks.StaticSecret("Authorization=hunter2")
	tests := []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"no endpoint", func(c *Config) { c.Endpoint = "" }, []string{"AUDITTRAIL_OTLP_ENDPOINT: required"}},
		{"not http", func(c *Config) { c.Endpoint = "grpc://collector:4317" }, []string{"AUDITTRAIL_OTLP_ENDPOINT: grpc://collector:4317: want an http:// or https:// URL"}},
		{"password redacted", func(c *Config) { c.Endpoint = "ftp://u:hunter2@h/" }, []string{"AUDITTRAIL_OTLP_ENDPOINT: ftp://u:xxxxx@h/"}},
		{"zstd", func(c *Config) { c.Compression = buffer.Zstd }, []string{`AUDITTRAIL_OTLP_COMPRESSION: "zstd": want gzip or none`}},
		{"service name", func(c *Config) { c.ServiceName = "a\nb" }, []string{"AUDITTRAIL_OTLP_SERVICE_NAME: control character"}},
		{"service name not UTF-8", func(c *Config) { c.ServiceName = "\xff" }, []string{"AUDITTRAIL_OTLP_SERVICE_NAME: control character or invalid UTF-8"}},
		{"resource", func(c *Config) { c.ResourceAttributes = map[string]string{"": "x", "k": "\x00", "\xff": "v"} },
			[]string{"AUDITTRAIL_OTLP_RESOURCE_ATTRIBUTES: empty key", `AUDITTRAIL_OTLP_RESOURCE_ATTRIBUTES: "k": control character`, "a key is not UTF-8"}},
		{"scope version", func(c *Config) { c.ScopeVersion = "\xff" }, []string{"ScopeVersion: not UTF-8"}},
		{"everything at once", func(c *Config) {
			c.Endpoint, c.Compression, c.Headers = "", "brotli", secret
		}, []string{"AUDITTRAIL_OTLP_ENDPOINT: required", "AUDITTRAIL_OTLP_COMPRESSION"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.edit(&cfg)
			err := cfg.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("a secret is printed: %v", err)
			}
			if cfg.Headers != nil && strings.Contains(fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), "hunter2") {
				t.Error("printing the config prints the headers")
			}
			if _, err := New(cfg); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}

func TestNameAndClose(t *testing.T) {
	s := newSink(t, Config{Endpoint: "http://127.0.0.1:1/v1/logs"})
	if s.Name() != "otlp" {
		t.Errorf("name %q", s.Name())
	}
	for range 2 {
		if err := s.Close(t.Context()); err != nil {
			t.Error(err)
		}
	}
}
