package otlp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/audittrail/audittrail/sinks"
)

// maxResponseBytes bounds how much of an answer is read: the OTLP
// specification has clients cap the parsing of a response at 4 MiB.
const maxResponseBytes = 4 << 20

// maxMessage bounds the receiver's message kept in an error.
const maxMessage = 1 << 10

// Content types of OTLP/HTTP answers.
const (
	contentProtobuf = "application/x-protobuf"
	contentJSON     = "application/json"
)

// classify turns the receiver's answer to a request carrying sent log
// records into the sink's error classes, as the OTLP/HTTP specification
// says a client must treat them:
//
//   - 2xx: taken. A partial_success with rejected_log_records > 0 is a
//     *sinks.PartialError counting them (at most sent), with Retry false:
//     the specification forbids sending them again, and the receiver does
//     not say which they were. A partial_success with nothing rejected is
//     a warning and counts as success; so does an answer whose body does
//     not parse, since the status says the records were taken.
//   - 429, 502, 503, 504: transient (the only retryable statuses), and
//     sinks.Throttled when a valid Retry-After comes with them.
//   - any other status (other 4xx, 500, 501, ..., and 1xx or 3xx that
//     reached here): sinks.Permanent.
//
// An error names the status and the message of the google.rpc.Status in
// the body (protobuf or JSON), or else an excerpt of the body. classify
// reads at most 4 MiB of the body; the caller drains and closes it.
func classify(resp *http.Response, sent int, now time.Time) error {
	if resp == nil {
		return errors.New("otlp: no HTTP response")
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	ctype := mediaType(resp.Header.Get("Content-Type"))
	code := resp.StatusCode

	if code >= 200 && code <= 299 {
		rejected, message := partialSuccess(ctype, body)
		if rejected <= 0 {
			return nil
		}
		n := sent
		if rejected < int64(sent) {
			n = int(rejected)
		}
		err := fmt.Errorf("otlp: the receiver rejected %d of %d log records", n, sent)
		if message != "" {
			err = fmt.Errorf("%w: %s", err, clean(message))
		}
		return &sinks.PartialError{RejectedCount: n, Retry: false, Err: err}
	}

	msg := fmt.Sprintf("otlp: HTTP %d", code)
	if text := http.StatusText(code); text != "" {
		msg += " " + text
	}
	if detail := statusMessage(ctype, body); detail != "" {
		msg += ": " + detail
	}
	err := errors.New(msg)
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if d, ok := sinks.ParseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
			return sinks.Throttled(err, d)
		}
		return err
	default:
		return sinks.Permanent(err)
	}
}

// mediaType returns the media type of a Content-Type header, lower-cased,
// without parameters ("" when there is none or it does not parse).
func mediaType(v string) string {
	t, _, err := mime.ParseMediaType(v)
	if err != nil {
		return ""
	}
	return t
}

// partialSuccess returns the partial_success of an ExportLogsServiceResponse,
// in the answer's encoding: protobuf as the specification requires for a
// protobuf request, JSON from receivers (or proxies) that answer in it
// anyway. An empty, unknown or malformed body gives zero.
func partialSuccess(ctype string, body []byte) (rejected int64, message string) {
	if len(body) == 0 {
		return 0, ""
	}
	switch ctype {
	case contentJSON:
		var r struct {
			PartialSuccess struct {
				// int64 fields are decimal strings in OTLP/JSON, but
				// numbers are accepted too.
				RejectedLogRecords json.RawMessage `json:"rejectedLogRecords"`
				ErrorMessage       string          `json:"errorMessage"`
			} `json:"partialSuccess"`
		}
		if json.Unmarshal(body, &r) != nil {
			return 0, ""
		}
		n, err := strconv.ParseInt(strings.Trim(string(r.PartialSuccess.RejectedLogRecords), `"`), 10, 64)
		if err != nil {
			n = 0
		}
		return n, r.PartialSuccess.ErrorMessage
	default:
		// Protobuf, the encoding of the request, also when the receiver
		// sets no Content-Type.
		n, m, err := decodePartialSuccess(body)
		if err != nil {
			return 0, ""
		}
		return n, m
	}
}

// statusMessage returns what an error answer says: the message (and code)
// of its google.rpc.Status, or an excerpt of a body that is not one.
func statusMessage(ctype string, body []byte) string {
	if len(body) == 0 {
		return ""
	}
	switch ctype {
	case contentProtobuf:
		if code, m, err := decodeStatus(body); err == nil && (m != "" || code != 0) {
			return statusText(code, m)
		}
	case contentJSON:
		var s struct {
			Code    int32  `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &s) == nil && (s.Message != "" || s.Code != 0) {
			return statusText(s.Code, s.Message)
		}
	}
	return clean(string(body))
}

// statusText renders a google.rpc.Status: its message, followed by the
// gRPC code's name.
func statusText(code int32, message string) string {
	s := clean(message)
	if name := codeName(code); name != "" {
		if s != "" {
			s += " "
		}
		s += "(" + name + ")"
	}
	return s
}

// codeName names a gRPC status code (google.rpc.Code), "" for OK and for
// codes it does not know.
func codeName(code int32) string {
	names := [...]string{"", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
		"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
		"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
		"UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}
	if code < 0 || int(code) >= len(names) {
		return ""
	}
	return names[code]
}

// clean makes a backend's text safe for one log line.
func clean(s string) string { return sinks.CleanText(s, maxMessage) }
