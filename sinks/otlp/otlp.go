// Package otlp sends audit records as OpenTelemetry logs over OTLP/HTTP:
// one binary protobuf ExportLogsServiceRequest per batch, POSTed to the
// logs endpoint (an OpenTelemetry Collector's otlp receiver at
// <host>:4318/v1/logs, VictoriaLogs at /insert/opentelemetry/v1/logs, or
// any OTLP backend), gzipped or not, with the configured headers.
//
// # The log records
//
// Each audit record becomes one LogRecord:
//
//   - time_unix_nano is the record's @timestamp; observed_time_unix_nano
//     is when the sink encoded it.
//   - severity comes from event.outcome: success is INFO (9), failure is
//     ERROR (17), unknown is left unspecified (0); log records take their
//     log.level instead (TRACE, DEBUG, INFO, WARN, ERROR, FATAL).
//   - body is the record itself, its JSON as a string, byte for byte: a
//     backend shows it as the message, and the records exported from it
//     can be checked with `audittrail verify` (the hash chain covers
//     every field, so it needs the record exactly as made, which a
//     re-rendered key-value body would not give: numbers lose their type,
//     keys their order). The structured view is in the attributes.
//   - attributes are the record's flat, dotted attributes
//     ("http.request.method", as schema.Flatten names them), all of them;
//     integers are int values, floats double values (by the field's type,
//     so aws.lambda.duration_ms is a double even when it is 12), lists are
//     arrays.
//   - trace_id is the record's X-Ray trace id in W3C form, and flags has
//     the sampled bit when X-Ray sampled it, so logs join their traces.
//   - event_name is "audittrail." + event.action ("audittrail.invocation").
//
// Records share a resource per function: service.name (see
// [Config.ServiceName]; by default the function's name), faas.name, faas.version, cloud.provider,
// cloud.platform, cloud.region, plus [Config.ResourceAttributes]. The
// instrumentation scope is "audittrail" with the extension's version.
//
// # Failure behaviour
//
// As the OTLP specification says: a 2xx answer means the batch was taken;
// if it reports a partial success (some log records rejected), the sink
// returns a *sinks.PartialError with their count and Retry false, since
// they must not be sent again and the receiver does not say which they
// were: the delivery core accounts for them by the batch's seq range in a
// coverage-gap record. 429, 502, 503 and 504 answers and network errors are
// transient: the core retries them (no sooner than a Retry-After) and keeps
// the records on its spool meanwhile. Every other answer (400, 401, 403,
// 404, 413, 500, ...) is permanent: the records go to the dead letters and
// a coverage-gap record says so; the error carries the receiver's
// google.rpc.Status message. A record of the batch that is not an audit
// record (not a JSON object of its shape) is not sent and is reported as
// refused by its index. A Write cut short by its context leaves nothing on
// the wire: its connection is closed before Write returns.
//
// # Why not the OpenTelemetry SDK exporter
//
// go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp (v0.23.0,
// read for this package) can send synchronously with its retries turned
// off, but it does not fit a sink that must classify every answer and be
// done when Write returns: its errors are unexported types or plain
// strings (no status, no Retry-After, no rejected count to act on), it
// takes SDK log records whose resource is fixed per LoggerProvider, it
// leaves a cancelled request's connection to the transport, and it pulls
// in gRPC. Measured on a small program with -ldflags '-s -w': the exporter
// adds 7.3 MB to the binary; the generated collector/logs/v1 types of
// go.opentelemetry.io/proto/otlp add 6.0 MB (they import gRPC and
// grpc-gateway); the logs/v1 types with the protobuf runtime 1.7 MB. So
// this package writes the OTLP messages itself with protowire (8 KB; see
// wire.go), and its tests check every byte against the generated types.
//
// OTLP/gRPC is not offered: google.golang.org/grpc is most of the 6.0 MB
// above, for a transport that OTLP receivers also serve over HTTP.
package otlp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/audittrail/audittrail/buffer"
	"github.com/audittrail/audittrail/sinks"
)

// DefaultEndpoint is where logs go when nothing says otherwise, as in the
// OTLP exporter specification: a collector on this host (in Lambda, a
// collector extension such as the AWS Distro for OpenTelemetry layer).
const DefaultEndpoint = "http://localhost:4318/v1/logs"

// Config configures the sink. Start from [DefaultConfig].
type Config struct {
	// Endpoint is the full URL the requests are POSTed to, used as it is
	// (AUDITTRAIL_OTLP_ENDPOINT, else OTEL_EXPORTER_OTLP_LOGS_ENDPOINT,
	// else [LogsURL] of OTEL_EXPORTER_OTLP_ENDPOINT). https:// is verified
	// against the system's CAs. Default [DefaultEndpoint].
	Endpoint string
	// Compression is the Content-Encoding of requests: buffer.Gzip or
	// buffer.None, the codecs OTLP/HTTP defines (AUDITTRAIL_OTLP_COMPRESSION,
	// else OTEL_EXPORTER_OTLP_COMPRESSION); "" is None. Default gzip.
	Compression buffer.Codec
	// Headers, when set, is the list of headers sent with every request,
	// in the format of OTEL_EXPORTER_OTLP_HEADERS ("api-key=abc,
	// X-Scope-OrgID=tenant1", see [ParseHeaders]; AUDITTRAIL_OTLP_HEADERS,
	// its _SECRET_ARN or _SSM_PARAMETER, else OTEL_EXPORTER_OTLP_HEADERS):
	// typically an API key
	// or an Authorization header, so it is a secret, fetched on the first
	// Write and never printed. A list that does not parse fails every
	// Write, transiently (the records wait on the spool): check a value
	// known at start-up with ParseHeaders.
	Headers *sinks.Secret
	// ServiceName, when set, is the service.name of every resource
	// (AUDITTRAIL_OTLP_SERVICE_NAME, else OTEL_SERVICE_NAME); otherwise
	// service.name of ResourceAttributes, else the function's name
	// (faas.name of the records).
	ServiceName string
	// ResourceAttributes are added to every resource
	// (AUDITTRAIL_OTLP_RESOURCE_ATTRIBUTES, else OTEL_RESOURCE_ATTRIBUTES;
	// see [ParseResourceAttributes]); the records' own faas.* and cloud.*
	// facts win over them.
	ResourceAttributes map[string]string
	// ScopeVersion is the version of the "audittrail" instrumentation
	// scope: the extension's version. Empty leaves it out.
	ScopeVersion string
	// Client sends the requests; nil means a client with Go's defaults.
	// Requests are bounded by Write's context, not by a client timeout.
	Client *http.Client
}

// DefaultConfig returns the defaults: [DefaultEndpoint], gzip.
func DefaultConfig() Config {
	return Config{Endpoint: DefaultEndpoint, Compression: buffer.Gzip}
}

// Environment variables named in errors: those that set each field (each
// falls back to its OpenTelemetry one: see Config).
const (
	envEndpoint    = "AUDITTRAIL_OTLP_ENDPOINT"
	envHeaders     = "AUDITTRAIL_OTLP_HEADERS"
	envCompression = "AUDITTRAIL_OTLP_COMPRESSION"
	envServiceName = "AUDITTRAIL_OTLP_SERVICE_NAME"
	envResource    = "AUDITTRAIL_OTLP_RESOURCE_ATTRIBUTES"
)

// Validate reports every problem of c, joined, each prefixed with the
// environment variable that sets the field. It cannot look into Headers,
// which may not have been fetched yet.
func (c Config) Validate() error {
	var errs []error
	bad := func(env string, err error) { errs = append(errs, fmt.Errorf("%s: %w", env, err)) }
	if _, err := parseEndpoint(c.Endpoint); err != nil {
		bad(envEndpoint, err)
	}
	switch c.Compression {
	case buffer.Gzip, buffer.None, "":
	default:
		bad(envCompression, fmt.Errorf("%q: want gzip or none", string(c.Compression)))
	}
	// Protobuf strings must be UTF-8: a receiver refuses a request that
	// holds anything else, and with it every record.
	if hasControl(c.ServiceName) || !utf8.ValidString(c.ServiceName) {
		bad(envServiceName, errors.New("control character or invalid UTF-8 in the name"))
	}
	for _, key := range slices.Sorted(maps.Keys(c.ResourceAttributes)) {
		v := c.ResourceAttributes[key]
		switch {
		case key == "":
			bad(envResource, errors.New("empty key"))
		case !utf8.ValidString(key):
			bad(envResource, errors.New("a key is not UTF-8"))
		case hasControl(v) || !utf8.ValidString(v):
			bad(envResource, fmt.Errorf("%q: control character or invalid UTF-8 in the value", printable(key)))
		}
	}
	if !utf8.ValidString(c.ScopeVersion) {
		bad("ScopeVersion", errors.New("not UTF-8"))
	}
	return errors.Join(errs...)
}

// Sink sends batches to one OTLP/HTTP logs endpoint.
type Sink struct {
	cfg  Config
	enc  *encoder
	comp *buffer.Compressor
	body []byte // grow-only scratch for the protobuf body
	out  []byte // and for its compressed form
}

// New returns a sink for cfg, or cfg's problems (see [Config.Validate]).
func New(cfg Config) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("otlp: %w", err)
	}
	if cfg.Compression == "" {
		cfg.Compression = buffer.None
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	return &Sink{cfg: cfg, enc: newEncoder(cfg), comp: buffer.NewCompressor()}, nil
}

// Name returns "otlp".
func (s *Sink) Name() string { return "otlp" }

// Write sends the batch as one ExportLogsServiceRequest and classifies the
// answer (see the package documentation).
func (s *Sink) Write(ctx context.Context, batch [][]byte) error {
	if len(batch) == 0 {
		return nil
	}
	body, bad, err := s.enc.encode(ctx, s.body[:0], batch, time.Now())
	if err != nil {
		return fmt.Errorf("otlp: encoding cut short: %w", err)
	}
	s.body = body
	sent := len(batch) - len(bad)
	if sent == 0 {
		return &sinks.PartialError{Rejected: bad, Err: errNotRecords(len(bad))}
	}
	if s.out, err = s.comp.Compress(s.out[:0], s.cfg.Compression, body); err != nil {
		return sinks.Permanent(fmt.Errorf("otlp: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.Endpoint, bytes.NewReader(s.out))
	if err != nil {
		return sinks.Permanent(fmt.Errorf("otlp: %w", err))
	}
	if s.cfg.Headers != nil {
		// Neither error is the records' fault: they wait for a fetch that
		// works, or a fixed configuration.
		list, err := s.cfg.Headers.Get(ctx)
		if err != nil {
			return withRefused(bad, fmt.Errorf("otlp: %s: %w", envHeaders, err))
		}
		h, err := ParseHeaders(list)
		if err != nil {
			return withRefused(bad, fmt.Errorf("otlp: %s: %w", envHeaders, err))
		}
		for name, v := range h {
			req.Header.Set(name, v)
		}
	}
	req.Header.Set("Content-Type", contentProtobuf)
	req.Header.Set("User-Agent", "audittrail")
	if enc := s.cfg.Compression.ContentEncoding(); enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}

	conn := new(sinks.Conn)
	req = req.WithContext(conn.Trace(ctx))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		// A request cut short (by the flush budget, say) must be off the
		// wire when Write returns: Lambda may freeze the process next, and
		// the transport would otherwise close the connection later, from
		// one of its own goroutines.
		conn.Close()
		return withRefused(bad, fmt.Errorf("otlp: %w", err))
	}
	defer resp.Body.Close()
	err = classify(resp, sent, time.Now())
	if _, cerr := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)); cerr != nil { // reuse the connection
		conn.Close()
	}
	return withRefused(bad, err)
}

// errNotRecords says why records were left out of a request.
func errNotRecords(n int) error {
	return fmt.Errorf("otlp: %d record(s) of the batch are not audit records (not a JSON object of the record's shape)", n)
}

// withRefused adds the records the sink left out (bad, indices in the
// batch) to the outcome err of sending the others. Sent in full, the
// batch's outcome is theirs; refused for good (Permanent), all records
// are. After a partial success the refusals are added to it. After a
// transient failure the retry may leave the bad records out: nothing was
// taken, so sending the rest again is harmless.
func withRefused(bad []int, err error) error {
	if len(bad) == 0 || sinks.IsPermanent(err) {
		return err
	}
	var pe *sinks.PartialError
	switch {
	case err == nil:
		return &sinks.PartialError{Rejected: bad, Err: errNotRecords(len(bad))}
	case errors.As(err, &pe):
		return &sinks.PartialError{Rejected: bad, RejectedCount: pe.RejectedCount, Retry: pe.Retry,
			Err: errors.Join(errNotRecords(len(bad)), pe.Err)}
	default:
		return &sinks.PartialError{Rejected: bad, Retry: true, Err: err}
	}
}

// Close releases idle connections. It is safe to call more than once.
func (s *Sink) Close(context.Context) error {
	s.cfg.Client.CloseIdleConnections()
	return nil
}

var _ sinks.Sink = (*Sink)(nil)
