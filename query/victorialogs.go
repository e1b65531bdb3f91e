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
	"slices"
	"strings"
)

// VictoriaLogsScheme prefixes a trail path that names a VictoriaLogs
// server instead of a file: "victorialogs+http://HOST:PORT" (or https).
const VictoriaLogsScheme = "victorialogs+"

// vlErrorExcerpt bounds how much of an error answer is quoted.
const vlErrorExcerpt = 512

// ScanVictoriaLogs runs the query, compiled by LogsQL, against the
// VictoriaLogs server at baseURL ("http://HOST:PORT" or https, with or
// without the VictoriaLogsScheme prefix) through its /select/logsql/query
// API, and calls fn for every hit in the order the server sends them.
// client nil means http.DefaultClient; ctx cancels the request.
//
// VictoriaLogs stores records flattened into dotted field names and returns
// every value as a string: numbers and booleans come back as text. Each hit
// is rebuilt into a nested record ("http.request.method" becomes
// {"http":{"request":{"method":...}}}); the server's _msg, _time and
// _stream fields are kept, and _time is also given as @timestamp when the
// hit has none (VictoriaLogs takes @timestamp as its _time); a plain _msg
// is also given as event.action when the hit has none (the ingestion the
// sinks document, _msg_field=event.action, moves it there). rec is that
// record and raw its JSON (valid only during the call). The filter is
// applied by the server alone: rec is not matched again here. q.Limit is
// enforced by the server's limit pipe and again while reading.
//
// A non-200 answer is an error quoting the start of its body. Lines that
// are not JSON objects are skipped. An error of fn stops the scan and is
// returned as is.
func ScanVictoriaLogs(ctx context.Context, baseURL string, q Query, client *http.Client, fn func(raw []byte, rec map[string]any) error) error {
	endpoint, err := vlEndpoint(baseURL)
	if err != nil {
		return err
	}
	if client == nil {
		client = http.DefaultClient
	}
	form := url.Values{"query": {LogsQL(q)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("query: victorialogs: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("query: victorialogs: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, vlErrorExcerpt))
		return fmt.Errorf("query: victorialogs %s: %s: %s", endpoint, resp.Status, bytes.TrimSpace(body))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxRecordLine)
	n := 0
	for sc.Scan() {
		if q.Limit > 0 && n >= q.Limit {
			return nil
		}
		rec, ok := vlRecord(sc.Bytes())
		if !ok {
			continue
		}
		var raw bytes.Buffer
		enc := json.NewEncoder(&raw)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rec); err != nil {
			return fmt.Errorf("query: victorialogs: encode record: %w", err)
		}
		n++
		if err := fn(bytes.TrimSuffix(raw.Bytes(), []byte("\n")), rec); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("query: victorialogs: read answer: %w", err)
	}
	return nil
}

// vlEndpoint returns the query URL of the server at baseURL.
func vlEndpoint(baseURL string) (string, error) {
	u, err := url.Parse(strings.TrimPrefix(baseURL, VictoriaLogsScheme))
	if err != nil {
		return "", fmt.Errorf("query: victorialogs address %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("query: victorialogs address %q: want %shttp://HOST:PORT or %shttps://HOST:PORT", baseURL, VictoriaLogsScheme, VictoriaLogsScheme)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("query: victorialogs address %q: no query or fragment allowed", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/select/logsql/query"
	u.RawPath = ""
	return u.String(), nil
}

// vlRecord decodes one answer line (a flat JSON object) and rebuilds the
// nested record; ok is false when the line is not a JSON object.
func vlRecord(line []byte) (map[string]any, bool) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var flat map[string]any
	if dec.Decode(&flat) != nil || dec.More() {
		return nil, false
	}
	rec := unflatten(flat)
	// The sinks' documented ingestion (`_msg_field=event.action`) moves
	// event.action into _msg: give it back.
	if msg, ok := flat["_msg"].(string); ok && msg != "" && !strings.HasPrefix(msg, "{") {
		if ev, isObj := rec["event"].(map[string]any); isObj {
			if _, has := ev["action"]; !has {
				ev["action"] = msg
			}
		}
	}
	if _, ok := rec["@timestamp"]; !ok {
		if t, ok := flat["_time"]; ok {
			rec["@timestamp"] = t
		}
	}
	return rec, true
}

// unflatten nests the dotted names of flat. Names are placed in sorted
// order; one that would descend into a value that is not an object (a
// record holding both "a" and "a.b") keeps the rest of its dotted name as
// a key of the deepest object reached, so no value is lost.
func unflatten(flat map[string]any) map[string]any {
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	rec := make(map[string]any, len(flat))
	for _, k := range keys {
		parts := strings.Split(k, ".")
		if slices.Contains(parts, "") {
			rec[k] = flat[k] // "a..b", ".a": not a path
			continue
		}
		m := rec
		for i, p := range parts[:len(parts)-1] {
			child, exists := m[p]
			if !exists {
				next := map[string]any{}
				m[p] = next
				m = next
				continue
			}
			next, isObj := child.(map[string]any)
			if !isObj {
				parts = append(parts[:i], strings.Join(parts[i:], "."))
				break
			}
			m = next
		}
		last := parts[len(parts)-1]
		if _, taken := m[last]; taken {
			last = k // only when a leaf and an object collide
		}
		m[last] = flat[k]
	}
	return rec
}
