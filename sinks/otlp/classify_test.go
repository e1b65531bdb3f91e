package otlp

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/audittrail/audittrail/sinks"
	"google.golang.org/protobuf/encoding/protowire"
)

// pbPartialSuccess encodes an ExportLogsServiceResponse whose
// partial_success (field 1) has rejected_log_records (field 1, int64) and
// error_message (field 2), as in
// opentelemetry/proto/collector/logs/v1/logs_service.proto.
func pbPartialSuccess(rejected int64, message string) []byte {
	var ps []byte
	if rejected != 0 {
		ps = protowire.AppendTag(ps, 1, protowire.VarintType)
		ps = protowire.AppendVarint(ps, uint64(rejected))
	}
	if message != "" {
		ps = protowire.AppendTag(ps, 2, protowire.BytesType)
		ps = protowire.AppendString(ps, message)
	}
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	return protowire.AppendBytes(b, ps)
}

// pbStatus encodes a google.rpc.Status: code (field 1, int32), message
// (field 2) and one details entry (field 3, a google.protobuf.Any whose
// type_url is field 1), as in google/rpc/status.proto.
func pbStatus(code int32, message string) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(code))
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, message)
	detail := protowire.AppendTag(nil, 1, protowire.BytesType)
	detail = protowire.AppendString(detail, "type.googleapis.com/google.rpc.ErrorInfo")
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	return protowire.AppendBytes(b, detail)
}

// response builds an answer as a receiver sends it.
func response(status int, ctype string, body []byte, header ...string) *http.Response {
	h := http.Header{}
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body))}
}

// Outcome classes.
const (
	ok = iota
	partial
	transient
	throttled
	permanent
)

// TestClassify goes through the answers the OTLP/HTTP specification
// (opentelemetry-proto docs/specification.md, "OTLP/HTTP Response")
// documents. The real receivers here (the Collector's otlp receiver and
// VictoriaLogs, see peer_test.go) produce the full successes, the 400
// Status and the 429; the partial successes, the other statuses and the
// Retry-After values are documented examples, no real peer here produces
// them.
func TestClassify(t *testing.T) {
	now := time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC)
	const sent = 5
	tests := []struct {
		name     string
		resp     *http.Response
		class    int
		rejected int           // partial
		after    time.Duration // throttled
		msg      string        // in the error
	}{
		// Full success: partial_success unset, or a body the receiver
		// chose to leave empty.
		{"200 empty body (VictoriaLogs)", response(200, "", nil), ok, 0, 0, ""},
		{"200 empty partial_success (the Collector)", response(200, contentProtobuf, []byte{0x0a, 0x00}), ok, 0, 0, ""},
		{"200 protobuf, no partial_success", response(200, contentProtobuf, []byte{}), ok, 0, 0, ""},
		{"200 JSON empty partial success", response(200, contentJSON, []byte(`{"partialSuccess":{}}`)), ok, 0, 0, ""},
		// Partial success: the count is all the client learns.
		{"200 partial success", response(200, contentProtobuf, pbPartialSuccess(2, "2 log records had an invalid severity")), partial, 2, 0, "invalid severity"},
		{"200 partial success, charset parameter", response(200, contentProtobuf+"; charset=binary", pbPartialSuccess(1, "")), partial, 1, 0, "rejected 1 of 5"},
		{"200 partial success, no Content-Type", response(200, "", pbPartialSuccess(3, "dropped")), partial, 3, 0, "dropped"},
		{"200 partial success, JSON with a string count", response(200, contentJSON, []byte(`{"partialSuccess":{"rejectedLogRecords":"4","errorMessage":"too old"}}`)), partial, 4, 0, "too old"},
		{"200 partial success, JSON with a number", response(200, contentJSON, []byte(`{"partialSuccess":{"rejectedLogRecords":4}}`)), partial, 4, 0, ""},
		{"200 more rejected than sent", response(200, contentProtobuf, pbPartialSuccess(99, "")), partial, sent, 0, "rejected 5 of 5"},
		{"200 warning only (rejected 0 with a message)", response(200, contentProtobuf, pbPartialSuccess(0, "attributes truncated")), ok, 0, 0, ""},
		{"200 negative count", response(200, contentProtobuf, pbPartialSuccess(-3, "")), ok, 0, 0, ""},
		{"200 malformed protobuf", response(200, contentProtobuf, []byte{0x0a, 0x05, 0x08}), ok, 0, 0, ""},
		{"200 malformed JSON", response(200, contentJSON, []byte(`{"partialSuccess":`)), ok, 0, 0, ""},
		{"200 text", response(200, "text/plain", []byte("OK")), ok, 0, 0, ""},
		{"202", response(202, "", nil), ok, 0, 0, ""},
		// Failures: a google.rpc.Status in the body.
		{"400 Status", response(400, contentProtobuf, pbStatus(3, "proto: cannot parse invalid wire-format data")), permanent, 0, 0, "HTTP 400 Bad Request: proto: cannot parse invalid wire-format data (INVALID_ARGUMENT)"},
		{"400 JSON Status (the Collector, for JSON requests)", response(400, contentJSON, []byte(`{"code":3,"message":"readStringSlowPath: unexpected end of input"}`)), permanent, 0, 0, "unexpected end of input (INVALID_ARGUMENT)"},
		{"401 text", response(401, "text/plain; charset=utf-8", []byte("missing or empty authorization header\n")), permanent, 0, 0, "HTTP 401 Unauthorized: missing or empty authorization header"},
		{"403", response(403, contentProtobuf, pbStatus(7, "bad API key")), permanent, 0, 0, "bad API key (PERMISSION_DENIED)"},
		{"404", response(404, "text/plain", []byte("404 page not found")), permanent, 0, 0, "404 page not found"},
		{"413", response(413, "", nil), permanent, 0, 0, "HTTP 413 Request Entity Too Large"},
		{"408 (not retryable in OTLP)", response(408, "", nil), permanent, 0, 0, ""},
		{"500 (not retryable in OTLP)", response(500, contentProtobuf, pbStatus(13, "exporter failed")), permanent, 0, 0, "exporter failed (INTERNAL)"},
		{"501", response(501, "", nil), permanent, 0, 0, ""},
		{"302 not followed", response(302, "", nil), permanent, 0, 0, ""},
		{"400 Status with an unknown code", response(400, contentProtobuf, pbStatus(99, "odd")), permanent, 0, 0, ": odd"},
		{"400 protobuf that is not a Status", response(400, contentProtobuf, []byte("\xffgarbage")), permanent, 0, 0, "?garbage"},
		// The retryable four, throttled when they say when.
		{"429 Retry-After seconds", response(429, contentProtobuf, pbStatus(8, "rate limited"), "Retry-After", "7"), throttled, 0, 7 * time.Second, "rate limited (RESOURCE_EXHAUSTED)"},
		{"429 text (VictoriaLogs read-only)", response(429, "text/plain", []byte("cannot add rows into storage in read-only mode")), transient, 0, 0, "read-only mode"},
		{"503 Retry-After date", response(503, "", nil, "Retry-After", now.Add(90*time.Second).Format(http.TimeFormat)), throttled, 0, 90 * time.Second, "HTTP 503"},
		{"503 Status", response(503, contentProtobuf, pbStatus(14, "server is overloaded")), transient, 0, 0, "overloaded (UNAVAILABLE)"},
		{"502", response(502, "text/html", []byte("<html>Bad Gateway</html>")), transient, 0, 0, "Bad Gateway"},
		{"504 Retry-After 0", response(504, "", nil, "Retry-After", "0"), throttled, 0, 0, ""},
		{"429 bad Retry-After", response(429, "", nil, "Retry-After", "soon"), transient, 0, 0, ""},
		{"no response", nil, transient, 0, 0, "no HTTP response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(tt.resp, sent, now)
			var pe *sinks.PartialError
			after, isThrottled := sinks.RetryAfter(err)
			got := transient
			switch {
			case err == nil:
				got = ok
			case errors.As(err, &pe):
				got = partial
			case sinks.IsPermanent(err):
				got = permanent
			case isThrottled:
				got = throttled
			}
			if got != tt.class {
				t.Fatalf("class %d, want %d (error %v)", got, tt.class, err)
			}
			if tt.class == partial && (pe.RejectedCount != tt.rejected || pe.Retry || pe.Rejected != nil) {
				t.Errorf("partial error %+v, want %d rejected, no retry", pe, tt.rejected)
			}
			if tt.class == throttled && after != tt.after {
				t.Errorf("retry after %v, want %v", after, tt.after)
			}
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q lacks %q", err, tt.msg)
			}
		})
	}
}

func TestClassifyBoundsWhatItReadsAndKeeps(t *testing.T) {
	long := strings.Repeat("x", 10<<20) // 10 MiB, more than a client may parse
	body := &countingReader{r: strings.NewReader(long)}
	err := classify(&http.Response{StatusCode: 400, Header: http.Header{}, Body: io.NopCloser(body)}, 1, time.Now())
	if body.n > maxResponseBytes {
		t.Errorf("read %d bytes of the answer, want at most %d", body.n, maxResponseBytes)
	}
	if len(err.Error()) > maxMessage+100 || !strings.HasSuffix(err.Error(), "[truncated]") {
		t.Errorf("error of %d bytes: %.80q...", len(err.Error()), err)
	}
}

func TestCleanMakesOneSafeLine(t *testing.T) {
	if got := clean(" a\nb\x00c\xff\r\n "); got != "a b c?" {
		t.Errorf("clean: %q", got)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestDecodeResponses(t *testing.T) {
	n, m, err := decodePartialSuccess(pbPartialSuccess(12, "why"))
	if n != 12 || m != "why" || err != nil {
		t.Errorf("partial success: %d %q %v", n, m, err)
	}
	// Unknown fields, of every wire type, are skipped.
	var b []byte
	b = protowire.AppendTag(b, 9, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 1)
	b = protowire.AppendTag(b, 10, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 1)
	b = protowire.AppendTag(b, 11, protowire.StartGroupType)
	b = protowire.AppendTag(b, 11, protowire.EndGroupType)
	b = append(b, pbPartialSuccess(3, "")...)
	if n, _, err := decodePartialSuccess(b); n != 3 || err != nil {
		t.Errorf("with unknown fields: %d %v", n, err)
	}
	code, msg, err := decodeStatus(pbStatus(14, "busy"))
	if code != 14 || msg != "busy" || err != nil {
		t.Errorf("status: %d %q %v", code, msg, err)
	}
	for _, bad := range [][]byte{{0x0a}, {0x0a, 0x02, 0x08}, {0x08}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}} {
		if _, _, err := decodePartialSuccess(bad); err == nil {
			t.Errorf("decodePartialSuccess(%x) accepted", bad)
		}
		if _, _, err := decodeStatus(bad); err == nil {
			t.Errorf("decodeStatus(%x) accepted", bad)
		}
	}
}
