package query

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// DatadogScheme prefixes a trail path that names a Datadog site's API
// instead of a file: "datadog+https://api.datadoghq.com", or the API host
// of another site (api.datadoghq.eu, api.us3.datadoghq.com, ...).
const DatadogScheme = "datadog+"

// datadogSearchPath is the logs search endpoint (API v2, "Search logs
// (POST)"); it needs the logs_read_data permission.
const datadogSearchPath = "/api/v2/logs/events/search"

// ddPageSize is the most logs the search API gives in one page.
const ddPageSize = 1000

// ddFrom is filter.from when the query has no Since: without one the
// search API searches the last 15 minutes only. What is older than the
// retention of the storage tier is simply not found.
const ddFrom = "1970-01-01T00:00:00.000Z"

// ddSourceQuery restricts a search to the entries of the datadog sink,
// whose ddsource is always "audittrail".
const ddSourceQuery = "source:audittrail"

// ScanDatadog runs the query, compiled by DatadogQuery, through the logs
// search API of a Datadog site, and calls fn for every log in the order
// of the answer: newest first.
//
// src.URL is the site's API address, "https://api.datadoghq.com" (or
// api.datadoghq.eu, api.us3.datadoghq.com, ...), with or without the
// DatadogScheme prefix. Its query may name the indexes to search
// (?indexes=main,audit; every index when not given) and the storage tier
// (?storage_tier=indexes, online-archives or flex; indexes when not
// given). src.Header goes with every request and must authenticate it:
// "DD-API-KEY: <API key>" and "DD-APPLICATION-KEY: <application key>"
// (of a user or service account with the logs_read_data permission).
//
// Each request is POST {URL}/api/v2/logs/events/search with
//
//	{"filter":{"query":"source:audittrail <DatadogQuery(q)>","from":...,"to":...},
//	 "sort":"-timestamp","page":{"limit":1000,"cursor":...}}
//
// from being q.Since (or 1970, since the API's default is the last 15
// minutes) and to q.Until (or "now"); each following page is asked with
// the cursor of meta.page.after, until an answer has none or q.Limit logs
// were given (page.limit is no more than q.Limit still wants).
//
// The datadog sink sends each record as the message of its log, and
// Datadog parses that JSON into the log's attributes. So when the message
// is still a JSON object with an "audit" member, raw is the message
// exactly and rec its decoding; otherwise rec is rebuilt from the log's
// attributes (attributes.attributes of the answer, numbers as
// json.Number, with the log's timestamp as @timestamp when they have
// none), and raw is rec's JSON. Such a rebuilt record holds what Datadog
// kept and made of the record (it writes numbers as doubles, remaps
// reserved attributes): Restore gives it back its schema types. A log with
// neither, not one of the sink's, is skipped.
//
// An answer other than 200 is an error quoting Datadog's errors (or the
// start of the body); a 429 says when the rate limit resets
// (X-RateLimit-Reset). An answer whose status is "timeout", or that
// carries warnings (Datadog says partial results may come with them), is
// an error too, since a partial answer would make `audittrail verify`
// report as lost records that are not. Redirects are not followed, so the
// keys never reach another host. An error of fn stops the scan and is
// returned as is. client nil means http.DefaultClient; ctx cancels the
// scan.
func ScanDatadog(ctx context.Context, src Source, q Query, client *http.Client, fn func(raw []byte, rec map[string]any) error) error {
	return scanDatadog(ctx, src, q, client, ddPageSize, fn)
}

// ddRequest is the body of a search request.
type ddRequest struct {
	Filter ddFilter    `json:"filter"`
	Sort   string      `json:"sort"`
	Page   ddPageAsked `json:"page"`
}

// ddFilter is a search request's filter.
type ddFilter struct {
	Query       string   `json:"query"`
	From        string   `json:"from"`
	To          string   `json:"to"`
	Indexes     []string `json:"indexes,omitempty"`
	StorageTier string   `json:"storage_tier,omitempty"`
}

// ddPageAsked is a search request's page.
type ddPageAsked struct {
	Limit  int    `json:"limit"`
	Cursor string `json:"cursor,omitempty"`
}

// scanDatadog is ScanDatadog with pages of at most pageSize logs.
func scanDatadog(ctx context.Context, src Source, q Query, client *http.Client, pageSize int, fn func(raw []byte, rec map[string]any) error) error {
	u, params, err := backendURL(src, DatadogScheme, "datadog")
	if err != nil {
		return err
	}
	if err := backendParams(params, "datadog", src.URL, "indexes", "storage_tier"); err != nil {
		return err
	}
	endpoint := withPath(u, datadogSearchPath)
	query, from, to := DatadogQuery(q)
	req := ddRequest{Filter: ddFilter{Query: ddSourceQuery, From: from, To: to, StorageTier: params.Get("storage_tier")}, Sort: "-timestamp"}
	if query != "*" {
		req.Filter.Query += " " + query
	}
	if req.Filter.From == "" {
		req.Filter.From = ddFrom
	}
	if req.Filter.To == "" {
		req.Filter.To = "now"
	}
	if v := params.Get("indexes"); v != "" {
		req.Filter.Indexes = strings.Split(v, ",")
	}
	client = noRedirects(client)
	n := 0
	for {
		req.Page.Limit = pageSize
		if q.Limit > 0 {
			req.Page.Limit = min(pageSize, q.Limit-n)
		}
		var body bytes.Buffer
		enc := json.NewEncoder(&body)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(req); err != nil {
			return fmt.Errorf("query: datadog: %w", err)
		}
		page, err := ddFetch(ctx, client, endpoint, src.Header, bytes.TrimSuffix(body.Bytes(), []byte("\n")))
		if err != nil {
			return fmt.Errorf("query: datadog %s: %w", endpoint, err)
		}
		for _, l := range page.logs {
			if l.rec == nil {
				continue // not one of the sink's
			}
			if q.Limit > 0 && n >= q.Limit {
				return nil // more than asked for
			}
			n++
			if err := fn(l.raw, l.rec); err != nil {
				return err
			}
		}
		if page.after == "" || len(page.logs) == 0 || q.Limit > 0 && n >= q.Limit {
			return nil
		}
		if page.after == req.Page.Cursor {
			return fmt.Errorf("query: datadog %s: the answer's cursor (meta.page.after) did not move", endpoint)
		}
		req.Page.Cursor = page.after
	}
}

// ddFetch sends one page request and reads its answer.
func ddFetch(ctx context.Context, client *http.Client, endpoint string, header http.Header, body []byte) (ddPage, error) {
	resp, err := backendPost(ctx, client, endpoint, header, "application/json", body)
	if err != nil {
		return ddPage{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return ddPage{}, redirectError(resp)
	}
	answer, err := readPage(ctx, resp.Body, maxAnswerBytes)
	if err != nil {
		return ddPage{}, err
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return ddPage{}, fmt.Errorf("rate limited (%s): %s; %s", resp.Status, ddRateLimit(resp.Header), ddErrorText(answer))
	case resp.StatusCode != http.StatusOK:
		return ddPage{}, fmt.Errorf("%s: %s", resp.Status, ddErrorText(answer))
	}
	return ddParsePage(answer)
}

// ddRateLimit tells what the rate-limit headers of a 429 say.
func ddRateLimit(h http.Header) string {
	reset := h.Get("X-RateLimit-Reset")
	if reset == "" {
		return "no X-RateLimit-Reset given"
	}
	s := "the limit resets in " + reset + " s (X-RateLimit-Reset)"
	if limit, period := h.Get("X-RateLimit-Limit"), h.Get("X-RateLimit-Period"); limit != "" && period != "" {
		s += ", " + limit + " requests per " + period + " s"
		if name := h.Get("X-RateLimit-Name"); name != "" {
			s += " (" + name + ")"
		}
	}
	return clip(s, answerExcerpt)
}

// ddPage is what one answer gives.
type ddPage struct {
	logs  []ddLog
	after string // meta.page.after: the next page's cursor, "" at the end
}

// ddLog is one log of an answer: rec nil when it holds no record.
type ddLog struct {
	raw []byte
	rec map[string]any
}

// ddAnswer is the part of a search answer that is read.
type ddAnswer struct {
	Data []struct {
		Attributes struct {
			Attributes json.RawMessage `json:"attributes"`
			Message    json.RawMessage `json:"message"`
			Timestamp  json.RawMessage `json:"timestamp"`
		} `json:"attributes"`
	} `json:"data"`
	Meta *struct {
		Page struct {
			After string `json:"after"`
		} `json:"page"`
		Status   string `json:"status"`
		Warnings []struct {
			Code   string `json:"code"`
			Title  string `json:"title"`
			Detail string `json:"detail"`
		} `json:"warnings"`
	} `json:"meta"`
}

// ddParsePage reads a 200 search answer, refusing one that is partial
// (timed out, or with warnings).
func ddParsePage(answer []byte) (ddPage, error) {
	var a ddAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		return ddPage{}, fmt.Errorf("not a log search answer: %w: %s", err, answerText(answer))
	}
	if a.Data == nil && a.Meta == nil {
		return ddPage{}, fmt.Errorf("not a log search answer (no data, no meta): %s", answerText(answer))
	}
	var p ddPage
	if m := a.Meta; m != nil {
		if m.Status == "timeout" {
			return ddPage{}, errors.New(`the search timed out (meta.status "timeout"): its answer is partial`)
		}
		if len(m.Warnings) > 0 {
			var ws []string
			for _, w := range m.Warnings {
				ws = append(ws, strings.Join(nonEmpty(w.Code, w.Title, w.Detail), ": "))
			}
			return ddPage{}, fmt.Errorf("the answer may be partial: Datadog warns %s", clip(strings.Join(ws, "; "), 2*answerExcerpt))
		}
		p.after = m.Page.After
	}
	for _, d := range a.Data {
		var message, timestamp string
		_ = json.Unmarshal(d.Attributes.Message, &message) // not a string: none
		_ = json.Unmarshal(d.Attributes.Timestamp, &timestamp)
		var l ddLog
		l.raw, l.rec = ddRecord(message, d.Attributes.Attributes, timestamp)
		p.logs = append(p.logs, l)
	}
	return p, nil
}

// ddRecord is the record of one log: its message when that is the record
// itself, else the record rebuilt from its attributes; rec is nil when it
// has neither.
func ddRecord(message string, attributes json.RawMessage, timestamp string) (raw []byte, rec map[string]any) {
	if m := strings.TrimSpace(message); strings.HasPrefix(m, "{") {
		if rec, err := decodeObject([]byte(m)); err == nil {
			if _, ok := rec["audit"]; ok {
				return []byte(m), rec
			}
		}
	}
	if len(attributes) == 0 {
		return nil, nil
	}
	rec, err := decodeObject(attributes)
	if err != nil || len(rec) == 0 {
		return nil, nil
	}
	if _, ok := rec[timestampField]; !ok && timestamp != "" {
		rec[timestampField] = timestamp
	}
	raw, err = encodeRecord(rec)
	if err != nil {
		return nil, nil
	}
	return raw, rec
}

// ddErrorText is the message of an error answer: its errors when it is
// Datadog's {"errors":[...]} (strings, or JSON:API error objects), else
// the start of the body.
func ddErrorText(answer []byte) string {
	var e struct {
		Errors []json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(answer, &e) != nil || len(e.Errors) == 0 {
		return answerText(answer)
	}
	var parts []string
	for _, raw := range e.Errors {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			parts = append(parts, s)
			continue
		}
		var o struct {
			Status string `json:"status"`
			Title  string `json:"title"`
			Detail string `json:"detail"`
		}
		if json.Unmarshal(raw, &o) == nil && (o.Title != "" || o.Detail != "") {
			parts = append(parts, strings.Join(nonEmpty(o.Title, o.Detail), ": "))
			continue
		}
		parts = append(parts, answerText(raw))
	}
	return clip(strings.Join(parts, "; "), 2*answerExcerpt)
}

// nonEmpty is the strings of ss that are not empty.
func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
