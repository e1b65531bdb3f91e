package sinks

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// How a sink's error is classified, which decides what [WithRetry] does:
//
//   - [Permanent]: the backend refused the data (HTTP 400, 401, 403, 413, ...);
//     retrying the same batch cannot help, so it is not retried.
//   - [Throttled]: the backend asked to be left alone for a while (HTTP 429 or
//     503 with Retry-After); retried, but no sooner than it asked.
//   - any other non-nil error is transient (network errors, timeouts, HTTP
//     408 and 5xx) and is retried with backoff.
//
// The marks wrap the error, so errors.Is and errors.As still see what is
// inside, and they survive further wrapping with %w.

// ErrCircuitOpen is wrapped by the errors that [WithRetry] returns while its
// circuit breaker is open: the backend failed several Writes in a row, so
// each Write makes a single attempt and does not retry.
var ErrCircuitOpen = errors.New("sinks: circuit open")

// permanentError marks an error as not worth retrying.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// throttledError marks an error as retryable after a delay.
type throttledError struct {
	err   error
	after time.Duration
}

func (e *throttledError) Error() string { return e.err.Error() }
func (e *throttledError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying (the backend rejected the data,
// e.g. HTTP 400/401/403/413). Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked by
// [Permanent].
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// Throttled marks err as retryable no sooner than after (e.g. HTTP 429/503
// with Retry-After). A negative after counts as 0. Throttled(nil, d) is nil.
func Throttled(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &throttledError{err: err, after: max(after, 0)}
}

// RetryAfter returns the delay a [Throttled] error asks for, and false when
// neither err nor an error it wraps was marked by Throttled.
func RetryAfter(err error) (time.Duration, bool) {
	var t *throttledError
	if !errors.As(err, &t) {
		return 0, false
	}
	return t.after, true
}

// maxBodyExcerpt is how much of an error response's body [HTTPError] keeps.
const maxBodyExcerpt = 1 << 10

// HTTPError classifies an HTTP response of a sink's backend. It returns nil
// for 2xx without reading the body. For any other status it returns an error
// naming the status and at most 1 KiB of the body (read from resp.Body; the
// caller still closes it), with control characters and invalid UTF-8
// replaced, wrapped as:
//
//   - 408, 429, 500-599: transient, and [Throttled] when the response carries
//     a valid Retry-After header (see [ParseRetryAfter]);
//   - every other status (other 4xx, and 1xx/3xx that reached here):
//     [Permanent].
//
// A nil resp gives a transient error.
func HTTPError(resp *http.Response) error {
	if resp == nil {
		return errors.New("sinks: no HTTP response")
	}
	code := resp.StatusCode
	if code >= 200 && code <= 299 {
		return nil
	}
	msg := fmt.Sprintf("sinks: HTTP %d", code)
	if text := http.StatusText(code); text != "" {
		msg += " " + text
	}
	if excerpt := bodyExcerpt(resp.Body); excerpt != "" {
		msg += ": " + excerpt
	}
	err := errors.New(msg)

	if code != http.StatusRequestTimeout && code != http.StatusTooManyRequests && (code < 500 || code > 599) {
		return Permanent(err)
	}
	if d, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		return Throttled(err, d)
	}
	return err
}

// bodyExcerpt reads at most maxBodyExcerpt bytes of body and makes them safe
// to print on one log line. A read error ends the excerpt where it happened.
func bodyExcerpt(body io.Reader) string {
	if body == nil {
		return ""
	}
	// One byte more than kept, to tell whether the body was cut.
	buf, _ := io.ReadAll(io.LimitReader(body, maxBodyExcerpt+1))
	return CleanText(string(buf), maxBodyExcerpt)
}

// CleanText makes a backend's words safe to print on one log line: at most
// max bytes (then " [truncated]"), invalid UTF-8 and control characters
// replaced, no surrounding space.
func CleanText(s string, max int) string {
	truncated := len(s) > max
	if truncated {
		s = s[:max]
	}
	// Neither replacement makes the text longer.
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if truncated {
		s += " [truncated]"
	}
	return s
}

// ParseRetryAfter parses the value of a Retry-After header: delay-seconds
// ("120") or an HTTP date, which is taken relative to now. It returns false
// when v is neither, or when the date is before now. Delays too long for a
// time.Duration are clamped to the longest one.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs > int64(math.MaxInt64/time.Second) {
			// Only a range error is possible after isDigits.
			return math.MaxInt64, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		return 0, false
	}
	return d, true
}

// isDigits reports whether s is one or more ASCII digits, the grammar of
// delay-seconds (no sign, no fraction).
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// PartialError reports a batch the backend took only in part. Rejected
// lists the indices (in the batch) of records refused for good: they go to
// the dead letters and a coverage-gap record names them. RejectedCount
// counts refused records the backend did not identify (an OTLP partial
// success, say); they are accounted for by the seq range of the whole
// batch. Retry asks for the batch to be sent again (after a backoff) for
// the records that failed transiently: a sink may return it only if
// sending a record twice is harmless at its backend (Elasticsearch's
// create with _id = event.id answers 409 for a record it holds).
type PartialError struct {
	Rejected      []int
	RejectedCount int
	Retry         bool
	// Err describes the failures.
	Err error
}

// Error describes the failures.
func (e *PartialError) Error() string {
	return fmt.Sprintf("sinks: %d records rejected, retry %v: %v", len(e.Rejected)+e.RejectedCount, e.Retry, e.Err)
}

// Unwrap returns the underlying error.
func (e *PartialError) Unwrap() error { return e.Err }
