package query

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// SplunkScheme prefixes a trail path that names a Splunk search head
// (its management port, 8089) instead of a file:
// "splunk+https://HOST:8089" (or http).
const SplunkScheme = "splunk+"

// SplunkDefaultSourcetype is the sourcetype searched when the address
// names none: the splunk sink's default (AUDITTRAIL_SPLUNK_SOURCETYPE).
const SplunkDefaultSourcetype = "audittrail"

// splunkExportPath is the search export endpoint, which streams the
// results of a search as it runs, without a job to poll (Splunk 9.0.1
// and later; Splunk Cloud Platform needs REST API access enabled).
const splunkExportPath = "/services/search/v2/jobs/export"

// splunkErrorRead bounds how much of an error answer is read.
const splunkErrorRead = 64 << 10

// splunkBareValue matches the values the search command takes unquoted.
var splunkBareValue = regexp.MustCompile(`^[A-Za-z0-9_*.:-]+$`)

// ScanSplunk runs the query, compiled by SPL, on a Splunk search head
// through its search export API, and calls fn for every event in the
// order Splunk streams them (newest first, for a search of events).
//
// src.URL is "https://HOST:8089" (or http), the management port, not
// HEC's 8088, with or without the SplunkScheme prefix. Its query may name
// the index (?index=NAME; every index the user may search, index=*, when
// not given: the sink's events go to the token's default index unless
// AUDITTRAIL_SPLUNK_INDEX says otherwise) and the sourcetype
// (?sourcetype=NAME, SplunkDefaultSourcetype when not given), as in
// "splunk+https://splunk.example.com:8089?index=security". src.Header goes
// with the request and should authenticate it:
// "Authorization: Bearer <token>" (a Splunk authentication token, made
// under Settings > Tokens; not the HEC token, which cannot search),
// "Authorization: Basic <base64 of user:password>", or
// "Authorization: Splunk <session key>".
//
// The request is POST {URL}/services/search/v2/jobs/export with the form
// fields output_mode=json and
//
//	search=search index=* sourcetype=audittrail <SPL(q)>
//
// and the answer one JSON object a line: {"preview":false,"result":{...}}
// for an event, {"messages":[...]} for Splunk's messages. q.Limit is
// enforced by SPL's head command and again while reading.
//
// raw is the event's _raw, the record as HEC stored it (the splunk sink
// sends each record as its event), and rec is _raw decoded, numbers as
// json.Number. Preview rows are skipped, and so are events whose _raw is
// not a JSON object (something else of that sourcetype).
//
// An answer other than 200 is an error quoting Splunk's messages (or the
// start of the body). A line that is not JSON, and a FATAL or ERROR
// message, or a WARN that says results may be incomplete, in the stream
// are errors, since a partial answer would make `audittrail verify`
// report as lost records that are not; fn has then seen the events before
// it. Redirects are not followed, so the credentials never reach another
// host. An error of fn stops the scan and is returned as is. client nil
// means http.DefaultClient; ctx cancels the search.
func ScanSplunk(ctx context.Context, src Source, q Query, client *http.Client, fn func(raw []byte, rec map[string]any) error) error {
	u, params, err := backendURL(src, SplunkScheme, "splunk")
	if err != nil {
		return err
	}
	if err := backendParams(params, "splunk", src.URL, "index", "sourcetype"); err != nil {
		return err
	}
	endpoint := withPath(u, splunkExportPath)
	form := url.Values{
		"search":      {splunkSearch(params, q)},
		"output_mode": {"json"},
	}
	resp, err := backendPost(ctx, noRedirects(client), endpoint, src.Header, "application/x-www-form-urlencoded", []byte(form.Encode()))
	if err != nil {
		return fmt.Errorf("query: splunk %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return fmt.Errorf("query: splunk %s: %w", endpoint, redirectError(resp))
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, splunkErrorRead))
		return fmt.Errorf("query: splunk %s: %s: %s", endpoint, resp.Status, splunkErrorText(body))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxRecordLine)
	n, line := 0, 0
	for sc.Scan() {
		line++
		results, err := splunkParseLine(sc.Bytes())
		if err != nil {
			return fmt.Errorf("query: splunk %s: line %d: %w", endpoint, line, err)
		}
		for _, r := range results {
			if q.Limit > 0 && n >= q.Limit {
				return nil
			}
			n++
			if err := fn(r.raw, r.rec); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("query: splunk %s: %w", endpoint, ctx.Err())
		}
		return fmt.Errorf("query: splunk %s: read answer after line %d: %w", endpoint, line, err)
	}
	return nil
}

// splunkSearch is the search string of q over the index and sourcetype
// the address names.
func splunkSearch(params url.Values, q Query) string {
	index, sourcetype := "*", SplunkDefaultSourcetype
	if v := params.Get("index"); v != "" {
		index = v
	}
	if v := params.Get("sourcetype"); v != "" {
		sourcetype = v
	}
	s := "search index=" + splunkSearchValue(index) + " sourcetype=" + splunkSearchValue(sourcetype)
	if spl := SPL(q); spl != "" {
		s += " " + spl
	}
	return s
}

// splunkSearchValue is v bare when the search command reads it so, else
// double-quoted.
func splunkSearchValue(v string) string {
	if splunkBareValue.MatchString(v) {
		return v
	}
	return splunkString(v)
}

// splunkResult is one event of the answer.
type splunkResult struct {
	raw []byte
	rec map[string]any
}

// splunkMessage is one of Splunk's messages.
type splunkMessage struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// splunkLine is one line of the export answer.
type splunkLine struct {
	Preview  bool              `json:"preview"`
	Result   json.RawMessage   `json:"result"`
	Results  []json.RawMessage `json:"results"`
	Messages []splunkMessage   `json:"messages"`
}

// splunkParseLine reads one line of the export answer: the events it
// holds, none for a preview row, an empty line or a line of messages only,
// or an error for a line that is not a JSON object or that carries a
// message saying the search failed or may be incomplete.
func splunkParseLine(line []byte) ([]splunkResult, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil, nil
	}
	var l splunkLine
	if err := json.Unmarshal(line, &l); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w: %s", err, answerText(line))
	}
	for _, m := range l.Messages {
		if splunkMessageFails(m) {
			return nil, fmt.Errorf("splunk says %s: %s", m.Type, clip(m.Text, answerExcerpt))
		}
	}
	if l.Preview {
		return nil, nil
	}
	var out []splunkResult
	for _, raw := range append([]json.RawMessage{l.Result}, l.Results...) {
		if r, ok := splunkEvent(raw); ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// splunkEvent reads one result: ok is false when it has no _raw holding a
// JSON object.
func splunkEvent(result json.RawMessage) (splunkResult, bool) {
	if len(result) == 0 {
		return splunkResult{}, false
	}
	var r struct {
		Raw json.RawMessage `json:"_raw"`
	}
	var raw string
	if json.Unmarshal(result, &r) != nil || json.Unmarshal(r.Raw, &raw) != nil {
		return splunkResult{}, false
	}
	rec, err := decodeObject([]byte(raw))
	if err != nil {
		return splunkResult{}, false
	}
	return splunkResult{raw: []byte(raw), rec: rec}, true
}

// splunkMessageFails reports whether a message of the stream means its
// results are not whole: a FATAL or ERROR one, or a WARN such as "Search
// results might be incomplete: ...".
func splunkMessageFails(m splunkMessage) bool {
	switch strings.ToUpper(m.Type) {
	case "FATAL", "ERROR":
		return true
	case "WARN":
		return strings.Contains(strings.ToLower(m.Text), "incomplete")
	}
	return false
}

// splunkErrorText is the message of an error answer: Splunk's messages
// when it holds them, else the start of the body.
func splunkErrorText(body []byte) string {
	var l splunkLine
	if json.Unmarshal(body, &l) != nil || len(l.Messages) == 0 {
		return answerText(body)
	}
	var parts []string
	for _, m := range l.Messages {
		parts = append(parts, m.Type+": "+m.Text)
	}
	return clip(strings.Join(parts, "; "), 2*answerExcerpt)
}
