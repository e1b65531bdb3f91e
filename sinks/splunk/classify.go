package splunk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/audittrail/audittrail/sinks"
)

// answer is what HEC says in a response body: {"text":"Success","code":0}
// on success, with "ackId" when the request carried a channel and the
// token uses indexer acknowledgement; {"text":"Invalid data
// format","code":6,"invalid-event-number":3} and the like on failure.
type answer struct {
	Text  string  `json:"text"`
	Code  *int    `json:"code"`
	AckID *uint64 `json:"ackId"`
	// InvalidEvent is the 0-based position, in the request, of the event
	// that HEC could not take (codes 6 and 15).
	InvalidEvent *int `json:"invalid-event-number"`
}

// parseAnswer reads an answer. A body that is not a JSON object (the
// collector's plain-text 401, a proxy's HTML page) gives the zero answer.
func parseAnswer(body []byte) answer {
	var a answer
	if json.Unmarshal(body, &a) != nil {
		return answer{}
	}
	return a
}

// scope says what a refusal is about, which decides what Write does next.
type scope int

const (
	// scopeServer: HEC cannot take data now (busy, unhealthy, failing); a
	// later attempt may succeed. Transient.
	scopeServer scope = iota
	// scopeConfig: the sink's configuration is wrong for this HEC (token,
	// index, channel, URL); every request would fail alike. Permanent for
	// the whole batch.
	scopeConfig
	// scopeData: this request's events were refused; the other requests
	// of the batch may still pass. Permanent for these records.
	scopeData
)

// busyDelay is how long a busy HEC (code 9, or 18-20) is left alone when it
// sends no Retry-After: Splunk's queues drain in seconds, so retrying
// within the same flush budget only adds load.
const busyDelay = time.Second

// hecCode is what Splunk documents about one HEC status code
// (protocols.md D.1: Splunk's troubleshooting page, its cloudfwd client,
// the SplunkAdmins lookup of reply codes), and what it means here.
type hecCode struct {
	status int    // the HTTP status HEC sends it with
	text   string // HEC's text
	scope  scope
	hint   string // what to change, for a configuration problem
}

// Hints name the variable to fix.
const (
	hintToken = "check AUDITTRAIL_SPLUNK_TOKEN"
	hintIndex = "check AUDITTRAIL_SPLUNK_INDEX against the indexes the token may write to"
	hintAckOn = "the token uses indexer acknowledgement: set AUDITTRAIL_SPLUNK_ACK=true"
	hintAckNo = "the token has indexer acknowledgement disabled: set AUDITTRAIL_SPLUNK_ACK=false"
	hintSize  = "lower AUDITTRAIL_SPLUNK_MAX_BODY_BYTES to HEC's max_content_length"
	hintURL   = "check AUDITTRAIL_SPLUNK_URL"
)

var hecCodes = map[int]hecCode{
	1:  {403, "Token disabled", scopeConfig, hintToken},
	2:  {401, "Token is required", scopeConfig, hintToken},
	3:  {401, "Invalid authorization", scopeConfig, hintToken},
	4:  {403, "Invalid token", scopeConfig, hintToken},
	5:  {400, "No data", scopeData, ""},
	6:  {400, "Invalid data format", scopeData, ""},
	7:  {400, "Incorrect index", scopeConfig, hintIndex},
	8:  {500, "Internal server error", scopeServer, ""},
	9:  {503, "Server is busy", scopeServer, ""},
	10: {400, "Data channel is missing", scopeConfig, hintAckOn},
	11: {400, "Invalid data channel", scopeConfig, ""},
	12: {400, "Event field is required", scopeData, ""},
	13: {400, "Event field cannot be blank", scopeData, ""},
	14: {400, "ACK is disabled", scopeConfig, hintAckNo},
	15: {400, "Error in handling indexed fields", scopeData, ""},
	16: {400, "Query string authorization is not enabled", scopeConfig, ""},
	// 17 is "HEC is healthy" (200), from the health endpoint.
	18: {503, "HEC is unhealthy, queues are full", scopeServer, ""},
	19: {503, "HEC is unhealthy, ack service unavailable", scopeServer, ""},
	20: {503, "HEC is unhealthy, queues are full, ack service unavailable", scopeServer, ""},
	21: {400, "Invalid token", scopeConfig, hintToken},
	22: {400, "Token disabled", scopeConfig, hintToken},
}

// hecError is an answer of HEC that is not a success.
type hecError struct {
	status int
	code   int    // HEC's code; -1 when the body had none
	text   string // HEC's text, or an excerpt of the body
	scope  scope
	hint   string
	// invalidEvent is HEC's invalid-event-number; -1 when not given.
	invalidEvent int
}

func (e *hecError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "splunk: HTTP %d", e.status)
	if t := http.StatusText(e.status); t != "" {
		b.WriteString(" " + t)
	}
	if e.code >= 0 {
		fmt.Fprintf(&b, ", code %d", e.code)
	}
	if e.text != "" {
		b.WriteString(": " + e.text)
	}
	if e.invalidEvent >= 0 {
		fmt.Fprintf(&b, " (event %d of the request)", e.invalidEvent)
	}
	if e.hint != "" {
		b.WriteString(" (" + e.hint + ")")
	}
	return b.String()
}

// classify turns an HTTP answer of HEC into an error class, and returns
// the answer it read from body:
//
//   - 2xx: nil, whatever the body says;
//   - a documented HEC code (see hecCodes): by the code. Codes 8, 9 and
//     18-20 are transient, 9 and 18-20 [sinks.Throttled] for Retry-After
//     or else busyDelay; token, index, channel and acknowledgement
//     problems are [sinks.Permanent] for the whole batch (scopeConfig);
//     malformed events are permanent for the request's records
//     (scopeData);
//   - otherwise by the HTTP status: 408, 429 and 5xx transient
//     ([sinks.Throttled] with a valid Retry-After), 400 and 413 permanent
//     for the request's records, any other status permanent for the
//     batch. The collector's splunk_hec receiver answers a bad or missing
//     token this way: 401 with a plain-text body.
//
// Every non-nil error wraps a *hecError, whose scope Write reads.
func classify(status int, retryAfter string, body []byte) (answer, error) {
	a := parseAnswer(body)
	if status >= 200 && status <= 299 {
		return a, nil
	}
	e := &hecError{status: status, code: -1, invalidEvent: -1}
	if a.Code != nil {
		e.code = *a.Code
		e.text = clean(a.Text)
	} else {
		e.text = clean(string(body))
	}
	if a.InvalidEvent != nil && *a.InvalidEvent >= 0 {
		e.invalidEvent = *a.InvalidEvent
	}

	known, ok := hecCodes[e.code]
	switch {
	case ok:
		e.scope, e.hint = known.scope, known.hint
		if e.text == "" {
			e.text = known.text
		}
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || (status >= 500 && status <= 599):
		e.scope = scopeServer
	case status == http.StatusBadRequest:
		e.scope = scopeData
	case status == http.StatusRequestEntityTooLarge:
		e.scope, e.hint = scopeData, hintSize
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.scope, e.hint = scopeConfig, hintToken
	case status == http.StatusNotFound:
		e.scope, e.hint = scopeConfig, hintURL
	default:
		e.scope = scopeConfig
	}

	switch e.scope {
	case scopeServer:
		d, hasDelay := sinks.ParseRetryAfter(retryAfter, time.Now())
		busy := e.code == 9 || (e.code >= 18 && e.code <= 20)
		switch {
		case hasDelay:
			return a, sinks.Throttled(e, d)
		case busy:
			return a, sinks.Throttled(e, busyDelay)
		}
		return a, e
	default:
		return a, sinks.Permanent(e)
	}
}

// maxText is how much of HEC's text (or of a body that is not an answer)
// an error keeps.
const maxText = 512

// clean makes a backend's text safe for one log line.
func clean(s string) string { return sinks.CleanText(s, maxText) }

// redact replaces every occurrence of secret in body: the collector's
// splunk_hec receiver echoes a wrong token in its 401 body ("scheme or
// token does not match: Splunk <token>"), and error messages are logged.
func redact(body []byte, secret string) []byte {
	if secret == "" || !bytes.Contains(body, []byte(secret)) {
		return body
	}
	return bytes.ReplaceAll(body, []byte(secret), []byte("[REDACTED]"))
}

// ackAnswer is HEC's answer to an acknowledgement query:
// {"acks":{"0":true,"1":false}}.
type ackAnswer struct {
	Acks map[string]bool `json:"acks"`
}

// parseAcks reads the answer to an acknowledgement query and returns the
// ids acknowledged.
func parseAcks(body []byte) (map[uint64]bool, error) {
	var a ackAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("splunk: acknowledgement answer: %w", err)
	}
	if a.Acks == nil {
		return nil, fmt.Errorf("splunk: acknowledgement answer without acks: %s", clean(string(body)))
	}
	done := make(map[uint64]bool, len(a.Acks))
	for k, v := range a.Acks {
		if id, err := strconv.ParseUint(k, 10, 64); err == nil && v {
			done[id] = true
		}
	}
	return done, nil
}
