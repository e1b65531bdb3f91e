package query

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// ElasticsearchScheme prefixes a trail path that names an Elasticsearch or
// OpenSearch index or data stream instead of a file:
// "elasticsearch+https://HOST:9200/INDEX" (or http).
const ElasticsearchScheme = "elasticsearch+"

// ElasticsearchDefaultIndex is the data stream searched when the address
// names none: the elasticsearch sink's default
// (AUDITTRAIL_ELASTICSEARCH_DATA_STREAM).
const ElasticsearchDefaultIndex = "logs-audittrail-default"

// esPageSize is the most hits asked for in one request (Elasticsearch
// refuses more than index.max_result_window, 10,000 by default).
const esPageSize = 1000

// esShardFailuresShown bounds the shard failures an error names.
const esShardFailuresShown = 3

// ScanElasticsearch runs the query, compiled by ElasticsearchDSL, against
// an Elasticsearch or OpenSearch index through its _search API, and calls
// fn for every hit in the order of the DSL's sort: newest first, then by
// event.id.
//
// src.URL is "https://HOST:9200/INDEX" (or http), with or without the
// ElasticsearchScheme prefix: the last segment of its path names the index,
// data stream, alias or pattern (logs-audittrail-*) to search, and
// ElasticsearchDefaultIndex is searched when the path is empty. It takes no
// query parameters. src.Header goes with every request and should
// authenticate it: "Authorization: ApiKey <base64 of id:api_key>" (an
// Elasticsearch API key, as Kibana shows it encoded) or
// "Authorization: Basic <base64 of user:password>". (Amazon OpenSearch
// Service's SigV4 signing is not done here.)
//
// Each request is POST {URL}/_search with the DSL as its body, "size" at
// most 1,000 (and no more than q.Limit still wants) and track_total_hits
// off; each following page is asked with search_after set to the sort
// values of the last hit, until a page comes back short or q.Limit hits
// were given. Records indexed while the scan runs may be left out.
//
// raw is the hit's _source exactly as the answer holds it, byte for byte
// (the record as it was indexed: `audittrail verify` recomputes hashes from
// it), and rec is that _source decoded, numbers as json.Number.
//
// An answer other than 200 is an error quoting Elasticsearch's error type
// and reason (or the start of the body when it is not Elasticsearch's
// error JSON). An answer that timed out (timed_out) or that misses shards
// (_shards.failed, each failure named) is an error too, since a partial
// answer would make verify report as lost records that are not; so is a
// hit without _source (disabled in the mapping) or whose _source is not a
// JSON object. Redirects are not followed, so the credentials never reach
// another host. An error of fn stops the scan and is returned as is.
// client nil means http.DefaultClient; ctx cancels the scan.
func ScanElasticsearch(ctx context.Context, src Source, q Query, client *http.Client, fn func(raw []byte, rec map[string]any) error) error {
	return scanElasticsearch(ctx, src, q, client, esPageSize, fn)
}

// scanElasticsearch is ScanElasticsearch with pages of at most pageSize
// hits.
func scanElasticsearch(ctx context.Context, src Source, q Query, client *http.Client, pageSize int, fn func(raw []byte, rec map[string]any) error) error {
	endpoint, err := esEndpoint(src)
	if err != nil {
		return err
	}
	unbounded := q
	unbounded.Limit = 0 // set per page
	dsl, err := ElasticsearchDSL(unbounded)
	if err != nil {
		return err
	}
	var base map[string]json.RawMessage
	if err := json.Unmarshal(dsl, &base); err != nil {
		return fmt.Errorf("query: elasticsearch: %w", err)
	}
	client = noRedirects(client)
	var after json.RawMessage
	n := 0
	for {
		size := pageSize
		if q.Limit > 0 {
			size = min(size, q.Limit-n)
		}
		body, err := esPageBody(base, size, after)
		if err != nil {
			return fmt.Errorf("query: elasticsearch: %w", err)
		}
		hits, err := esFetch(ctx, client, endpoint, src.Header, body)
		if err != nil {
			return fmt.Errorf("query: elasticsearch %s: %w", endpoint, err)
		}
		if len(hits) > size {
			hits = hits[:size] // more than asked for: keep to the limit
		}
		for _, h := range hits {
			if err := fn(h.source, h.rec); err != nil {
				return err
			}
		}
		n += len(hits)
		if len(hits) < size || q.Limit > 0 && n >= q.Limit {
			return nil
		}
		last := hits[len(hits)-1]
		if len(last.sort) == 0 {
			return fmt.Errorf("query: elasticsearch %s: hit %s has no sort values to page on", endpoint, last.name())
		}
		after = last.sort
	}
}

// esEndpoint returns the _search URL of src.
func esEndpoint(src Source) (string, error) {
	u, params, err := backendURL(src, ElasticsearchScheme, "elasticsearch")
	if err != nil {
		return "", err
	}
	if len(params) > 0 {
		return "", fmt.Errorf("query: elasticsearch address %q: no query parameters allowed", src.URL)
	}
	path := strings.TrimSuffix(u.Path, "/")
	if path[strings.LastIndexByte(path, '/')+1:] == "" {
		path += "/" + ElasticsearchDefaultIndex
	}
	u.Path = path
	return withPath(u, "/_search"), nil
}

// esPageBody is the request body of one page: the DSL's query and sort,
// with its size and, after the first page, search_after.
func esPageBody(base map[string]json.RawMessage, size int, after json.RawMessage) ([]byte, error) {
	body := make(map[string]json.RawMessage, len(base)+3)
	for k, v := range base {
		body[k] = v
	}
	body["size"] = json.RawMessage(strconv.Itoa(size))
	body["track_total_hits"] = json.RawMessage("false")
	if len(after) > 0 {
		body["search_after"] = after
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil { // keys sorted
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// esFetch sends one page request and returns its hits.
func esFetch(ctx context.Context, client *http.Client, endpoint string, header http.Header, body []byte) ([]esHit, error) {
	resp, err := backendPost(ctx, client, endpoint, header, "application/json", body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return nil, redirectError(resp)
	}
	answer, err := readPage(ctx, resp.Body, maxAnswerBytes)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, esErrorText(answer))
	}
	return esParsePage(answer)
}

// esHit is one hit of a search answer.
type esHit struct {
	index, id string
	source    []byte // _source, as the answer has it
	rec       map[string]any
	sort      json.RawMessage // the hit's sort values, a JSON array
}

// name identifies the hit in an error message.
func (h esHit) name() string { return "[" + h.index + "][" + h.id + "]" }

// esAnswer is the part of a search answer that is read.
type esAnswer struct {
	TimedOut bool `json:"timed_out"`
	Shards   *struct {
		Total    int              `json:"total"`
		Failed   int              `json:"failed"`
		Failures []esShardFailure `json:"failures"`
	} `json:"_shards"`
	Hits *struct {
		Hits []struct {
			Index  string          `json:"_index"`
			ID     string          `json:"_id"`
			Source json.RawMessage `json:"_source"`
			Sort   json.RawMessage `json:"sort"`
		} `json:"hits"`
	} `json:"hits"`
}

// esShardFailure is one entry of _shards.failures.
type esShardFailure struct {
	Index  string          `json:"index"`
	Shard  *int            `json:"shard"`
	Node   string          `json:"node"`
	Reason json.RawMessage `json:"reason"` // an error cause; a string in old versions
}

// esParsePage reads the hits of a 200 search answer, refusing an answer
// that is partial (timed out, or with failed shards).
func esParsePage(answer []byte) ([]esHit, error) {
	var a esAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		return nil, fmt.Errorf("not a search answer: %w: %s", err, answerText(answer))
	}
	if a.Hits == nil {
		return nil, fmt.Errorf("not a search answer (no hits): %s", answerText(answer))
	}
	if a.TimedOut {
		return nil, errors.New("the search timed out: its answer is partial")
	}
	if s := a.Shards; s != nil && (s.Failed > 0 || len(s.Failures) > 0) {
		return nil, fmt.Errorf("%d of %d shards failed, the answer is partial: %s", max(s.Failed, len(s.Failures)), s.Total, esShardFailures(s.Failures))
	}
	hits := make([]esHit, 0, len(a.Hits.Hits))
	for _, h := range a.Hits.Hits {
		hit := esHit{index: h.Index, id: h.ID, source: h.Source}
		if len(h.Source) == 0 || string(h.Source) == "null" {
			return nil, fmt.Errorf("hit %s has no _source (is _source disabled in the mapping?)", hit.name())
		}
		rec, err := decodeObject(h.Source)
		if err != nil {
			return nil, fmt.Errorf("hit %s: _source: %w", hit.name(), err)
		}
		hit.rec = rec
		if len(h.Sort) > 0 && string(h.Sort) != "null" {
			if h.Sort[0] != '[' {
				return nil, fmt.Errorf("hit %s: sort is not an array: %s", hit.name(), answerText(h.Sort))
			}
			hit.sort = h.Sort
		}
		hits = append(hits, hit)
	}
	return hits, nil
}

// esShardFailures names the first failures.
func esShardFailures(fs []esShardFailure) string {
	if len(fs) == 0 {
		return "no failure given"
	}
	var parts []string
	for i, f := range fs {
		if i == esShardFailuresShown {
			parts = append(parts, fmt.Sprintf("and %d more", len(fs)-i))
			break
		}
		shard := "?"
		if f.Shard != nil {
			shard = strconv.Itoa(*f.Shard)
		}
		s := "[" + f.Index + "][" + shard + "]"
		if f.Node != "" {
			s += " on node " + f.Node
		}
		parts = append(parts, s+": "+esCauseText(f.Reason, 0))
	}
	return clip(strings.Join(parts, "; "), 2*answerExcerpt)
}

// esCause is Elasticsearch's ErrorCause.
type esCause struct {
	Type      string            `json:"type"`
	Reason    string            `json:"reason"`
	CausedBy  json.RawMessage   `json:"caused_by"`
	RootCause []json.RawMessage `json:"root_cause"`
}

// esCauseText renders an error cause as "type: reason (caused by ...)",
// following caused_by a few levels, and naming the first root cause when
// it is another error (all shards failed: why); a string is given as it
// is.
func esCauseText(raw json.RawMessage, depth int) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var c esCause
	if json.Unmarshal(raw, &c) != nil || c.Type == "" && c.Reason == "" {
		return answerText(raw)
	}
	text := c.Type
	if c.Reason != "" {
		text += ": " + c.Reason
	}
	if len(c.CausedBy) > 0 && string(c.CausedBy) != "null" && depth < 3 {
		text += " (caused by " + esCauseText(c.CausedBy, depth+1) + ")"
	}
	if len(c.RootCause) > 0 && depth == 0 {
		if root := esCauseText(c.RootCause[0], 3); !strings.HasPrefix(text, root) {
			text += " (root cause: " + root + ")"
		}
	}
	return text
}

// esErrorText is the message of an error answer: its error's type and
// reason when it is Elasticsearch's error JSON, else the start of the body.
func esErrorText(answer []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(answer, &e) != nil || len(e.Error) == 0 || string(e.Error) == "null" {
		return answerText(answer)
	}
	return clip(esCauseText(e.Error, 0), 2*answerExcerpt)
}
