package otlp

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/audittrail/audittrail/sinks"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/proto"
)

// FuzzClassify feeds classify arbitrary answers: it must not panic, and
// its class must follow the status alone (the body only adds words).
func FuzzClassify(f *testing.F) {
	f.Add(200, contentProtobuf, []byte{0x0a, 0x00}, "")
	f.Add(200, contentProtobuf, pbPartialSuccess(3, "why"), "")
	f.Add(200, contentJSON, []byte(`{"partialSuccess":{"rejectedLogRecords":"2"}}`), "")
	f.Add(400, contentProtobuf, pbStatus(3, "bad"), "")
	f.Add(400, contentJSON, []byte(`{"code":3,"message":"bad"}`), "")
	f.Add(429, "text/plain", []byte("slow down"), "5")
	f.Add(503, "", []byte{}, "Mon, 02 Jan 2006 15:04:05 GMT")
	f.Fuzz(func(t *testing.T, status int, ctype string, body []byte, retryAfter string) {
		h := http.Header{}
		h.Set("Content-Type", ctype)
		h.Set("Retry-After", retryAfter)
		const sent = 10
		err := classify(&http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body))}, sent, time.Now())
		var pe *sinks.PartialError
		switch {
		case status >= 200 && status <= 299:
			if err != nil && (!errors.As(err, &pe) || pe.RejectedCount < 1 || pe.RejectedCount > sent || pe.Retry) {
				t.Fatalf("2xx gave %v", err)
			}
		case status == 429 || status == 502 || status == 503 || status == 504:
			if err == nil || sinks.IsPermanent(err) {
				t.Fatalf("%d gave %v, want transient", status, err)
			}
		default:
			if !sinks.IsPermanent(err) {
				t.Fatalf("%d gave %v, want permanent", status, err)
			}
		}
		if err != nil && (strings.ContainsAny(err.Error(), "\n\r\x00") || len(err.Error()) > 3*maxMessage) {
			t.Fatalf("error not one bounded line: %q", err)
		}
	})
}

// FuzzDecodeResponse feeds the protobuf decoders of answers arbitrary
// bytes: they must not panic, and what they decode, encoded again, must
// decode to the same. (The generated response types live in a package that
// imports gRPC, see decodeRequest, so they cannot be the oracle here.)
func FuzzDecodeResponse(f *testing.F) {
	f.Add(pbPartialSuccess(7, "seven"))
	f.Add(pbStatus(14, "busy"))
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, m, err := decodePartialSuccess(b); err == nil && (n != 0 || m != "") {
			n2, m2, err := decodePartialSuccess(pbPartialSuccess(n, m))
			if err != nil || n2 != n || m2 != m {
				t.Fatalf("round trip of %d %q: %d %q %v", n, m, n2, m2, err)
			}
		}
		if code, m, err := decodeStatus(b); err == nil {
			code2, m2, err := decodeStatus(pbStatus(code, m))
			if err != nil || code2 != code || m2 != m {
				t.Fatalf("round trip of %d %q: %d %q %v", code, m, code2, m2, err)
			}
		}
	})
}

// FuzzParseHeaders checks that the header list parser never panics, never
// returns a name or value that net/http would refuse to send, and that
// what it returns, encoded again, parses to the same.
func FuzzParseHeaders(f *testing.F) {
	for _, s := range []string{"", "a=b", "Authorization=Bearer%20x,k2=v2", " a = 1 ,, b=%20", "a", "=", "a=%zz", "a=%0d%0a", "a=1,A=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHeaders(s)
		if err != nil {
			if h != nil {
				t.Fatalf("error %v with a result %v", err, h)
			}
			return
		}
		var parts []string
		for k, v := range h {
			if !isToken(k) || k != http.CanonicalHeaderKey(k) || hasControl(v) {
				t.Fatalf("ParseHeaders(%q) gave %q=%q", s, k, v)
			}
			parts = append(parts, k+"="+url.PathEscape(v))
		}
		again, err := ParseHeaders(strings.Join(parts, ","))
		if err != nil || len(again) != len(h) {
			t.Fatalf("re-parse of %v: %v, %v", h, again, err)
		}
		for k, v := range h {
			if again[k] != v {
				t.Fatalf("re-parse of %q=%q gave %q", k, v, again[k])
			}
		}
		req, _ := http.NewRequest(http.MethodPost, "http://x/", nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		if err := req.Header.Write(io.Discard); err != nil {
			t.Fatalf("net/http cannot send %v: %v", h, err)
		}
	})
}

// FuzzEncode feeds the encoder arbitrary records next to a real one: it
// must not panic, must refuse exactly the records it leaves out, and its
// body must be what proto.Marshal gives for it.
func FuzzEncode(f *testing.F) {
	real := loadBatch(f, filepath.Join("testdata", "demo_environment.json"))
	f.Add([]byte(`{"event":{"action":"log","outcome":"unknown"},"log":{"level":"warn"}}`))
	f.Add([]byte(`{"@timestamp":"2026-12-01T07:17:51Z","aws":{"xray":{"trace_id":"1-6b0e749f-145327fa1b15be25b8b10cc8","sampled":true}}}`))
	f.Add([]byte(`{"http":{"request":{"header":{"x-forwarded-for":["a","b"]}}},"audit":{"seq":12}}`))
	f.Add(real[1])
	f.Add([]byte("{\"event\":{\"id\":\"\xff\"}}"))
	enc := newEncoder(Config{ServiceName: "svc", ResourceAttributes: map[string]string{"k": "v"}})
	f.Fuzz(func(t *testing.T, rec []byte) {
		batch := [][]byte{real[0], rec}
		body, bad, err := enc.encode(t.Context(), nil, batch, time.Unix(1, 0))
		if err != nil {
			t.Fatal(err)
		}
		if len(bad) > 1 || (len(bad) == 1 && bad[0] != 1) {
			t.Fatalf("bad %v", bad)
		}
		var req logspb.LogsData
		if err := proto.Unmarshal(body, &req); err != nil {
			t.Fatalf("body does not decode: %v", err)
		}
		again, err := proto.MarshalOptions{Deterministic: true}.Marshal(&req)
		if err != nil || !bytes.Equal(again, body) {
			t.Fatalf("proto.Marshal differs (%v)", err)
		}
		var n int
		var bodies []string
		for _, rl := range req.ResourceLogs {
			for _, lr := range rl.ScopeLogs[0].LogRecords {
				n++
				bodies = append(bodies, lr.Body.GetStringValue())
			}
		}
		if n != len(batch)-len(bad) || !slices.Contains(bodies, string(real[0])) {
			t.Fatalf("%d log records for %d records, %d bad", n, len(batch), len(bad))
		}
	})
}
