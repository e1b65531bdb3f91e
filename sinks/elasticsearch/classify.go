package elasticsearch

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"

	"github.com/audittrail/audittrail/sinks"
)

// maxResponseBytes bounds how much of a bulk answer is read: about 300
// bytes per item, for thousands of items.
const maxResponseBytes = 32 << 20

// maxReason bounds how much of a backend's error reason goes into an error
// message (and from there into logs and coverage-gap records).
const maxReason = 200

// classify turns the answer to a bulk request of n documents into the
// sink's error classes:
//
//   - nil: every document was taken (including those the backend already
//     held: 409 version_conflict_engine_exception on a create with _id);
//   - a non-2xx answer: as [sinks.HTTPError] says (408, 429 and 5xx
//     transient, Throttled with Retry-After; other statuses Permanent);
//   - a 2xx answer that is not a bulk response (an empty body, say, which is
//     how VictoriaLogs answers a request it stopped reading), or whose items
//     do not match the documents: transient, since it does not say what was
//     taken;
//   - errors:true: a *sinks.PartialError whose Rejected lists the documents
//     refused for good (indices 0..n-1 of the request) and whose Retry asks
//     for another attempt when some failed transiently (408, 429, 5xx,
//     es_rejected_execution_exception, circuit_breaking_exception,
//     cluster_block_exception).
//
// withID says whether the documents were sent with an _id, which is what
// makes a 409 mean "already there".
func classify(resp *http.Response, n int, withID bool) error {
	if err := sinks.HTTPError(resp); err != nil {
		return err
	}
	return parseBulk(io.LimitReader(resp.Body, maxResponseBytes), n, withID)
}

// bulkItem is one entry of a bulk answer's items: the result of the one
// operation it holds.
type bulkItem struct {
	Create *itemResult `json:"create"`
	Index  *itemResult `json:"index"`
	Update *itemResult `json:"update"`
	Delete *itemResult `json:"delete"`
}

// itemResult is what a bulk answer says of one document.
type itemResult struct {
	Status int             `json:"status"`
	Error  json.RawMessage `json:"error"`
}

// result returns the item's status and error, whatever its operation.
func (it bulkItem) result() (itemResult, bool) {
	for _, r := range []*itemResult{it.Create, it.Index, it.Update, it.Delete} {
		if r != nil {
			return *r, true
		}
	}
	return itemResult{}, false
}

// describe returns the error's type and a short form of it for messages;
// the error is an object {type, reason} in every version still in use, a
// plain string in old ones.
func (r itemResult) describe() (typ, text string) {
	var e struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(r.Error, &e); err != nil {
		var s string
		if json.Unmarshal(r.Error, &s) == nil {
			e.Reason = s
		}
	}
	text = fmt.Sprintf("%d", r.Status)
	if e.Type != "" {
		text += " " + e.Type
	}
	if e.Reason != "" {
		text += ": " + short(e.Reason)
	}
	return e.Type, text
}

// short makes s safe and short enough for one log line.
func short(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) > maxReason {
		cut := maxReason
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// utf8Start reports whether b begins a UTF-8 sequence.
func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// itemClass is what to do with one document of a bulk answer.
type itemClass int

const (
	itemTaken  itemClass = iota // stored, now or before
	itemRetry                   // failed for now: send again
	itemRefuse                  // refused for good: dead letters
)

// classifyItem decides from an item's status and error type.
func classifyItem(status int, errType string, withID bool) itemClass {
	switch {
	case status >= 200 && status <= 299:
		// Also a document the failure store took (failure_store: used).
		return itemTaken
	case status == http.StatusConflict && withID && errType == "version_conflict_engine_exception":
		// A create of an _id the data stream holds: an earlier attempt
		// got it there.
		return itemTaken
	case errType == "es_rejected_execution_exception", errType == "circuit_breaking_exception",
		errType == "cluster_block_exception":
		// Queues full, memory short, or the index blocked (a disk past
		// its flood-stage watermark): conditions of the cluster, not of
		// the document.
		return itemRetry
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500, status < 200:
		// status < 200: no status at all, so no verdict.
		return itemRetry
	default:
		return itemRefuse
	}
}

// parseBulk reads a 2xx bulk answer for n documents.
func parseBulk(body io.Reader, n int, withID bool) error {
	dec := json.NewDecoder(body)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("the answer is not a bulk response (not a JSON object): what was stored is unknown")
	}
	var (
		sawErrors, hasErrors bool
		items                []bulkItem
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("unreadable bulk response: %w", err)
		}
		switch tok {
		case "errors":
			if err := dec.Decode(&hasErrors); err != nil {
				return fmt.Errorf("unreadable bulk response: errors: %w", err)
			}
			if !hasErrors {
				return nil // the rest lists successes
			}
			sawErrors = true
		case "items":
			if err := dec.Decode(&items); err != nil {
				return fmt.Errorf("unreadable bulk response: items: %w", err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fmt.Errorf("unreadable bulk response: %w", err)
			}
		}
	}
	if !sawErrors {
		return errors.New("the answer is not a bulk response (no errors field): what was stored is unknown")
	}
	if len(items) != n {
		return fmt.Errorf("the bulk response lists %d items for %d documents: what was stored is unknown", len(items), n)
	}

	var (
		refused                []int
		retries                int
		firstRefuse, firstFail string
	)
	for k, it := range items {
		r, ok := it.result()
		if !ok {
			r = itemResult{} // no operation in the item: no verdict
		}
		typ, text := r.describe()
		switch classifyItem(r.Status, typ, withID) {
		case itemRetry:
			if retries == 0 {
				firstFail = text
			}
			retries++
		case itemRefuse:
			if len(refused) == 0 {
				firstRefuse = text
			}
			refused = append(refused, k)
		}
	}
	if len(refused) == 0 && retries == 0 {
		return nil
	}
	var parts []string
	if len(refused) > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d documents refused (first: %s)", len(refused), n, firstRefuse))
	}
	if retries > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d failed for now (first: %s)", retries, n, firstFail))
	}
	return &sinks.PartialError{Rejected: refused, Retry: retries > 0, Err: errors.New(strings.Join(parts, "; "))}
}
