package schema

import (
	"time"

	"github.com/google/uuid"
)

// Version is the audit schema version written to every record as
// audit.schema_version.
const Version = "1"

// Actions of a record (event.action).
const (
	ActionInit        = "init"
	ActionInvocation  = "invocation"
	ActionShutdown    = "shutdown"
	ActionCoverageGap = "coverage_gap"
	ActionLog         = "log"
	// ActionSecurityFinding: one finding of a detector, on a record of its
	// own (event.kind "alert") next to the invocation record that carries
	// it in security.findings; see OCSF for its Detection Finding form.
	ActionSecurityFinding = "security_finding"
)

// Finding types (security.findings[].type): what the detectors report.
const (
	FindingAuthFailureBurst  = "auth_failure_burst"
	FindingGatewayBypass     = "gateway_bypass"
	FindingUndocumentedRoute = "undocumented_route"
	// FindingUndocumentedStatus: a status code the API description does not
	// list for a documented operation.
	FindingUndocumentedStatus    = "undocumented_status"
	FindingSensitiveDataExposure = "sensitive_data_exposure"
	FindingInjectionAttempt      = "injection_attempt"
	FindingAnomaly               = "anomaly"
)

// Severities of a finding (security.findings[].severity), OCSF's names in
// lower case.
const (
	SeverityInfo     = "informational"
	SeverityLow      = "low"
	SeverityMedium   = "medium"
	SeverityHigh     = "high"
	SeverityCritical = "critical"
)

// Outcomes of a record (event.outcome), as in ECS.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeUnknown = "unknown"
)

// Capture modes (audit.capture): where an invocation record's facts came from.
const (
	CaptureTelemetry = "telemetry"
	CaptureProxy     = "proxy"
)

// Gap reasons (coverage_gap.reason): the closed set of reasons why records
// are missing from the trail.
const (
	// GapLambdaLogsDropped: Lambda's Telemetry API dropped records
	// (platform.logsDropped).
	GapLambdaLogsDropped = "lambda_logs_dropped"
	// GapQueueFull: the extension's bounded in-memory queue was full.
	GapQueueFull = "queue_full"
	// GapTelemetryInvalid: a telemetry batch or event could not be parsed.
	GapTelemetryInvalid = "telemetry_invalid"
	// GapSinkFailed: a sink could not receive records (kept for records of
	// earlier versions; failed deliveries are now retried from the spool).
	GapSinkFailed = "sink_failed"
	// GapSinkRejected: a sink refused records as permanently bad (an HTTP
	// 4xx, say); they went to the dead letters, written to stdout at
	// SHUTDOWN.
	GapSinkRejected = "sink_rejected"
	// GapSpoolFull: the spool on /tmp was full, so its oldest records were
	// dropped.
	GapSpoolFull = "spool_full"
	// GapSpoolUnreadable: spooled records could not be read back (torn by a
	// kill mid-write, or corrupt).
	GapSpoolUnreadable = "spool_unreadable"
	// GapShutdownDeadline: records could not be delivered before the
	// SHUTDOWN deadline (they were written to stdout instead).
	GapShutdownDeadline = "shutdown_deadline"
	// GapTelemetryUnavailable: the Telemetry API subscription failed, so no
	// platform records can be produced for this environment.
	GapTelemetryUnavailable = "telemetry_unavailable"
	// GapInternalError: the extension recovered from an internal error; the
	// records of the step that failed may be missing.
	GapInternalError = "internal_error"
	// GapReportMissing: an invocation ended without platform.report (for
	// example the environment was reset); its record is incomplete.
	GapReportMissing = "report_missing"
)

// Record is one audit record of schema version 1. Records are JSON objects
// with nested fields whose names follow OpenTelemetry semantic conventions
// (faas.*, cloud.*) and ECS (event.*) where one exists. Pointer and omitempty
// fields are absent when unknown; a field is never invented.
type Record struct {
	// Timestamp is when the recorded event happened (UTC, ns precision).
	Timestamp time.Time `json:"@timestamp"`
	Event     Event     `json:"event"`
	Audit     Audit     `json:"audit"`
	Cloud     Cloud     `json:"cloud"`
	FaaS      FaaS      `json:"faas"`
	AWS       *AWS      `json:"aws,omitempty"`
	// Request facts, on invocation records captured by the proxy.
	HTTP      *HTTP      `json:"http,omitempty"`
	URL       *URL       `json:"url,omitempty"`
	Server    *Endpoint  `json:"server,omitempty"`
	Client    *Endpoint  `json:"client,omitempty"`
	UserAgent *UserAgent `json:"user_agent,omitempty"`
	API       *API       `json:"api,omitempty"`
	User      *User      `json:"user,omitempty"`
	Auth      *Auth      `json:"auth,omitempty"`
	Error     *Error     `json:"error,omitempty"`
	// Security holds what the detectors found in the invocation, and the
	// one finding of a security_finding record.
	Security *Security `json:"security,omitempty"`
	// Gap is set on coverage_gap records only.
	Gap *Gap `json:"coverage_gap,omitempty"`
	// Log is set on log records only.
	Log *Log `json:"log,omitempty"`
}

// Event describes what the record is about (ECS event.*).
type Event struct {
	// ID is stable for the record: retries and re-deliveries carry the same
	// id, so a SIEM can deduplicate.
	ID      string `json:"id"`
	Kind    string `json:"kind"`    // "event", or "alert" for coverage gaps
	Action  string `json:"action"`  // one of the Action* constants
	Outcome string `json:"outcome"` // one of the Outcome* constants
	// Reason is a short human-readable explanation, when there is one.
	Reason string `json:"reason,omitempty"`
	// Start and End bound the recorded activity, when known.
	Start *time.Time `json:"start,omitempty"`
	End   *time.Time `json:"end,omitempty"`
	// Duration is in nanoseconds, as in ECS.
	Duration *int64 `json:"duration,omitempty"`
}

// Audit carries facts about the trail itself.
type Audit struct {
	SchemaVersion string `json:"schema_version"`
	// Capture is CaptureTelemetry or CaptureProxy, on invocation records.
	Capture string `json:"capture,omitempty"`
	// EnvID identifies one execution environment (one extension process
	// lifetime); it is a random UUID made at init.
	EnvID string `json:"env_id"`
	// Incomplete is true when the record was emitted before all its facts
	// arrived (for example an invocation without platform.report).
	Incomplete bool `json:"incomplete,omitempty"`
	// Seq numbers the records of one environment 1, 2, 3... in the order
	// they were made; a missing number is a lost record.
	Seq int64 `json:"seq,omitempty"`
	// PrevHash is the Hash of the record with the previous Seq.
	PrevHash string `json:"prev_hash,omitempty"`
	// Hash is the hex SHA-256, or with a keyed chain the hex HMAC-SHA256,
	// of the record's canonical form (see Chain).
	Hash string `json:"hash,omitempty"`
	// HashAlg is HashAlgHMACSHA256 for a keyed chain; it is left out, which
	// means HashAlgSHA256, for a plain one.
	HashAlg string `json:"hash_alg,omitempty"`
}

// Cloud is the OpenTelemetry cloud.* namespace.
type Cloud struct {
	Provider string `json:"provider"` // "aws"
	Platform string `json:"platform"` // "aws_lambda"
	Region   string `json:"region,omitempty"`
	Account  *struct {
		ID string `json:"id"`
	} `json:"account,omitempty"`
	// ResourceID is the function ARN without alias or version suffix.
	ResourceID string `json:"resource_id,omitempty"`
}

// FaaS is the OpenTelemetry faas.* namespace.
type FaaS struct {
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
	// Instance is the execution environment's instance id (log stream).
	Instance string `json:"instance,omitempty"`
	// MaxMemory is the function's memory size in bytes.
	MaxMemory int64 `json:"max_memory,omitempty"`
	// InvocationID is the Lambda request id.
	InvocationID string `json:"invocation_id,omitempty"`
	Coldstart    *bool  `json:"coldstart,omitempty"`
	Trigger      string `json:"trigger,omitempty"`
}

// AWS holds Lambda-specific facts that have no OpenTelemetry name.
type AWS struct {
	Lambda *Lambda `json:"lambda,omitempty"`
	XRay   *XRay   `json:"xray,omitempty"`
}

// Lambda holds platform facts from the Telemetry and Extensions APIs.
type Lambda struct {
	// InvokedARN is the ARN the caller invoked, including an alias.
	InvokedARN string `json:"invoked_arn,omitempty"`
	// Status is the platform's status: success, error, failure or timeout.
	Status             string   `json:"status,omitempty"`
	DurationMs         *float64 `json:"duration_ms,omitempty"`
	BilledDurationMs   *int64   `json:"billed_duration_ms,omitempty"`
	MemorySizeMB       *int64   `json:"memory_size_mb,omitempty"`
	MaxMemoryUsedMB    *int64   `json:"max_memory_used_mb,omitempty"`
	InitDurationMs     *float64 `json:"init_duration_ms,omitempty"`
	RestoreDurationMs  *float64 `json:"restore_duration_ms,omitempty"`
	ProducedBytes      *int64   `json:"produced_bytes,omitempty"`
	InitializationType string   `json:"initialization_type,omitempty"`
	InitPhase          string   `json:"init_phase,omitempty"`
	RuntimeVersion     string   `json:"runtime_version,omitempty"`
	RuntimeVersionARN  string   `json:"runtime_version_arn,omitempty"`
	ShutdownReason     string   `json:"shutdown_reason,omitempty"`
}

// XRay is the invocation's X-Ray trace context.
type XRay struct {
	// TraceID is the Root of the X-Amzn-Trace-Id header.
	TraceID string `json:"trace_id,omitempty"`
	Sampled *bool  `json:"sampled,omitempty"`
}

// HTTP is the OpenTelemetry http.* namespace.
type HTTP struct {
	Request  *HTTPRequest  `json:"request,omitempty"`
	Response *HTTPResponse `json:"response,omitempty"`
	// Route is the route template, e.g. /users/{id}.
	Route string `json:"route,omitempty"`
}

// HTTPRequest describes the request.
type HTTPRequest struct {
	Method string `json:"method,omitempty"`
	Body   *Body  `json:"body,omitempty"`
	// MimeType is the request's Content-Type (ECS http.request.mime_type).
	MimeType string `json:"mime_type,omitempty"`
	// Header holds the few headers kept (x-forwarded-for), lower-cased.
	Header map[string][]string `json:"header,omitempty"`
}

// HTTPResponse describes the response.
type HTTPResponse struct {
	StatusCode int   `json:"status_code,omitempty"`
	Body       *Body `json:"body,omitempty"`
	// MimeType is the response's Content-Type (ECS http.response.mime_type).
	MimeType string `json:"mime_type,omitempty"`
}

// Body gives a payload's size; bodies themselves are not stored.
type Body struct {
	Size int64 `json:"size"`
}

// URL is the OpenTelemetry url.* namespace.
type URL struct {
	Path string `json:"path,omitempty"`
	// Query has the values of secret-looking parameters redacted.
	Query  string `json:"query,omitempty"`
	Scheme string `json:"scheme,omitempty"`
}

// Endpoint is a network peer: server.* or client.*.
type Endpoint struct {
	Address string `json:"address,omitempty"`
}

// UserAgent is user_agent.*.
type UserAgent struct {
	Original string `json:"original,omitempty"`
}

// API describes the front door the invocation came through.
type API struct {
	// Gateway is apigateway-rest, apigateway-http, apigateway-websocket,
	// alb, function-url, direct, or a trigger name (sqs, sns, s3, ...).
	Gateway   string `json:"gateway"`
	ID        string `json:"id,omitempty"`
	Stage     string `json:"stage,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// EventType is the WebSocket event (CONNECT, MESSAGE, DISCONNECT).
	EventType    string `json:"event_type,omitempty"`
	ConnectionID string `json:"connection_id,omitempty"`
	// SourceARNs and Records describe non-HTTP triggers.
	SourceARNs []string `json:"source_arns,omitempty"`
	Records    int      `json:"records,omitempty"`
}

// User is the principal that made the call (user.*).
type User struct {
	// ID is the JWT sub, Cognito identity id, IAM ARN or authorizer
	// principal.
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// Auth tells how the caller was authenticated.
type Auth struct {
	// Type is jwt, cognito, iam, lambda-authorizer, api-key, mtls or none.
	Type     string   `json:"type"`
	Scopes   []string `json:"scopes,omitempty"`
	ClientID string   `json:"client_id,omitempty"`
	APIKeyID string   `json:"api_key_id,omitempty"`
	// CertSubject is the mTLS client certificate's subject DN.
	CertSubject string `json:"cert_subject,omitempty"`
}

// Error describes why an invocation or phase failed.
type Error struct {
	Type    string `json:"type,omitempty"`
	Message string `json:"message,omitempty"`
}

// Gap describes records that are missing from the trail and why.
type Gap struct {
	// Reason is one of the Gap* constants.
	Reason string `json:"reason"`
	// Source is "lambda" when the platform dropped data, "extension" when
	// the extension did.
	Source string `json:"source"`
	// Records and Bytes count what was lost (0 when unknown).
	Records int64 `json:"records"`
	Bytes   int64 `json:"bytes,omitempty"`
	// Sink names the sink concerned, for sink failures.
	Sink string `json:"sink,omitempty"`
	// SeqFrom and SeqTo bound the audit.seq numbers of the lost records,
	// when they had been numbered.
	SeqFrom int64 `json:"seq_from,omitempty"`
	SeqTo   int64 `json:"seq_to,omitempty"`
	// EnvID is the execution environment whose records were lost, when it
	// is not the gap record's own audit.env_id: after a reset, the new
	// environment delivers what the previous one left on /tmp and reports
	// the part of it that it could not.
	EnvID string `json:"env_id,omitempty"`
	// Detail is the platform's or the error's own words.
	Detail string `json:"detail,omitempty"`
}

// Log is a function or extension log line (opt-in).
type Log struct {
	// Origin is "function" or "extension".
	Origin string `json:"origin"`
	Level  string `json:"level,omitempty"`
	// Message is the log line, truncated to MaxLogMessage bytes.
	Message   string `json:"message"`
	Truncated bool   `json:"truncated,omitempty"`
}

// MaxLogMessage bounds the size of Log.Message.
const MaxLogMessage = 8 << 10

// idNamespace is the UUID namespace for deterministic record ids.
var idNamespace = uuid.MustParse("6f1d0b52-7c2e-4c1a-9a54-0d6b2f8a3e71")

// RecordID returns a stable record id derived from name: the same name always
// gives the same id, so a record re-sent after a retry or a freeze keeps it.
func RecordID(name string) string {
	return uuid.NewSHA1(idNamespace, []byte(name)).String()
}

// Security is what the detectors found (security.*). Detectors only
// observe: a finding never changes what the function received or answered.
type Security struct {
	Findings []Finding `json:"findings,omitempty"`
	// InvocationID is the event.id of the invocation record a
	// security_finding record is about.
	InvocationID string `json:"invocation_id,omitempty"`
}

// Finding is one detector's verdict on an invocation.
type Finding struct {
	// Type is one of the Finding* constants.
	Type string `json:"type"`
	// Severity is one of the Severity* constants.
	Severity string `json:"severity"`
	// Reason says what was seen, for a person, without sensitive values.
	Reason   string   `json:"reason"`
	Evidence Evidence `json:"evidence"`
}

// Evidence backs a finding. It names where and what, and counts, never
// the sensitive value itself (a card number's kind and count, not the
// number).
type Evidence struct {
	// Location is where it was seen: "request.path", "request.query",
	// "request.header.<name>", "request.body", "response.body",
	// "response.status", "event" (the invocation's source).
	Location string `json:"location,omitempty"`
	// Rule names the signature or check that matched ("sqli.union_select").
	Rule string `json:"rule,omitempty"`
	// Kinds and Counts: Counts[i] matches of kind Kinds[i] (sensitive data).
	Kinds  []string `json:"kinds,omitempty"`
	Counts []int    `json:"counts,omitempty"`
	// Key is the record field a stateful detector counted by ("client.ip",
	// "user.id"); the value is that field of the record.
	Key string `json:"key,omitempty"`
	// Count is how many events the detector counted (failures in the
	// window, say) and Threshold the count that makes a finding.
	Count     int64 `json:"count,omitempty"`
	Threshold int64 `json:"threshold,omitempty"`
	// WindowSeconds is the sliding window the count covers.
	WindowSeconds float64 `json:"window_seconds,omitempty"`
	// Observed and Baseline are the measured value and what the
	// environment's recent past predicts (anomaly: error rate or latency).
	Observed *float64 `json:"observed,omitempty"`
	Baseline *float64 `json:"baseline,omitempty"`
	// Expected lists what was expected instead (gateway_bypass: the
	// expected sources; undocumented_status: the documented codes).
	Expected []string `json:"expected,omitempty"`
}
