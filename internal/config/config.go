// Package config reads the extension's configuration from the environment,
// in one place, and validates it.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/audittrail/audittrail/internal/secrets"
	"github.com/audittrail/audittrail/schema"
)

// Var documents one environment variable the extension reads.
type Var struct {
	Name    string
	Default string
	Doc     string
}

// Variables lists every AUDITTRAIL_* variable, with its default and meaning.
// The README's table is checked against it.
func Variables() []Var {
	return slices.Concat(coreVariables(), detectVariables(), sinkVariables())
}

// coreVariables lists the variables of the extension itself.
func coreVariables() []Var {
	return []Var{
		{"AUDITTRAIL_SINKS", "stdout", "Comma-separated sinks to deliver to: `splunk`, `elasticsearch`, `datadog`, `otlp`, `s3`, `http` (NDJSON posted to a URL), `file` (the local file store), `stdout` (one JSON line per record, to CloudWatch Logs). Each has its variables below."},
		{"AUDITTRAIL_FILE_DIR", "$TMPDIR/audittrail/trail", "Directory of the file store (`file` sink): zstd-compressed NDJSON segments."},
		{"AUDITTRAIL_TELEMETRY_TYPES", "platform", "Telemetry API streams to subscribe to: `platform`, `function`, `extension`. Adding `function` or `extension` writes their log lines as `log` records (the extension's own lines are always left out)."},
		{"AUDITTRAIL_QUEUE_BYTES", "4194304", "Bound of each sink's in-memory queue, in bytes; records beyond it are spilled to the spool (without a spool: dropped and counted in a coverage-gap record)."},
		{"AUDITTRAIL_SPOOL_DIR", "$TMPDIR/audittrail/spool", "Directory of the spool: records a sink has not taken yet wait there, across freezes and across the reset after a timeout or crash."},
		{"AUDITTRAIL_SPOOL_BYTES", "67108864", "Bound of the spool, in bytes, shared by the sinks (a quarter more for dead letters); when full, the oldest records are dropped and counted in a coverage-gap record. `0` turns the spool off."},
		{"AUDITTRAIL_FLUSH", "adaptive", "When records are delivered: `end` (after every invoke, within the budget), `periodic:<duration>` (after an invoke, when that long has passed since the last delivery), `continuous:<duration>` (in the background while invocations run, at most that often; never across a freeze), `adaptive` (`end` for the first invokes and for functions idle between invokes, `continuous:1s` for busy ones)."},
		{"AUDITTRAIL_FLUSH_BUDGET", "50ms", "After the function's response, the most time the extension spends delivering before it asks for the next event (a Go duration, 0 to 1s); what is left waits for the next invoke."},
		{"AUDITTRAIL_PROXY", "on", "`on` starts the Runtime API proxy that captures each request and response (used when the function runs through `/opt/audittrail-wrapper`); `off` records from telemetry only."},
		{"AUDITTRAIL_RUNTIME_API_UPSTREAM", "", "Where the proxy forwards the runtime's calls (host:port), to chain behind another vendor's Runtime API proxy; default: Lambda's Runtime API."},
		{"AUDITTRAIL_CAPTURE_BYTES", "1048576", "How much of each event and response the proxy inspects, in bytes; the rest passes through unread."},
		{"AUDITTRAIL_REDACT_QUERY", "", "Comma-separated query parameter names (parts of names, any case) whose values are redacted, besides the default ones (token, password, secret, key, signature, code, auth, session, ...)."},
		{"AUDITTRAIL_ALLOW_QUERY", "", "Comma-separated query parameter names kept in clear although they look secret."},
		{"AUDITTRAIL_RECORD_HEADERS", "", "Comma-separated request headers to record besides `x-forwarded-for`; headers that may carry secrets (Authorization, Cookie, API keys, tokens) are refused."},
		{"AUDITTRAIL_PSEUDONYMIZE_KEY", "", "A secret key: when set, `user.id`, `user.name` and client addresses are replaced by keyed HMAC-SHA256 pseudonyms, so records stay joinable without raw identities."},
		{"AUDITTRAIL_PSEUDONYMIZE_KEY_SECRET_ARN", "", "The pseudonym key from AWS Secrets Manager instead (the secret's ARN), fetched once at start-up with the function's role; if it cannot be fetched, identities are redacted rather than recorded in clear."},
		{"AUDITTRAIL_CHAIN_KEY", "", "A secret key: when set, `audit.hash` is an HMAC-SHA256 under this key instead of a plain SHA-256, so that nobody without the key can forge a consistent chain; `audittrail verify` then needs the key."},
		{"AUDITTRAIL_CHAIN_KEY_SECRET_ARN", "", "The chain key from AWS Secrets Manager instead (the secret's ARN), fetched once at start-up; if it cannot be fetched, the chain falls back to plain SHA-256 and a coverage-gap record says so."},
		{"AUDITTRAIL_LOG_LEVEL", "info", "Level of the extension's own logs (JSON on stderr): `debug`, `info`, `warn`, `error`."},
	}
}

// LambdaVariables lists the variables Lambda sets that the extension reads.
func LambdaVariables() []Var {
	return []Var{
		{"AWS_LAMBDA_RUNTIME_API", "", "Host and port of the Extensions and Telemetry APIs."},
		{"AWS_LAMBDA_FUNCTION_NAME", "", "faas.name."},
		{"AWS_LAMBDA_FUNCTION_VERSION", "", "faas.version."},
		{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "", "faas.max_memory."},
		{"AWS_REGION", "", "cloud.region."},
		{"AWS_LAMBDA_INITIALIZATION_TYPE", "", "`lambda-managed-instances` switches to Managed Instances mode (SHUTDOWN-only registration, concurrent invocations)."},
		{"TMPDIR", "/tmp", "Base of the default file store and spool directories."},
	}
}

// FallbackVariables lists the variables of other tools the extension reads
// when its own are not set, so that their users' settings just work.
func FallbackVariables() []Var {
	return []Var{
		{"DD_API_KEY", "", "The Datadog API key, when no `AUDITTRAIL_DATADOG_API_KEY*` is set."},
		{"DD_SITE", "", "The Datadog site, when `AUDITTRAIL_DATADOG_SITE` is not set."},
		{"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "", "The OTLP logs URL, when `AUDITTRAIL_OTLP_ENDPOINT` is not set."},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "", "The OTLP base URL (`/v1/logs` is added), when neither of the above is set."},
		{"OTEL_EXPORTER_OTLP_HEADERS", "", "OTLP request headers, when no `AUDITTRAIL_OTLP_HEADERS*` is set."},
		{"OTEL_EXPORTER_OTLP_COMPRESSION", "", "OTLP compression, when `AUDITTRAIL_OTLP_COMPRESSION` is not set."},
		{"AWS_ENDPOINT_URL_S3", "", "The AWS SDKs' override of the S3 endpoint (an S3-compatible store), for the `s3` sink."},
	}
}

// Flush modes (AUDITTRAIL_FLUSH).
const (
	FlushAdaptive   = "adaptive"
	FlushEnd        = "end"
	FlushPeriodic   = "periodic"
	FlushContinuous = "continuous"
)

// Flush is when records are delivered.
type Flush struct {
	// Mode is one of the Flush* constants.
	Mode string
	// Interval is the duration of periodic and continuous.
	Interval time.Duration
}

// String returns the flush strategy as AUDITTRAIL_FLUSH spells it.
func (f Flush) String() string {
	if f.Mode == FlushPeriodic || f.Mode == FlushContinuous {
		return f.Mode + ":" + f.Interval.String()
	}
	return f.Mode
}

// ParseFlush parses an AUDITTRAIL_FLUSH value.
func ParseFlush(v string) (Flush, error) {
	mode, arg, hasArg := strings.Cut(strings.ToLower(strings.TrimSpace(v)), ":")
	switch mode {
	case FlushAdaptive, FlushEnd:
		if hasArg {
			return Flush{}, fmt.Errorf("%q takes no duration", mode)
		}
		return Flush{Mode: mode}, nil
	case FlushPeriodic, FlushContinuous:
		d, err := time.ParseDuration(arg)
		if err != nil || d < 10*time.Millisecond || d > time.Hour {
			return Flush{}, fmt.Errorf("%q needs a duration from 10ms to 1h, like %s:1s", v, mode)
		}
		return Flush{Mode: mode, Interval: d}, nil
	}
	return Flush{}, fmt.Errorf("%q is not adaptive, end, periodic:<duration> or continuous:<duration>", v)
}

// Config is the extension's whole configuration.
type Config struct {
	Sinks   []string
	FileDir string
	// The sinks' settings.
	HTTP          HTTP
	Splunk        Splunk
	Elasticsearch Elasticsearch
	Datadog       Datadog
	OTLP          OTLP
	S3            S3
	// CABundle names a PEM file of CAs the sinks trust besides the system's.
	CABundle       string
	TelemetryTypes []string
	// QueueBytes bounds each sink's in-memory queue.
	QueueBytes int
	// SpoolDir and SpoolBytes place and bound the spool (0: no spool).
	SpoolDir   string
	SpoolBytes int64
	// Flush is when records are delivered.
	Flush    Flush
	LogLevel slog.Level
	// FlushBudget bounds delivery after each invoke.
	FlushBudget time.Duration
	// Proxy turns the Runtime API proxy on.
	Proxy bool
	// Upstream is where the proxy forwards; empty means Lambda's API.
	Upstream string
	// CaptureBytes bounds what the proxy inspects of each payload.
	CaptureBytes int
	// TmpDir is the sandbox's /tmp.
	TmpDir string
	// Redaction decides what of captured requests enters the trail.
	Redaction schema.Redaction
	// PseudonymKeyARN names the Secrets Manager secret holding the
	// pseudonym key, when it does not come from the environment.
	PseudonymKeyARN string
	// ChainKey keys the hash chain (HMAC-SHA256); ChainKeyARN names the
	// Secrets Manager secret holding it instead.
	ChainKey    []byte
	ChainKeyARN string
	// Detect configures the security detectors.
	Detect Detect
	Lambda Lambda
}

// Lambda is what the platform tells the extension through its environment.
type Lambda struct {
	RuntimeAPI         string
	FunctionName       string
	FunctionVersion    string
	Region             string
	MemoryMB           int64
	InitializationType string
}

// ManagedInstances reports whether the function runs on Lambda Managed
// Instances, where extensions register for SHUTDOWN only and invocations run
// concurrently.
func (l Lambda) ManagedInstances() bool {
	return l.InitializationType == "lambda-managed-instances"
}

// FromEnv reads the configuration through lookup (os.LookupEnv in
// production, a map in tests). It returns a usable configuration together
// with every problem found, joined: fields with problems fall back to their
// defaults.
func FromEnv(lookup func(string) (string, bool)) (Config, error) {
	get := func(name, def string) string {
		if v, ok := lookup(name); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	tmp := get("TMPDIR", "/tmp")
	c := Config{
		Sinks:           splitList(get("AUDITTRAIL_SINKS", SinkStdout)),
		FileDir:         get("AUDITTRAIL_FILE_DIR", filepath.Join(tmp, "audittrail", "trail")),
		TelemetryTypes:  splitList(get("AUDITTRAIL_TELEMETRY_TYPES", "platform")),
		QueueBytes:      4 << 20,
		SpoolDir:        get("AUDITTRAIL_SPOOL_DIR", filepath.Join(tmp, "audittrail", "spool")),
		SpoolBytes:      64 << 20,
		Flush:           Flush{Mode: FlushAdaptive},
		FlushBudget:     50 * time.Millisecond,
		Proxy:           true,
		Upstream:        get("AUDITTRAIL_RUNTIME_API_UPSTREAM", ""),
		CaptureBytes:    1 << 20,
		TmpDir:          tmp,
		PseudonymKeyARN: get("AUDITTRAIL_PSEUDONYMIZE_KEY_SECRET_ARN", ""),
		ChainKeyARN:     get("AUDITTRAIL_CHAIN_KEY_SECRET_ARN", ""),
		Redaction: schema.Redaction{
			RedactQuery: splitList(get("AUDITTRAIL_REDACT_QUERY", "")),
			AllowQuery:  splitList(get("AUDITTRAIL_ALLOW_QUERY", "")),
			Headers:     splitList(get("AUDITTRAIL_RECORD_HEADERS", "")),
		},
		Lambda: Lambda{
			RuntimeAPI:         get("AWS_LAMBDA_RUNTIME_API", ""),
			FunctionName:       get("AWS_LAMBDA_FUNCTION_NAME", ""),
			FunctionVersion:    get("AWS_LAMBDA_FUNCTION_VERSION", ""),
			Region:             get("AWS_REGION", ""),
			InitializationType: get("AWS_LAMBDA_INITIALIZATION_TYPE", ""),
		},
	}
	if key, ok := lookup("AUDITTRAIL_PSEUDONYMIZE_KEY"); ok && key != "" {
		c.Redaction.PseudonymKey = []byte(key)
	}
	if key, ok := lookup("AUDITTRAIL_CHAIN_KEY"); ok && key != "" {
		c.ChainKey = []byte(key)
	}
	errs := c.readSinks(get)
	errs = append(errs, c.readDetect(get)...)
	if v := get("AUDITTRAIL_SPOOL_BYTES", ""); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("AUDITTRAIL_SPOOL_BYTES: %q is not a number of bytes", v))
		} else {
			c.SpoolBytes = n
		}
	}
	if v := get("AUDITTRAIL_FLUSH", ""); v != "" {
		f, err := ParseFlush(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("AUDITTRAIL_FLUSH: %w", err))
		} else {
			c.Flush = f
		}
	}
	if v := get("AUDITTRAIL_QUEUE_BYTES", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("AUDITTRAIL_QUEUE_BYTES: %q is not a number of bytes", v))
		} else {
			c.QueueBytes = n
		}
	}
	if v := get("AUDITTRAIL_FLUSH_BUDGET", ""); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("AUDITTRAIL_FLUSH_BUDGET: %q is not a duration like 50ms", v))
		} else {
			c.FlushBudget = d
		}
	}
	var err error
	if c.Proxy, err = onOff(get, "AUDITTRAIL_PROXY", true); err != nil {
		errs = append(errs, err)
	}
	if v := get("AUDITTRAIL_CAPTURE_BYTES", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("AUDITTRAIL_CAPTURE_BYTES: %q is not a number of bytes", v))
		} else {
			c.CaptureBytes = n
		}
	}
	if v := get("AUDITTRAIL_LOG_LEVEL", ""); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("AUDITTRAIL_LOG_LEVEL: %q is not one of debug, info, warn, error", v))
		}
	}
	if v := get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", ""); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE: %q is not a number", v))
		}
		c.Lambda.MemoryMB = n
	}
	errs = append(errs, c.Validate())
	c.sanitize()
	return c, errors.Join(errs...)
}

// sanitize replaces what Validate rejects with defaults, so that a bad value
// disables one option, never the extension.
func (c *Config) sanitize() {
	c.Sinks = slices.DeleteFunc(c.Sinks, func(s string) bool {
		return !slices.Contains(knownSinks, s) || c.SinkProblems(s) != nil
	})
	if len(c.Sinks) == 0 {
		c.Sinks = []string{SinkStdout}
	}
	c.TelemetryTypes = slices.DeleteFunc(c.TelemetryTypes, func(t string) bool {
		return t != "platform" && t != "function" && t != "extension"
	})
	if !slices.Contains(c.TelemetryTypes, "platform") {
		c.TelemetryTypes = append([]string{"platform"}, c.TelemetryTypes...)
	}
	if c.QueueBytes < 64<<10 {
		c.QueueBytes = 4 << 20
	}
	if c.CaptureBytes > 6<<20 {
		c.CaptureBytes = 1 << 20
	}
	if c.FlushBudget < 0 || c.FlushBudget > time.Second {
		c.FlushBudget = 50 * time.Millisecond
	}
	if c.SpoolBytes != 0 && c.SpoolBytes < minSpoolBytes {
		c.SpoolBytes = 64 << 20
	}
	if _, err := secrets.RegionOf(c.ChainKeyARN); err != nil && c.ChainKeyARN != "" {
		c.ChainKeyARN = ""
	}
	if len(c.ChainKey) > 0 && (len(c.ChainKey) < 16 || c.ChainKeyARN != "") {
		c.ChainKey = nil
	}
	if strings.Contains(c.Upstream, "/") {
		c.Upstream = ""
	}
	if _, err := secrets.RegionOf(c.PseudonymKeyARN); err != nil && c.PseudonymKeyARN != "" {
		// A bad ARN can never give a key: fail closed.
		c.PseudonymKeyARN = ""
		c.Redaction.DropIdentities = true
	}
	c.Redaction.Headers = slices.DeleteFunc(c.Redaction.Headers, func(h string) bool {
		return schema.Redaction{Headers: []string{h}}.Validate() != nil
	})
}

// Validate reports every problem in c, each prefixed with the variable that
// sets the field.
func (c Config) Validate() error {
	var errs []error
	if len(c.Sinks) == 0 {
		errs = append(errs, errors.New("AUDITTRAIL_SINKS: no sink given"))
	}
	for _, s := range c.Sinks {
		if !slices.Contains(knownSinks, s) {
			errs = append(errs, fmt.Errorf("AUDITTRAIL_SINKS: unknown sink %q (known: %s)", s, strings.Join(knownSinks, ", ")))
		}
	}
	for _, s := range c.Sinks {
		if err := c.SinkProblems(s); err != nil {
			errs = append(errs, fmt.Errorf("sink %s disabled: %w", s, err))
		}
	}
	if c.SpoolBytes != 0 && c.SpoolBytes < minSpoolBytes {
		errs = append(errs, fmt.Errorf("AUDITTRAIL_SPOOL_BYTES: %d is below the minimum of %d (0 turns the spool off)", c.SpoolBytes, minSpoolBytes))
	}
	if c.SpoolBytes != 0 && c.SpoolDir == "" {
		errs = append(errs, errors.New("AUDITTRAIL_SPOOL_DIR: required unless AUDITTRAIL_SPOOL_BYTES is 0"))
	}
	if k := c.ChainKey; len(k) > 0 && len(k) < 16 {
		errs = append(errs, errors.New("AUDITTRAIL_CHAIN_KEY: too short; use at least 16 random bytes"))
	}
	if c.ChainKeyARN != "" {
		if _, err := secrets.RegionOf(c.ChainKeyARN); err != nil {
			errs = append(errs, fmt.Errorf("AUDITTRAIL_CHAIN_KEY_SECRET_ARN: %w", err))
		}
		if len(c.ChainKey) > 0 {
			errs = append(errs, errors.New("AUDITTRAIL_CHAIN_KEY_SECRET_ARN: conflicts with AUDITTRAIL_CHAIN_KEY; set one"))
		}
	}
	if slices.Contains(c.Sinks, SinkFile) && c.FileDir == "" {
		errs = append(errs, errors.New("AUDITTRAIL_FILE_DIR: required by the file sink"))
	}
	if len(c.TelemetryTypes) == 0 {
		errs = append(errs, errors.New("AUDITTRAIL_TELEMETRY_TYPES: no type given"))
	}
	for _, t := range c.TelemetryTypes {
		if t != "platform" && t != "function" && t != "extension" {
			errs = append(errs, fmt.Errorf("AUDITTRAIL_TELEMETRY_TYPES: unknown type %q (known: platform, function, extension)", t))
		}
	}
	if !slices.Contains(c.TelemetryTypes, "platform") {
		errs = append(errs, errors.New("AUDITTRAIL_TELEMETRY_TYPES: must include platform (invocation records come from it)"))
	}
	if c.QueueBytes < 64<<10 {
		errs = append(errs, fmt.Errorf("AUDITTRAIL_QUEUE_BYTES: %d is below the minimum of 65536", c.QueueBytes))
	}
	if c.CaptureBytes > 6<<20 {
		errs = append(errs, fmt.Errorf("AUDITTRAIL_CAPTURE_BYTES: %d is above Lambda's 6 MiB payload limit", c.CaptureBytes))
	}
	if c.FlushBudget < 0 || c.FlushBudget > time.Second {
		errs = append(errs, fmt.Errorf("AUDITTRAIL_FLUSH_BUDGET: %v is outside 0 to 1s", c.FlushBudget))
	}
	if err := c.Redaction.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("AUDITTRAIL_RECORD_HEADERS: %w", err))
	}
	if k := c.Redaction.PseudonymKey; len(k) > 0 && len(k) < 16 {
		errs = append(errs, errors.New("AUDITTRAIL_PSEUDONYMIZE_KEY: too short; use at least 16 random bytes"))
	}
	if c.PseudonymKeyARN != "" {
		if _, err := secrets.RegionOf(c.PseudonymKeyARN); err != nil {
			errs = append(errs, fmt.Errorf("AUDITTRAIL_PSEUDONYMIZE_KEY_SECRET_ARN: %w", err))
		}
		if len(c.Redaction.PseudonymKey) > 0 {
			errs = append(errs, errors.New("AUDITTRAIL_PSEUDONYMIZE_KEY_SECRET_ARN: conflicts with AUDITTRAIL_PSEUDONYMIZE_KEY; set one"))
		}
	}
	if c.Upstream != "" && strings.Contains(c.Upstream, "/") {
		errs = append(errs, fmt.Errorf("AUDITTRAIL_RUNTIME_API_UPSTREAM: %q must be host:port, like AWS_LAMBDA_RUNTIME_API", c.Upstream))
	}
	return errors.Join(errs...)
}

// minSpoolBytes is the smallest spool worth having: a few segments.
const minSpoolBytes = 64 << 10

// LogRecords reports whether function or extension log lines become records.
func (c Config) LogRecords() bool {
	return slices.Contains(c.TelemetryTypes, "function") || slices.Contains(c.TelemetryTypes, "extension")
}

// onOff reads a switch: on, true or 1; off, false or 0; any case. A
// value that is neither is an error, and def is returned with it.
func onOff(get func(name, def string) string, name string, def bool) (bool, error) {
	switch v := strings.ToLower(get(name, "")); v {
	case "":
		return def, nil
	case "on", "true", "1":
		return true, nil
	case "off", "false", "0":
		return false, nil
	default:
		return def, fmt.Errorf("%s: %q is not on or off", name, v)
	}
}

func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if p := strings.ToLower(strings.TrimSpace(part)); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
