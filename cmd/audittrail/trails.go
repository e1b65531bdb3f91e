package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/audittrail/audittrail/query"
)

// scanFunc reads the records of a SIEM that match q.
type scanFunc func(ctx context.Context, src query.Source, q query.Query, client *http.Client, fn func(raw []byte, rec map[string]any) error) error

// backend is a SIEM that --from reads, named by a URL scheme prefix.
type backend struct {
	scheme string
	scan   scanFunc
	// restore is set for SIEMs that do not keep each record's JSON whole
	// (VictoriaLogs keeps values as strings, Datadog parses the JSON into
	// attributes): verify rebuilds the record with query.Restore before
	// checking its hash.
	restore bool
	// auth sets the request headers from the environment.
	auth func(getenv func(string) string, h http.Header)
}

// backends are the SIEMs --from can read.
func backends() []backend {
	return []backend{
		{query.VictoriaLogsScheme, scanVictoriaLogs, true, func(func(string) string, http.Header) {}},
		{query.ElasticsearchScheme, query.ScanElasticsearch, false, func(getenv func(string) string, h http.Header) {
			if key := getenv("AUDITTRAIL_ELASTICSEARCH_API_KEY"); key != "" {
				h.Set("Authorization", "ApiKey "+key)
			} else if user := getenv("AUDITTRAIL_ELASTICSEARCH_USERNAME"); user != "" {
				setBasic(h, user, getenv("AUDITTRAIL_ELASTICSEARCH_PASSWORD"))
			}
		}},
		{query.SplunkScheme, query.ScanSplunk, false, func(getenv func(string) string, h http.Header) {
			if token := getenv("SPLUNK_TOKEN"); token != "" {
				h.Set("Authorization", "Bearer "+token)
			}
		}},
		{query.DatadogScheme, query.ScanDatadog, true, func(getenv func(string) string, h http.Header) {
			h.Set("DD-API-KEY", getenv("DD_API_KEY"))
			app := getenv("DD_APP_KEY")
			if app == "" {
				app = getenv("DD_APPLICATION_KEY")
			}
			h.Set("DD-APPLICATION-KEY", app)
		}},
	}
}

// scanVictoriaLogs adapts query.ScanVictoriaLogs, which needs no headers.
func scanVictoriaLogs(ctx context.Context, src query.Source, q query.Query, client *http.Client, fn func([]byte, map[string]any) error) error {
	if len(src.Header) > 0 {
		client = withHeaders(client, src.Header)
	}
	return query.ScanVictoriaLogs(ctx, src.URL, q, client, fn)
}

// backendOf returns the backend a --from value names, and the source to
// read, its credentials from the environment (a user:password@ in the URL
// is basic authentication); ok is false for a file path.
func backendOf(from string, getenv func(string) string) (b backend, src query.Source, ok bool, err error) {
	for _, b := range backends() {
		rest, found := strings.CutPrefix(from, b.scheme)
		if !found {
			continue
		}
		u, err := url.Parse(rest)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return b, src, true, fmt.Errorf("--from %s: want %shttps://HOST[:PORT] (or http), with a path or parameters where the SIEM takes them", redactURL(from), b.scheme)
		}
		src.Header = http.Header{}
		b.auth(getenv, src.Header)
		if u.User != nil {
			pw, _ := u.User.Password()
			setBasic(src.Header, u.User.Username(), pw)
			u.User = nil
		}
		src.URL = u.String()
		if b.scheme == query.VictoriaLogsScheme {
			src.URL = b.scheme + src.URL
		}
		return b, src, true, nil
	}
	return backend{}, src, false, nil
}

func setBasic(h http.Header, user, password string) {
	r := http.Request{Header: h}
	r.SetBasicAuth(user, password)
}

// redactURL drops a password from a URL for an error message.
func redactURL(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "…@" + s[i+1:]
		}
	}
	return s
}

// withHeaders returns a client that adds h to every request.
func withHeaders(c *http.Client, h http.Header) *http.Client {
	if c == nil {
		c = http.DefaultClient
	}
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cc := *c
	cc.Transport = headerTransport{base, h}
	return &cc
}

type headerTransport struct {
	base http.RoundTripper
	h    http.Header
}

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.h {
		r.Header[k] = v
	}
	return t.base.RoundTrip(r)
}

// verifiable returns the record to check from what a SIEM returned: the
// record itself when the SIEM kept it (raw), or for SIEMs that do not,
// the JSON a record carried whole in its message, else the record rebuilt
// by query.Restore.
func verifiable(b backend, raw []byte, rec map[string]any) []byte {
	if !b.restore {
		return raw
	}
	if msg, ok := rec["_msg"].(string); ok && strings.Contains(msg, `"audit"`) {
		var probe struct {
			Audit *struct{} `json:"audit"`
		}
		if json.Unmarshal([]byte(msg), &probe) == nil && probe.Audit != nil {
			return []byte(msg) // sent as the message (the otlp and datadog sinks)
		}
	}
	if restored, err := query.Restore(rec); err == nil {
		return restored
	}
	return raw
}
