package sinks

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestErrorMarks(t *testing.T) {
	base := errors.New("backend said no")
	tests := []struct {
		name          string
		err           error
		wantPermanent bool
		wantAfter     time.Duration
		wantThrottled bool
	}{
		{name: "plain error is transient", err: base},
		{name: "nil", err: nil},
		{name: "permanent", err: Permanent(base), wantPermanent: true},
		{name: "permanent wrapped again", err: fmt.Errorf("post: %w", Permanent(base)), wantPermanent: true},
		{name: "throttled", err: Throttled(base, 3*time.Second), wantAfter: 3 * time.Second, wantThrottled: true},
		{name: "throttled wrapped again", err: fmt.Errorf("post: %w", Throttled(base, time.Second)), wantAfter: time.Second, wantThrottled: true},
		{name: "throttled negative counts as zero", err: Throttled(base, -time.Second), wantAfter: 0, wantThrottled: true},
		{name: "joined", err: errors.Join(errors.New("other"), Permanent(base)), wantPermanent: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsPermanent(tc.err); got != tc.wantPermanent {
				t.Errorf("IsPermanent = %v, want %v", got, tc.wantPermanent)
			}
			after, ok := RetryAfter(tc.err)
			if ok != tc.wantThrottled || after != tc.wantAfter {
				t.Errorf("RetryAfter = %v, %v; want %v, %v", after, ok, tc.wantAfter, tc.wantThrottled)
			}
			if tc.err != nil {
				if !errors.Is(tc.err, base) {
					t.Errorf("errors.Is(%v, base) = false; the mark must wrap the error", tc.err)
				}
				if !strings.Contains(tc.err.Error(), base.Error()) {
					t.Errorf("Error() = %q, want it to contain %q", tc.err.Error(), base.Error())
				}
			}
		})
	}
}

func TestMarksOfNil(t *testing.T) {
	if err := Permanent(nil); err != nil {
		t.Errorf("Permanent(nil) = %v, want nil", err)
	}
	if err := Throttled(nil, time.Second); err != nil {
		t.Errorf("Throttled(nil, 1s) = %v, want nil", err)
	}
}

// countingBody is a response body that counts what was read and whether it
// was closed.
type countingBody struct {
	r      io.Reader
	read   int
	closed bool
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += n
	return n, err
}

func (b *countingBody) Close() error {
	b.closed = true
	return nil
}

func response(status int, retryAfter, body string) (*http.Response, *countingBody) {
	b := &countingBody{r: strings.NewReader(body)}
	h := http.Header{}
	if retryAfter != "" {
		h.Set("Retry-After", retryAfter)
	}
	return &http.Response{StatusCode: status, Header: h, Body: b}, b
}

func TestHTTPError(t *testing.T) {
	tests := []struct {
		status        int
		retryAfter    string
		retryAfterIn  time.Duration // Retry-After: the HTTP date this long after now
		body          string
		wantNil       bool
		wantPermanent bool
		wantAfter     time.Duration
		wantThrottled bool
	}{
		{status: 200, body: `{"ok":true}`, wantNil: true},
		{status: 204, wantNil: true},
		{status: 299, wantNil: true},
		{status: 400, body: `{"error":"bad record"}`, wantPermanent: true},
		{status: 401, body: "invalid token", wantPermanent: true},
		{status: 403, body: "forbidden", wantPermanent: true},
		{status: 404, body: "no such index", wantPermanent: true},
		{status: 413, body: "too large", wantPermanent: true},
		{status: 400, retryAfter: "5", body: "a permanent status ignores Retry-After", wantPermanent: true},
		{status: 301, body: "moved", wantPermanent: true},
		{status: 101, wantPermanent: true},
		{status: 408, body: "request timeout"},
		{status: 429, body: "slow down"},
		{status: 429, retryAfter: "7", body: "slow down", wantAfter: 7 * time.Second, wantThrottled: true},
		{status: 429, retryAfter: "soon", body: "an invalid Retry-After is ignored"},
		{status: 500, body: "internal error"},
		{status: 502, body: "bad gateway"},
		{status: 503, retryAfterIn: 2 * time.Minute, body: "maintenance", wantAfter: 2 * time.Minute, wantThrottled: true},
		{status: 503, retryAfterIn: -time.Minute, body: "a past date is ignored"},
		{status: 503},
		{status: 504, body: "gateway timeout"},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("%d retry-after %q %v", tc.status, tc.retryAfter, tc.retryAfterIn)
		t.Run(name, func(t *testing.T) {
			// Inside the bubble time.Now stands still, so an HTTP-date
			// Retry-After gives an exact delay.
			synctest.Test(t, func(t *testing.T) {
				retryAfter := tc.retryAfter
				if tc.retryAfterIn != 0 {
					retryAfter = time.Now().Add(tc.retryAfterIn).UTC().Format(http.TimeFormat)
				}
				resp, body := response(tc.status, retryAfter, tc.body)
				err := HTTPError(resp)
				if body.closed {
					t.Error("HTTPError closed the body; the caller closes it")
				}
				if tc.wantNil {
					if err != nil {
						t.Fatalf("HTTPError = %v, want nil", err)
					}
					if body.read != 0 {
						t.Errorf("read %d bytes of a 2xx body, want 0 (the caller decodes it)", body.read)
					}
					return
				}
				if err == nil {
					t.Fatal("HTTPError = nil, want an error")
				}
				msg := err.Error()
				if want := "HTTP " + strconv.Itoa(tc.status); !strings.Contains(msg, want) {
					t.Errorf("error %q does not name the status (%q)", msg, want)
				}
				if !strings.Contains(msg, tc.body) {
					t.Errorf("error %q does not contain the body %q", msg, tc.body)
				}
				if got := IsPermanent(err); got != tc.wantPermanent {
					t.Errorf("IsPermanent = %v, want %v", got, tc.wantPermanent)
				}
				after, ok := RetryAfter(err)
				if ok != tc.wantThrottled || after != tc.wantAfter {
					t.Errorf("RetryAfter = %v, %v; want %v, %v", after, ok, tc.wantAfter, tc.wantThrottled)
				}
			})
		})
	}
}

func TestHTTPErrorBody(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		want     string // the error's whole text
		wantRead int    // at most this many bytes read
	}{
		{
			name:     "empty",
			body:     "",
			want:     "sinks: HTTP 500 Internal Server Error",
			wantRead: 0,
		},
		{
			name:     "control characters and invalid UTF-8 replaced",
			body:     "bad\n\x00\xffend\r\n",
			want:     "sinks: HTTP 500 Internal Server Error: bad  ?end",
			wantRead: 11,
		},
		{
			name:     "exactly 1 KiB kept whole",
			body:     strings.Repeat("x", 1024),
			want:     "sinks: HTTP 500 Internal Server Error: " + strings.Repeat("x", 1024),
			wantRead: 1024,
		},
		{
			name:     "longer body cut at 1 KiB",
			body:     strings.Repeat("y", 10<<10),
			want:     "sinks: HTTP 500 Internal Server Error: " + strings.Repeat("y", 1024) + " [truncated]",
			wantRead: 1025,
		},
		{
			name:     "multi-byte rune cut at the limit",
			body:     strings.Repeat("a", 1023) + "é and more",
			want:     "sinks: HTTP 500 Internal Server Error: " + strings.Repeat("a", 1023) + "? [truncated]",
			wantRead: 1025,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := response(500, "", tc.body)
			err := HTTPError(resp)
			if err == nil {
				t.Fatal("HTTPError = nil, want an error")
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error text:\n got %q\nwant %q", got, tc.want)
			}
			if body.read > tc.wantRead {
				t.Errorf("read %d bytes of the body, want at most %d", body.read, tc.wantRead)
			}
		})
	}
}

func TestHTTPErrorWithoutBodyOrResponse(t *testing.T) {
	err := HTTPError(&http.Response{StatusCode: 502})
	if err == nil || err.Error() != "sinks: HTTP 502 Bad Gateway" {
		t.Errorf("HTTPError(no body, no header) = %v", err)
	}
	err = HTTPError(nil)
	if err == nil || IsPermanent(err) {
		t.Errorf("HTTPError(nil) = %v, want a transient error", err)
	}
	err = HTTPError(&http.Response{StatusCode: 799})
	if err == nil || !IsPermanent(err) || err.Error() != "sinks: HTTP 799" {
		t.Errorf("HTTPError(799) = %v, want a permanent error naming the status", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	in := func(d time.Duration, layout string) string { return now.Add(d).Format(layout) }
	tests := []struct {
		v      string
		want   time.Duration
		wantOK bool
	}{
		{v: "0", want: 0, wantOK: true},
		{v: "120", want: 120 * time.Second, wantOK: true},
		{v: " 30 ", want: 30 * time.Second, wantOK: true},
		{v: "007", want: 7 * time.Second, wantOK: true},
		{v: "9223372036", want: 9223372036 * time.Second, wantOK: true},
		{v: "9223372037", want: math.MaxInt64, wantOK: true},
		{v: "99999999999999999999999999", want: math.MaxInt64, wantOK: true},
		{v: in(90*time.Second, http.TimeFormat), want: 90 * time.Second, wantOK: true},
		{v: in(90*time.Second, time.RFC850), want: 90 * time.Second, wantOK: true},
		{v: in(90*time.Second, time.ANSIC), want: 90 * time.Second, wantOK: true},
		{v: in(0, http.TimeFormat), want: 0, wantOK: true},
		{v: in(-time.Second, http.TimeFormat)}, // in the past
		{v: "-1"},
		{v: "+1"},
		{v: "1.5"},
		{v: "1e3"},
		{v: "120s"},
		{v: "1 2"},
		{v: ""},
		{v: "   "},
		{v: "soon"},
		{v: "Sun, 32 Nov 2026 10:00:00 GMT"},
		{v: "2026-11-22T10:01:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.v, func(t *testing.T) {
			got, ok := ParseRetryAfter(tc.v, now)
			if ok != tc.wantOK || got != tc.want {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.v, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, seed := range []string{
		"0", "120", " 30 ", "-1", "1.5", "", "99999999999999999999",
		now.Add(time.Minute).Format(http.TimeFormat),
		now.Add(-time.Minute).Format(http.TimeFormat),
		now.Add(time.Hour).Format(time.RFC850),
		now.Add(time.Hour).Format(time.ANSIC),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := ParseRetryAfter(v, now)
		if !ok {
			if d != 0 {
				t.Errorf("ParseRetryAfter(%q) = %v, false; want 0 with false", v, d)
			}
			if isDigits(strings.TrimSpace(v)) {
				t.Errorf("ParseRetryAfter(%q) refused delay-seconds", v)
			}
			return
		}
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, want >= 0", v, d)
		}
		// A delay of whole seconds (not clamped) must read back the same
		// written as delay-seconds. (Dates may carry a fraction.)
		if d%time.Second != 0 || d == math.MaxInt64 {
			return
		}
		secs := strconv.FormatInt(int64(d/time.Second), 10)
		if again, ok := ParseRetryAfter(secs, now); !ok || again != d {
			t.Errorf("ParseRetryAfter(%q) = %v but ParseRetryAfter(%q) = %v, %v", v, d, secs, again, ok)
		}
	})
}
