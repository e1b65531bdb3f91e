// Package datadog sends audit records to Datadog Log Management through the
// logs intake, API v2: POST https://http-intake.logs.<site>/api/v2/logs
// with the DD-API-KEY header and a gzip-compressed JSON array of log
// entries.
//
// Each record becomes one entry whose message is the record itself, as a
// JSON string, byte for byte. A string is the type the API specifies for
// message, and a JSON string in it is what the Datadog Agent sends for a
// JSON log line, which Datadog parses ("Datadog automatically parses
// JSON-formatted logs", Log Management > Pipelines): every field of the
// record (event.outcome, faas.name, http.response.status_code, user.id...)
// becomes a searchable attribute, while the message keeps the record
// exactly as it was sealed, for `audittrail verify` on an export. Around
// the message the entry carries:
//
//   - ddsource: "audittrail";
//   - service: AUDITTRAIL_DATADOG_SERVICE, else the record's faas.name
//     (the function's name, as Datadog's Lambda integration names the
//     service), else "audittrail";
//   - ddtags: AUDITTRAIL_DATADOG_TAGS, when set. The record's own fields
//     (audit.env_id and the like) stay attributes: Datadog's tags are
//     meant to be few and of low cardinality;
//   - hostname: AUDITTRAIL_DATADOG_HOSTNAME, when set;
//   - status, from the record: "warn" for a coverage_gap record (records
//     were lost), a log record's log.level (TRACE and DEBUG "debug", INFO
//     "info", WARN "warn", ERROR "error", FATAL "critical"; "info" without
//     one), "error" for any other record whose event.outcome is "failure",
//     "info" for the rest;
//   - timestamp: the record's @timestamp in epoch milliseconds, one of the
//     date attributes Datadog reads by default, left out when the record
//     has none.
//
// Every attribute but timestamp is a string, as the Agent sends them
// (VictoriaLogs refuses any other type).
//
// Requests stay within the intake's limits: at most 1,000 entries and
// 5 MB of uncompressed body per request (a batch is split over several
// requests, sent one after the other), and 1 MB per entry: a larger
// record is cut to fit, and its entry carries "audittrail.truncated":
// "true", "audittrail.original_bytes" and, lifted from the record so that
// it can still be found and deduplicated, "event.id", "audit.env_id" and
// "audit.seq". No record is dropped.
//
// # Failure behaviour
//
// A 2xx answer means the request was taken. 408, 429 and 5xx answers and
// network errors are transient: the delivery core retries the batch
// (honouring Retry-After, or waiting 1 s after a 429 without one) and
// keeps its records on its spool meanwhile; when a batch went out in
// several requests and a later one fails so, the whole batch is sent
// again, and Datadog holds the earlier part twice, with the same event.id.
// A 400 refuses the records of that request for good: they go to the dead
// letters and a coverage-gap record names them, while the batch's other
// requests still go. A 413 (which only a proxy with a smaller limit can
// give: the sink keeps to 5 MB) sends the request again in two halves,
// down to single records. A 401 or 403 (a bad API key, or a key of
// another site), a 404, or any other answer refuses the whole batch.
//
// Datadog's docs say it rejects a log entry dated more than 18 hours in
// the past, and takes none more than 2 hours ahead; its 202 only says a
// request was accepted for processing, so such entries would vanish
// unseen. The sink does not send records outside that window (narrowed by
// 10 minutes on each side): it reports them refused, so that the
// coverage gap accounts for them.
//
// Redirects are not followed, so the API key never reaches another host.
package datadog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/audittrail/audittrail/buffer"
	"github.com/audittrail/audittrail/sinks"
)

// The environment variables that configure the sink (read by
// internal/config, not here). When one is unset or empty, the variable
// Datadog's own tools read for the same setting is used instead: see
// [Fallback] and [LookupEnv].
const (
	EnvAPIKey          = "AUDITTRAIL_DATADOG_API_KEY"
	EnvAPIKeySecretARN = "AUDITTRAIL_DATADOG_API_KEY_SECRET_ARN"
	EnvSite            = "AUDITTRAIL_DATADOG_SITE"
	EnvURL             = "AUDITTRAIL_DATADOG_URL"
	EnvService         = "AUDITTRAIL_DATADOG_SERVICE"
	EnvTags            = "AUDITTRAIL_DATADOG_TAGS"
	EnvHostname        = "AUDITTRAIL_DATADOG_HOSTNAME"
	EnvCompression     = "AUDITTRAIL_DATADOG_COMPRESSION"
)

// fallback maps a variable of the sink to the one Datadog's Lambda
// extension and Agent read for the same setting (unified service tagging
// for DD_SERVICE and DD_TAGS).
var fallback = map[string]string{
	EnvAPIKey:          "DD_API_KEY",
	EnvAPIKeySecretARN: "DD_API_KEY_SECRET_ARN",
	EnvSite:            "DD_SITE",
	EnvService:         "DD_SERVICE",
	EnvTags:            "DD_TAGS",
}

// Fallback returns the Datadog variable read when the sink's variable name
// is unset or empty (DD_API_KEY for AUDITTRAIL_DATADOG_API_KEY, and
// DD_API_KEY_SECRET_ARN, DD_SITE, DD_SERVICE, DD_TAGS), or "" when there
// is none.
func Fallback(name string) string { return fallback[name] }

// LookupEnv wraps lookup (os.LookupEnv, or a map in tests) so that a
// variable of the sink that is unset or empty reads as its [Fallback].
// Other names pass through.
func LookupEnv(lookup func(string) (string, bool)) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if v, ok := lookup(name); ok && v != "" {
			return v, true
		}
		if dd := fallback[name]; dd != "" {
			if v, ok := lookup(dd); ok && v != "" {
				return v, true
			}
		}
		return lookup(name)
	}
}

// ParseTags splits a list of tags, as AUDITTRAIL_DATADOG_TAGS or DD_TAGS
// hold them: separated by commas or spaces ("env:prod,team:payments" or
// "env:prod team:payments"), empty ones dropped.
func ParseTags(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// DefaultSite is the site the sink sends to when none is set (US1).
const DefaultSite = "datadoghq.com"

// sites are Datadog's sites ("Send logs": one logs intake per site).
var sites = []string{
	"datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu",
	"ap1.datadoghq.com", "ap2.datadoghq.com", "uk1.datadoghq.com",
	"ddog-gov.com", "us2.ddog-gov.com",
}

// Config configures the sink. The zero value, with an APIKey, sends to
// DefaultSite with gzip.
type Config struct {
	// APIKey is the Datadog API key, sent as DD-API-KEY. Required.
	APIKey *sinks.Secret
	// Site is the Datadog site: datadoghq.com (US1, the default),
	// us3.datadoghq.com, us5.datadoghq.com, datadoghq.eu,
	// ap1.datadoghq.com, ap2.datadoghq.com, uk1.datadoghq.com,
	// ddog-gov.com or us2.ddog-gov.com, in any case; a leading "app."
	// (the address of the web app) is ignored. Ignored when URL is set.
	Site string
	// URL, when set, replaces the site's intake: the full URL requests are
	// posted to, http or https (a proxy, or a test receiver such as
	// VictoriaLogs' http://host:9428/insert/datadog/api/v2/logs).
	URL string
	// Service is every entry's service. Empty means the record's
	// faas.name (the function's name, as Datadog's Lambda integration
	// names the service), or "audittrail" for a record without one.
	Service string
	// Tags are every entry's ddtags, each "key:value" without commas or
	// spaces, e.g. "env:prod".
	Tags []string
	// Hostname, when set, is every entry's hostname.
	Hostname string
	// Compression is the Content-Encoding of requests: buffer.Gzip (the
	// default, as Datadog recommends) or buffer.None. The intake does not
	// document zstd.
	Compression buffer.Codec
	// Client sends the requests; nil means a client with Go's defaults
	// (TLS certificates verified) that does not follow redirects. A
	// client given here should not follow them either: DD-API-KEY would
	// go along to wherever they lead.
	Client *http.Client
}

// DefaultConfig returns the defaults: DefaultSite, gzip. APIKey is still
// to be set.
func DefaultConfig() Config {
	return Config{Site: DefaultSite, Compression: buffer.Gzip}
}

// orDefaults fills the fields whose zero value means a default.
func (c Config) orDefaults() Config {
	if c.Site == "" {
		c.Site = DefaultSite
	}
	if c.Compression == "" {
		c.Compression = buffer.Gzip
	}
	return c
}

// envName names a variable for an error message, with its fallback.
func envName(name string) string {
	if dd := fallback[name]; dd != "" {
		return name + " (or " + dd + ")"
	}
	return name
}

// maxTagLen is the longest tag Datadog keeps whole ("Getting started with
// tags": tags are truncated at 200 characters).
const maxTagLen = 200

// Validate reports every problem of c, joined, each prefixed with the
// environment variable that sets the field.
func (c Config) Validate() error {
	c = c.orDefaults()
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", envName(name), fmt.Sprintf(format, args...)))
	}
	if c.APIKey == nil {
		bad(EnvAPIKey, "required (or %s)", envName(EnvAPIKeySecretARN))
	}
	if c.URL != "" {
		if err := checkURL(c.URL); err != nil {
			bad(EnvURL, "%v", err)
		}
	} else if _, err := siteURL(c.Site); err != nil {
		bad(EnvSite, "%v", err)
	}
	if c.Compression != buffer.Gzip && c.Compression != buffer.None {
		bad(EnvCompression, "%q is not taken by the logs intake (want gzip or none)", c.Compression)
	}
	for _, t := range c.Tags {
		switch {
		case strings.TrimSpace(t) == "":
			bad(EnvTags, "empty tag")
		case strings.ContainsAny(t, ", \t\r\n"):
			bad(EnvTags, "tag %q: no commas or spaces in a tag", t)
		case len(t) > maxTagLen:
			bad(EnvTags, "tag %.20q...: longer than Datadog's %d characters", t, maxTagLen)
		case !strings.Contains(t, ":") || strings.HasPrefix(t, ":"):
			// Datadog takes bare tags, but VictoriaLogs v1.117 crashes on
			// one, and key:value is the form Datadog recommends.
			bad(EnvTags, "tag %q: want key:value", t)
		}
	}
	return errors.Join(errs...)
}

// Endpoint returns the URL the sink posts to: URL when set, else the logs
// intake of Site.
func (c Config) Endpoint() (string, error) {
	c = c.orDefaults()
	if c.URL != "" {
		if err := checkURL(c.URL); err != nil {
			return "", err
		}
		return c.URL, nil
	}
	return siteURL(c.Site)
}

// siteURL returns the logs intake of a site.
func siteURL(site string) (string, error) {
	s := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(site)), ".")
	s = strings.TrimPrefix(s, "app.")
	if !slices.Contains(sites, s) {
		return "", fmt.Errorf("unknown site %q (want one of %s; or set %s to a full URL)", site, strings.Join(sites, ", "), EnvURL)
	}
	return "https://http-intake.logs." + s + "/api/v2/logs", nil
}

// checkURL accepts an absolute http or https URL with a host.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: want an http:// or https:// URL", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("%q: no host", raw)
	}
	return nil
}

// Sink posts batches of records to the Datadog logs intake.
type Sink struct {
	cfg    Config
	url    string
	client *http.Client
	enc    encoder
	comp   *buffer.Compressor
	now    func() time.Time

	ents entries // grow-only scratch: the batch's entries
	body []byte  // and one request's body
	out  []byte  // and its compressed form
}

// New returns a sink for cfg, or the problems [Config.Validate] finds.
func New(cfg Config) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.orDefaults()
	u, err := cfg.Endpoint()
	if err != nil {
		return nil, err
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	return &Sink{
		cfg:    cfg,
		url:    u,
		client: client,
		enc: encoder{
			service: cfg.Service,
			tags:    strings.Join(cfg.Tags, ","),
			host:    cfg.Hostname,
			limits:  intakeLimits,
		},
		comp: buffer.NewCompressor(),
		now:  time.Now,
	}, nil
}

// Name returns "datadog".
func (s *Sink) Name() string { return "datadog" }

// Write sends the batch in as few requests as the intake's limits allow,
// one after the other, and classifies the answers as the package comment
// says: nil when every record was taken; a *[sinks.PartialError] when some
// were refused for good (Retry set when others failed transiently and
// should be sent again); [sinks.Permanent] when all were refused; any
// other error (possibly [sinks.Throttled]) when the batch should be sent
// again.
func (s *Sink) Write(ctx context.Context, batch [][]byte) error {
	if len(batch) == 0 {
		return nil
	}
	key, err := s.cfg.APIKey.Get(ctx)
	if err != nil {
		return fmt.Errorf("datadog: API key: %w", err)
	}
	if !validHeaderValue(key) {
		return sinks.Permanent(fmt.Errorf("datadog: the API key holds characters a header cannot carry (check %s)", envName(EnvAPIKey)))
	}

	s.ents.reset()
	var refused []int // batch indices refused for good
	var reasons []error
	if outside := s.enc.encode(&s.ents, batch, s.now()); len(outside) > 0 {
		refused = append(refused, outside...)
		reasons = append(reasons, fmt.Errorf("datadog: %d record(s) dated outside the window the intake takes (%v in the past to %v ahead), e.g. record %d",
			len(outside), maxPast, maxFuture, outside[0]))
	}
	refuse := func(from, to int) { refused = append(refused, s.ents.idx[from:to]...) }

	pending := s.enc.split(&s.ents)
	for len(pending) > 0 {
		r := pending[0]
		pending = pending[1:]
		err := s.post(ctx, key, r[0], r[1])
		if err == nil {
			continue
		}
		var ie *intakeError
		sc := scopeServer // a network error, a cut request: transient
		switch {
		case errors.As(err, &ie):
			sc = ie.scope
		case sinks.IsPermanent(err): // the request could not be made
			sc = scopeConfig
		}
		switch {
		case sc == scopeSize && r[1]-r[0] > 1:
			mid := r[0] + (r[1]-r[0])/2
			pending = append([][2]int{{r[0], mid}, {mid, r[1]}}, pending...)
		case sc == scopeData || sc == scopeSize:
			refuse(r[0], r[1])
			reasons = append(reasons, err)
		case sc == scopeConfig:
			refuse(r[0], r[1])
			for _, p := range pending {
				refuse(p[0], p[1])
			}
			pending = nil
			reasons = append(reasons, err)
		default: // scopeServer
			if len(refused) == 0 {
				return err
			}
			slices.Sort(refused)
			return &sinks.PartialError{Rejected: refused, Retry: true, Err: errors.Join(append(reasons, err)...)}
		}
	}
	switch {
	case len(refused) == 0:
		return nil
	case len(refused) == len(batch):
		return sinks.Permanent(errors.Join(reasons...))
	}
	slices.Sort(refused)
	return &sinks.PartialError{Rejected: refused, Err: errors.Join(reasons...)}
}

// maxAnswerBytes is how much of an answer's body Write reads.
const maxAnswerBytes = 64 << 10

// post sends entries [from, to) as one request and classifies the answer.
func (s *Sink) post(ctx context.Context, key string, from, to int) error {
	s.body = appendBody(s.body[:0], &s.ents, from, to)
	var err error
	if s.out, err = s.comp.Compress(s.out[:0], s.cfg.Compression, s.body); err != nil {
		return sinks.Permanent(fmt.Errorf("datadog: %w", err))
	}
	conn := new(sinks.Conn)
	req, err := http.NewRequestWithContext(conn.Trace(ctx), http.MethodPost, s.url, bytes.NewReader(s.out))
	if err != nil {
		return sinks.Permanent(fmt.Errorf("datadog: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "audittrail")
	req.Header.Set("DD-API-KEY", key)
	if enc := s.cfg.Compression.ContentEncoding(); enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// A request cut short (by the flush budget, say) must be off the
		// wire when Write returns: Lambda may freeze the process next.
		conn.Close()
		return fmt.Errorf("datadog: %w", err)
	}
	defer resp.Body.Close()
	var answer []byte
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		answer, _ = io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	}
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerBytes)); err != nil {
		conn.Close() // the connection cannot be reused
	}
	return classify(resp.StatusCode, resp.Header.Get("Retry-After"), answer)
}

// validHeaderValue reports whether v can be sent as a header value: no
// control characters but tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// Close releases idle connections. It is safe to call more than once.
func (s *Sink) Close(context.Context) error {
	s.client.CloseIdleConnections()
	return nil
}

var _ sinks.Sink = (*Sink)(nil)
