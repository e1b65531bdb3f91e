package httpsink

// The receiver here is a handler that decodes a request as any NDJSON HTTP
// input must (Content-Encoding, one JSON object per line) and answers as
// the test says; the delivery core's fault tests drive the same sink
// through lambdasim.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/audittrail/audittrail/buffer"
	"github.com/audittrail/audittrail/sinks"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

var batch = [][]byte{[]byte(`{"event":{"id":"a"}}`), []byte(`{"event":{"id":"b"}}`)}

// decode returns the request's body lines after undoing its encoding.
func decode(t *testing.T, r *http.Request) []string {
	t.Helper()
	var body io.Reader = r.Body
	switch r.Header.Get("Content-Encoding") {
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Errorf("gzip: %v", err)
			return nil
		}
		body = zr
	case "zstd":
		zr, err := zstd.NewReader(r.Body)
		if err != nil {
			t.Errorf("zstd: %v", err)
			return nil
		}
		defer zr.Close()
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Errorf("body: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestWriteEncodesEveryCodec(t *testing.T) {
	for _, codec := range []buffer.Codec{buffer.None, buffer.Gzip, buffer.Zstd} {
		t.Run(string(codec), func(t *testing.T) {
			var got []string
			var hdr http.Header
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hdr = r.Header.Clone()
				got = decode(t, r)
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()
			s, err := New(Config{URL: srv.URL, Codec: codec, Authorization: sinks.StaticSecret("Bearer xyz")})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Write(t.Context(), batch); err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0] != string(batch[0]) || got[1] != string(batch[1]) {
				t.Errorf("receiver got %q", got)
			}
			if hdr.Get("Content-Type") != "application/x-ndjson" || hdr.Get("Authorization") != "Bearer xyz" || hdr.Get("Content-Encoding") != codec.ContentEncoding() {
				t.Errorf("headers %v", hdr)
			}
			if err := s.Close(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestWriteClassifiesAnswers(t *testing.T) {
	tests := []struct {
		status     int
		retryAfter string
		permanent  bool
		throttled  bool
	}{
		{200, "", false, false},
		{400, "", true, false},
		{401, "", true, false},
		{413, "", true, false},
		{429, "2", false, true},
		{500, "", false, false},
		{503, "", false, false},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tt.retryAfter != "" {
				w.Header().Set("Retry-After", tt.retryAfter)
			}
			w.WriteHeader(tt.status)
			_, _ = w.Write([]byte(`{"error":"said the receiver"}`))
		}))
		s, _ := New(Config{URL: srv.URL, Codec: buffer.Gzip})
		err := s.Write(t.Context(), batch)
		srv.Close()
		if tt.status < 300 {
			if err != nil {
				t.Errorf("%d: %v", tt.status, err)
			}
			continue
		}
		_, throttled := sinks.RetryAfter(err)
		if err == nil || sinks.IsPermanent(err) != tt.permanent || throttled != tt.throttled {
			t.Errorf("%d: error %v (permanent %v, throttled %v)", tt.status, err, sinks.IsPermanent(err), throttled)
		}
	}
}

func TestWriteNetworkErrorsAreTransient(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	s, _ := New(Config{URL: url})
	if err := s.Write(t.Context(), batch); err == nil || sinks.IsPermanent(err) {
		t.Fatalf("write to a closed port: %v, want a transient error", err)
	}
}

func TestWriteStopsWithTheContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release // a receiver that hangs
	}))
	defer srv.Close()
	defer close(release)
	s, _ := New(Config{URL: srv.URL})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := s.Write(ctx, batch); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("write to a hanging receiver: %v, want the context's deadline", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, u := range []string{"", "http://[::1", "::nope"} {
		if _, err := New(Config{URL: u}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}
