package query

// What the read-back backends (ScanElasticsearch, ScanSplunk,
// ScanDatadog) share: where a backend is, how a request goes out, and how
// an answer is read within bounds.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Source is where a backend is reached: its base URL and the headers that
// authenticate the requests.
type Source struct {
	URL    string
	Header http.Header
}

// maxAnswerBytes bounds one answer page of a search API (Elasticsearch,
// Datadog: at most 1,000 hits each), read whole before it is decoded.
const maxAnswerBytes = 128 << 20

// answerExcerpt bounds how much of an error answer is quoted.
const answerExcerpt = 512

// backendURL parses the base URL of src, with or without the scheme prefix
// (such as "elasticsearch+"), for the backend name. It must be http or
// https with a host, and have no fragment; its query is returned apart.
func backendURL(src Source, prefix, name string) (*url.URL, url.Values, error) {
	u, err := url.Parse(strings.TrimPrefix(src.URL, prefix))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the address, which may hold a password
		}
		return nil, nil, fmt.Errorf("query: %s address %q: %w", name, redactAddress(src.URL), err)
	}
	if u.User != nil {
		return nil, nil, fmt.Errorf("query: %s address %q: no user info allowed (credentials go in headers)", name, u.Redacted())
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, nil, fmt.Errorf("query: %s address %q: want %shttps://HOST:PORT (or http)", name, src.URL, prefix)
	}
	if u.Fragment != "" {
		return nil, nil, fmt.Errorf("query: %s address %q: no fragment allowed", name, src.URL)
	}
	params, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, nil, fmt.Errorf("query: %s address %q: %w", name, src.URL, err)
	}
	u.RawQuery = ""
	return u, params, nil
}

// redactAddress hides what may be a password in an address that does not
// parse: whatever comes between "//" and an "@".
func redactAddress(s string) string {
	i := strings.Index(s, "//")
	if i < 0 {
		return s
	}
	if j := strings.LastIndexByte(s[i+2:], '@'); j >= 0 {
		return s[:i+2] + "xxxxx" + s[i+2+j:]
	}
	return s
}

// backendParams refuses parameters other than allowed, and repeated ones.
func backendParams(params url.Values, name, from string, allowed ...string) error {
	for k, vs := range params {
		known := false
		for _, a := range allowed {
			known = known || k == a
		}
		if !known {
			return fmt.Errorf("query: %s address %q: unknown parameter %q (want %s)", name, from, k, strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return fmt.Errorf("query: %s address %q: parameter %q given %d times", name, from, k, len(vs))
		}
	}
	return nil
}

// withPath is u with path appended to its path.
func withPath(u *url.URL, path string) string {
	e := *u
	e.Path = strings.TrimSuffix(u.Path, "/") + path
	e.RawPath = ""
	return e.String()
}

// noRedirects is client (http.DefaultClient when nil) refusing redirects,
// so that credentials in custom headers (DD-API-KEY and the like, which
// net/http forwards) never reach another host: a 3xx answer is returned as
// it is, and reported.
func noRedirects(client *http.Client) *http.Client {
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// backendPost sends body to endpoint with header and the content type.
// The caller closes the answer's body.
func backendPost(ctx context.Context, client *http.Client, endpoint string, header http.Header, contentType string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		req.Header[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return resp, nil
}

// readPage reads a whole answer body of at most limit bytes
// (maxAnswerBytes).
func readPage(ctx context.Context, body io.Reader, limit int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(body, int64(limit)+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("answer larger than %d bytes", limit)
	}
	return b, nil
}

// answerText is the start of an answer body, for an error message.
func answerText(b []byte) string {
	return clip(string(bytes.TrimSpace(b)), answerExcerpt)
}

// clip cuts s to at most n bytes, at a character boundary, marking the
// cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// redirectError reports a 3xx answer, which noRedirects did not follow.
func redirectError(resp *http.Response) error {
	return fmt.Errorf("%s to %q: redirects are not followed (give the final address)", resp.Status, resp.Header.Get("Location"))
}

// errNotJSONObject is the error of decodeObject for JSON that is not an object.
var errNotJSONObject = errors.New("not a JSON object")

// decodeObject decodes one JSON object, numbers as json.Number, refusing
// anything after it.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errNotJSONObject
	}
	return m, nil
}

// encodeRecord is rec's JSON, without HTML escaping or a final newline.
func encodeRecord(rec map[string]any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rec); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
