package datadog

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/audittrail/audittrail/sinks"
)

// scope says what a refusal is about, which decides what Write does next.
type scope int

const (
	// scopeServer: the intake cannot take data now (408, 429, 5xx, or no
	// answer at all); a later attempt may succeed. Transient.
	scopeServer scope = iota
	// scopeConfig: the sink's configuration is wrong (API key, site, URL);
	// every request would fail alike. Permanent for the whole batch.
	scopeConfig
	// scopeData: this request's entries were refused (400); the other
	// requests of the batch may still pass. Permanent for these records.
	scopeData
	// scopeSize: the request was too large (413). Write sends its entries
	// again in two halves; a single entry refused so is refused for good.
	scopeSize
)

// throttleDelay is how long the intake is left alone after a 429 without
// Retry-After: the docs only say "retried after some time", and retrying
// within the same flush budget only adds load.
const throttleDelay = time.Second

// intakeError is an answer of the intake that is not a success.
type intakeError struct {
	status int
	text   string // the intake's own words, or an excerpt of the body
	scope  scope
	hint   string // what to change, for a configuration problem
}

func (e *intakeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "datadog: HTTP %d", e.status)
	if t := http.StatusText(e.status); t != "" {
		b.WriteString(" " + t)
	}
	if e.text != "" {
		b.WriteString(": " + e.text)
	}
	if e.hint != "" {
		b.WriteString(" (" + e.hint + ")")
	}
	return b.String()
}

// errorsBody is the intake's error answer, e.g.
// {"errors":[{"detail":"Malformed payload","status":"400","title":"Bad Request"}]}
// (HTTPLogErrors in Datadog's API specification).
type errorsBody struct {
	Errors []struct {
		Detail string `json:"detail"`
		Title  string `json:"title"`
	} `json:"errors"`
}

// intakeWords returns what an error body says: the details (or titles) of
// Datadog's errors joined with "; ", or, for any other body (VictoriaLogs'
// plain text, a proxy's page), the body itself, cleaned.
func intakeWords(body []byte) string {
	var eb errorsBody
	if json.Unmarshal(body, &eb) == nil && len(eb.Errors) > 0 {
		var words []string
		for _, e := range eb.Errors {
			if w := cmp.Or(e.Detail, e.Title); w != "" {
				words = append(words, w)
			}
		}
		if len(words) > 0 {
			return clean(strings.Join(words, "; "))
		}
	}
	return clean(string(body))
}

// classify turns an answer of the intake into an error class ("Send logs"
// status codes; protocols.md D.3):
//
//   - 2xx: nil. Datadog answers 202 {}, VictoriaLogs 200 {};
//   - 408, 429 and 5xx: transient, and [sinks.Throttled] when Retry-After
//     is valid; a 429 without it is Throttled for throttleDelay;
//   - 400 (a malformed payload): permanent for the request's records;
//   - 413 (a body above 5 MB, which the sink never sends, so a proxy's
//     smaller limit): split and sent again (scopeSize);
//   - 401 and 403 (a missing or invalid API key, or a key of another
//     site), 404 (a wrong URL) and any other status: permanent for the
//     whole batch.
//
// Every non-nil error wraps an *intakeError, whose scope Write reads.
func classify(status int, retryAfter string, body []byte) error {
	if status >= 200 && status <= 299 {
		return nil
	}
	e := &intakeError{status: status, text: intakeWords(body)}
	switch {
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || (status >= 500 && status <= 599):
		e.scope = scopeServer
	case status == http.StatusBadRequest:
		e.scope = scopeData
	case status == http.StatusRequestEntityTooLarge:
		e.scope = scopeSize
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.scope = scopeConfig
		e.hint = "check " + EnvAPIKey + " (or " + fallback[EnvAPIKey] + "), and that the key belongs to the site of " + EnvSite
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		e.scope, e.hint = scopeConfig, "check "+EnvURL
	case status >= 300 && status <= 399:
		e.scope, e.hint = scopeConfig, "redirects are not followed, lest the API key go along: point "+EnvURL+" at the final address"
	default:
		e.scope = scopeConfig
	}
	if e.scope != scopeServer {
		return sinks.Permanent(e)
	}
	if d, ok := sinks.ParseRetryAfter(retryAfter, time.Now()); ok {
		return sinks.Throttled(e, d)
	}
	if status == http.StatusTooManyRequests {
		return sinks.Throttled(e, throttleDelay)
	}
	return e
}

// maxText is how much of the intake's words an error keeps.
const maxText = 512

// clean makes a backend's text safe for one log line.
func clean(s string) string { return sinks.CleanText(s, maxText) }
