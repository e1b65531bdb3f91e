// Package elasticsearch indexes audit records into an Elasticsearch or
// OpenSearch data stream with the _bulk API: Elastic Cloud or a cluster of
// one's own, Amazon OpenSearch Service (SigV4, service "es"), Amazon
// OpenSearch Serverless (SigV4, service "aoss"), or anything that speaks
// _bulk (VictoriaLogs at /insert/elasticsearch, say).
//
// Each batch is posted to <URL>/_bulk as gzip-compressed NDJSON
// (Content-Type application/x-ndjson), one create action per record:
//
//	{"create":{"_index":"logs-audittrail-default","_id":"<event.id>"}}
//	{"@timestamp":"2026-11-22T10:00:00.063Z","event":{"id":"<event.id>",...},...}
//
// A batch larger than Config.MaxRequestBytes (uncompressed) goes in several
// requests. Data streams take only create actions, and the _id is the
// record's event.id, so a record sent twice (a retry, or a copy left on the
// spool by a reset) is stored once: the second create answers 409
// version_conflict_engine_exception, which counts as delivered. This holds
// within one backing index: a copy arriving after the data stream rolled
// over is stored again, with the same event.id.
//
// OpenSearch Serverless accepts no custom _id in time-series collections, so
// with AWSService "aoss" records are sent without one and the collection
// picks its own. Nothing deduplicates there: each record resent after a
// failure (the whole of a batch that failed in part, since the core resends
// what was not refused) is stored once more, with the same event.id: queries
// drop the copies by it, and `audittrail verify` counts them as duplicates,
// not as errors.
//
// InstallTemplate installs the mappings (template.json, a component
// template) and an index template that makes the data stream.
//
// # Failure behaviour
//
// Every item of a bulk answer is read. Items taken (2xx), or already there
// (409 version_conflict_engine_exception on a create with _id), are
// delivered. Items refused for good (400 mapper_parsing_exception or
// document_parsing_exception, 403 security_exception, 404, any status not
// listed next) are named in a *sinks.PartialError's Rejected: they go to the
// dead letters and a coverage-gap record names them. Items that failed for
// now (408, 429, 5xx, es_rejected_execution_exception,
// circuit_breaking_exception, cluster_block_exception) make the Write fail
// for now (a transient error, or the PartialError with Retry set when some
// were refused): the delivery core keeps the records, waits, and sends them
// again, the documents stored meanwhile answering 409. A whole request
// answered 408, 429 or 5xx, or not answered (a network error, the flush
// budget), fails for now, throttled for as long as a Retry-After asks, and
// the requests of the batch after it are not sent. A whole request refused
// with another status (400, 401, 403, 404, 413) refuses its records for
// good. A 2xx answer that is not a bulk response, or whose items do not
// match the documents sent, fails for now: it does not say what was stored.
// A record that is empty or holds a newline is never sent (it would break
// the NDJSON framing of the whole request) and is refused.
package elasticsearch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/audittrail/audittrail/buffer"
	"github.com/audittrail/audittrail/sinks"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Defaults of [Config].
const (
	// DefaultDataStream follows Elastic's naming scheme for data streams,
	// <type>-<dataset>-<namespace>.
	DefaultDataStream = "logs-audittrail-default"
	// DefaultMaxRequestBytes bounds the uncompressed body of one request
	// (the bound Elasticsearch applies, http.max_content_length, counts
	// the body before compression). 4 MiB: the bulk size Elastic suggests
	// for Serverless projects, well under the 10 MiB that the smallest
	// Amazon OpenSearch Service instances take, and a request that fits a
	// flush budget of tens of milliseconds.
	DefaultMaxRequestBytes = 4 << 20
)

// Bounds of Config.MaxRequestBytes.
const (
	minRequestBytes = 1 << 10
	maxRequestBytes = 100 << 20 // Elasticsearch's default http.max_content_length
)

// AWS signing services of Config.AWSService.
const (
	// ServiceES signs for Amazon OpenSearch Service domains.
	ServiceES = "es"
	// ServiceAOSS signs for Amazon OpenSearch Serverless collections.
	ServiceAOSS = "aoss"
)

// Config configures the sink. The zero value of each field but URL means its
// default; set at most one of APIKey, Username and AWSService.
type Config struct {
	// URL is the cluster's base URL (AUDITTRAIL_ELASTICSEARCH_URL): requests go to
	// its path plus /_bulk, with its query parameters. For example
	// https://my-deployment.es.eu-west-1.aws.elastic.cloud,
	// https://search-trail-x.eu-west-1.es.amazonaws.com,
	// https://abc123.eu-west-1.aoss.amazonaws.com, or
	// http://127.0.0.1:9428/insert/elasticsearch?_time_field=@timestamp
	// for VictoriaLogs. Amazon OpenSearch Service ignores the query
	// parameters of signed POSTs.
	URL string
	// DataStream is the data stream (on OpenSearch Serverless, the index)
	// the records go to (AUDITTRAIL_ELASTICSEARCH_DATA_STREAM); default
	// DefaultDataStream.
	DataStream string
	// Codec compresses request bodies (gzip from the environment): gzip
	// (default) or none.
	Codec buffer.Codec
	// MaxRequestBytes bounds the uncompressed body of one request
	// (the default from the environment), from 1 KiB to 100 MiB; default
	// DefaultMaxRequestBytes. A bigger batch is sent in several requests;
	// a single record bigger than that still goes, alone.
	MaxRequestBytes int
	// APIKey authenticates with "Authorization: ApiKey <APIKey>"
	// (AUDITTRAIL_ELASTICSEARCH_API_KEY): the encoded form that Elasticsearch's
	// create-API-key answer gives, base64 of id:api_key.
	APIKey *sinks.Secret
	// Username and Password authenticate with HTTP basic authentication
	// (AUDITTRAIL_ELASTICSEARCH_USERNAME, AUDITTRAIL_ELASTICSEARCH_PASSWORD).
	Username string
	// Password goes with Username.
	Password *sinks.Secret
	// AWSService signs every request with AWS Signature Version 4 for
	// this service (AUDITTRAIL_ELASTICSEARCH_AWS_SIGV4): ServiceES for Amazon
	// OpenSearch Service, ServiceAOSS for OpenSearch Serverless; "" signs
	// nothing. The credentials are the function's role's, from
	// Credentials.
	AWSService string
	// AWSRegion is the region signed for (AWS_REGION);
	// required with AWSService, the function's AWS_REGION by default.
	AWSRegion string
	// Credentials returns the function's role credentials for signing
	// (internal/secrets.Resolver.Credentials in production); required with
	// AWSService.
	Credentials func(context.Context) (aws.Credentials, error)
	// Client sends the requests; nil means a client with Go's defaults
	// (TLS certificates verified against the system's CAs).
	Client *http.Client
}

// DefaultConfig returns the defaults; URL, and credentials if the cluster
// wants them, are still to be set.
func DefaultConfig() Config {
	return Config{DataStream: DefaultDataStream, Codec: buffer.Gzip, MaxRequestBytes: DefaultMaxRequestBytes}
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.DataStream == "" {
		c.DataStream = d.DataStream
	}
	if c.Codec == "" {
		c.Codec = d.Codec
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = d.MaxRequestBytes
	}
	return c
}

// Validate reports every problem of c, joined, each prefixed with the
// environment variable that sets the field. Zero fields are taken as their
// defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.URL == "" {
		bad("AUDITTRAIL_ELASTICSEARCH_URL: required by the elasticsearch sink")
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("AUDITTRAIL_ELASTICSEARCH_URL: %q is not an http(s) URL", redactURL(c.URL))
	} else if u.User != nil {
		bad("AUDITTRAIL_ELASTICSEARCH_URL: credentials belong in AUDITTRAIL_ELASTICSEARCH_USERNAME and AUDITTRAIL_ELASTICSEARCH_PASSWORD (or AUDITTRAIL_ELASTICSEARCH_API_KEY), not in the URL")
	}
	if err := validName(c.DataStream); err != nil {
		bad("AUDITTRAIL_ELASTICSEARCH_DATA_STREAM: %w", err)
	}
	if c.Codec != buffer.Gzip && c.Codec != buffer.None {
		bad("elasticsearch: compression %q is not gzip or none (Elasticsearch and OpenSearch take no zstd bodies)", string(c.Codec))
	}
	if c.MaxRequestBytes < minRequestBytes || c.MaxRequestBytes > maxRequestBytes {
		bad("elasticsearch: max request size %d is not between %d and %d", c.MaxRequestBytes, minRequestBytes, maxRequestBytes)
	}

	var methods []string
	if c.APIKey != nil {
		methods = append(methods, "AUDITTRAIL_ELASTICSEARCH_API_KEY")
	}
	if c.Username != "" || c.Password != nil {
		methods = append(methods, "AUDITTRAIL_ELASTICSEARCH_USERNAME")
		if c.Username == "" {
			bad("AUDITTRAIL_ELASTICSEARCH_USERNAME: required with AUDITTRAIL_ELASTICSEARCH_PASSWORD")
		}
		if c.Password == nil {
			bad("AUDITTRAIL_ELASTICSEARCH_PASSWORD: required with AUDITTRAIL_ELASTICSEARCH_USERNAME")
		}
	}
	if c.AWSService != "" {
		methods = append(methods, "AUDITTRAIL_ELASTICSEARCH_AWS_SIGV4")
		if c.AWSService != ServiceES && c.AWSService != ServiceAOSS {
			bad("AUDITTRAIL_ELASTICSEARCH_AWS_SIGV4: %q is not es (OpenSearch Service) or aoss (OpenSearch Serverless)", c.AWSService)
		}
		if c.AWSRegion == "" {
			bad("AWS_REGION: required with AUDITTRAIL_ELASTICSEARCH_AWS_SIGV4 (default: AWS_REGION)")
		}
		if c.Credentials == nil {
			bad("elasticsearch: AWS signing needs Credentials")
		}
	}
	if len(methods) > 1 {
		bad("%s: set only one way to authenticate", strings.Join(methods, ", "))
	}
	return errors.Join(errs...)
}

// validName checks an index or data stream name against the rules of
// Elasticsearch and OpenSearch.
func validName(name string) error {
	switch {
	case name == "." || name == "..":
		return fmt.Errorf("%q is not a valid name", name)
	case len(name) > 255:
		return fmt.Errorf("%q is longer than 255 bytes", name)
	case strings.ToLower(name) != name:
		return fmt.Errorf("%q has upper-case letters", name)
	case strings.ContainsAny(name, `\/*?"<>|, #:`):
		return fmt.Errorf(`%q contains one of \ / * ? " < > | , # : or a space`, name)
	case strings.HasPrefix(name, "-") || strings.HasPrefix(name, "_") || strings.HasPrefix(name, "+"):
		return fmt.Errorf("%q starts with -, _ or +", name)
	case strings.HasPrefix(name, ".ds-"):
		return fmt.Errorf("%q starts with .ds-, the prefix of backing indices", name)
	}
	return nil
}

// redactURL hides a password in a URL for messages.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}

// Sink indexes batches into one data stream.
type Sink struct {
	cfg     Config
	base    *url.URL // cfg.URL, parsed
	bulkURL string
	enc     encoder
	comp    *buffer.Compressor
	signer  *v4.Signer
	now     func() time.Time // signing clock

	bulk bulkBody // grow-only scratch for the encoded batch
	out  []byte   // and for the compressed body of one request
}

// New returns a sink for cfg (zero fields take their defaults), or the
// problems [Config.Validate] reports.
func New(cfg Config) (*Sink, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: %w", err) // Validate parsed it already
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	return &Sink{
		cfg:     cfg,
		base:    base,
		bulkURL: base.JoinPath("_bulk").String(),
		enc:     newEncoder(cfg.DataStream, cfg.AWSService != ServiceAOSS),
		comp:    buffer.NewCompressor(),
		signer:  v4.NewSigner(),
		now:     time.Now,
	}, nil
}

// Name returns "elasticsearch".
func (s *Sink) Name() string { return "elasticsearch" }

// Write indexes the batch: one bulk request, or several when the batch is
// bigger than Config.MaxRequestBytes. See the package documentation for
// what its errors mean.
func (s *Sink) Write(ctx context.Context, batch [][]byte) error {
	if len(batch) == 0 {
		return nil
	}
	b := &s.bulk
	s.enc.encode(b, batch)

	refused := slices.Clone(b.bad)
	var (
		causes    []error
		retry     bool
		transient error // of a whole request; the later ones were not sent
	)
	if len(b.bad) > 0 {
		causes = append(causes, fmt.Errorf("%d records empty or not on one line, not sent", len(b.bad)))
	}
	for _, c := range b.chunks(s.cfg.MaxRequestBytes) {
		err := s.send(ctx, b.buf[b.start(c.from):b.ends[c.to-1]], c.to-c.from)
		var pe *sinks.PartialError
		switch {
		case err == nil:
		case errors.As(err, &pe):
			for _, k := range pe.Rejected {
				refused = append(refused, b.idx[c.from+k])
			}
			retry = retry || pe.Retry
			causes = append(causes, pe.Err)
		case sinks.IsPermanent(err):
			refused = append(refused, b.idx[c.from:c.to]...)
			causes = append(causes, err)
		default:
			transient, retry = err, true
		}
		if transient != nil {
			break
		}
	}

	switch {
	case len(refused) == 0 && transient != nil:
		return fmt.Errorf("elasticsearch: %w", transient) // keeps a Throttled mark
	case len(refused) == 0 && retry:
		return fmt.Errorf("elasticsearch: %w", join(causes))
	case len(refused) == 0:
		return nil
	case len(refused) == len(batch):
		return sinks.Permanent(fmt.Errorf("elasticsearch: %w", join(causes)))
	}
	slices.Sort(refused)
	if transient != nil {
		causes = append(causes, transient)
	}
	return &sinks.PartialError{Rejected: refused, Retry: retry, Err: fmt.Errorf("elasticsearch: %w", join(causes))}
}

// joined is several errors on one line (they end up in log lines and in
// coverage-gap records); errors.Is and errors.As see each of them.
type joined []error

func (j joined) Error() string {
	parts := make([]string, len(j))
	for i, err := range j {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "; ")
}

func (j joined) Unwrap() []error { return j }

// join returns the one error of errs, or all of them joined.
func join(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return joined(errs)
}

// send posts one bulk body of n documents and classifies the answer.
func (s *Sink) send(ctx context.Context, body []byte, n int) error {
	out, err := s.comp.Compress(s.out[:0], s.cfg.Codec, body)
	if err != nil {
		return sinks.Permanent(err)
	}
	s.out = out
	resp, conn, err := s.do(ctx, http.MethodPost, s.bulkURL, "application/x-ndjson", out, s.cfg.Codec.ContentEncoding())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	err = classify(resp, n, s.enc.withID)
	drain(resp.Body, conn)
	return err
}

// do sends one request with the sink's authentication. The request's
// connection is closed when the request fails (by ctx, say), so that
// nothing is in flight when Write returns: Lambda may freeze the process
// next. The caller closes the body and calls drain.
func (s *Sink) do(ctx context.Context, method, u, contentType string, body []byte, encoding string) (*http.Response, *sinks.Conn, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, nil, sinks.Permanent(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "audittrail")
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	if err := s.authorize(ctx, req, body); err != nil {
		return nil, nil, err
	}
	conn := new(sinks.Conn)
	req = req.WithContext(conn.Trace(ctx))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return resp, conn, nil
}

// authorize adds the configured credentials to req, whose body is body.
// A secret or credentials that cannot be had are a transient error: the
// records wait.
func (s *Sink) authorize(ctx context.Context, req *http.Request, body []byte) error {
	switch {
	case s.cfg.APIKey != nil:
		key, err := s.cfg.APIKey.Get(ctx)
		if err != nil {
			return fmt.Errorf("API key: %w", err)
		}
		req.Header.Set("Authorization", "ApiKey "+key)
	case s.cfg.Username != "":
		pw, err := s.cfg.Password.Get(ctx)
		if err != nil {
			return fmt.Errorf("password: %w", err)
		}
		req.SetBasicAuth(s.cfg.Username, pw)
	case s.cfg.AWSService != "":
		creds, err := s.cfg.Credentials(ctx)
		if err != nil {
			return fmt.Errorf("credentials: %w", err)
		}
		if err := s.sign(ctx, req, body, creds, s.now()); err != nil {
			return sinks.Permanent(fmt.Errorf("sign: %w", err))
		}
	}
	return nil
}

// sign signs req, whose body is body (the bytes sent, compressed or not),
// with SigV4 for the configured service and region. The payload's hash
// goes in X-Amz-Content-Sha256 too, which OpenSearch Serverless requires
// and OpenSearch Service accepts; the header is signed with the others.
func (s *Sink) sign(ctx context.Context, req *http.Request, body []byte, creds aws.Credentials, at time.Time) error {
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	return s.signer.SignHTTP(ctx, creds, req, hash, s.cfg.AWSService, s.cfg.AWSRegion, at)
}

// drain reads what is left of an answer so that its connection can serve
// the next request, and closes the connection when the answer cannot be
// read to its end.
func drain(body io.Reader, conn *sinks.Conn) {
	if _, err := io.CopyN(io.Discard, body, maxResponseBytes); err != io.EOF {
		conn.Close()
	}
}

// Close releases idle connections.
func (s *Sink) Close(context.Context) error {
	s.cfg.Client.CloseIdleConnections()
	return nil
}

var _ sinks.Sink = (*Sink)(nil)
