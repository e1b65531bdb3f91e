package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Environment is what the builder knows before telemetry arrives.
type Environment struct {
	// EnvID identifies the execution environment (audit.env_id).
	EnvID           string
	FunctionName    string
	FunctionVersion string
	Region          string
	// AccountID may be empty; an INVOKE event's ARN then supplies it.
	AccountID string
	MemoryMB  int64
	// InitializationType is AWS_LAMBDA_INITIALIZATION_TYPE (on-demand,
	// provisioned-concurrency, snap-start, lambda-managed-instances).
	InitializationType string
	// Logs turns function and extension log lines into log records.
	Logs bool
	// Redaction decides what of captured requests enters the records.
	Redaction Redaction
	// Inspector, when set, looks at every invocation for attacks (package
	// detect) and adds its findings to the record.
	Inspector Inspector
}

// Inspector looks at invocations for attacks and adds what it finds to
// rec.Security. It only observes: it must not change anything else of
// the record.
type Inspector interface {
	// Exchange inspects what the Runtime API proxy saw of an invocation
	// (its payloads), once normalized into rec; parts are the raw parts
	// Normalize decoded of an HTTP exchange (nil: not HTTP, or not
	// decoded, as with InvocationRecord).
	Exchange(rec *Record, x Exchange, parts *HTTPParts)
	// Finished inspects an invocation record once it is complete
	// (outcome, duration): stateful detectors that count across
	// invocations.
	Finished(rec *Record)
}

// maxTracked bounds the invocations held in memory.
const maxTracked = 10000

// invocation is what is known of one request so far.
type invocation struct {
	rec         Record
	seq         int // order of first sight, for eviction and Pending
	started     bool
	runtimeDone bool
	// answered is set when the proxy saw the runtime's response or error.
	answered bool
	// event is the proxy's copy of the event, held until the result
	// arrives and the exchange is normalized.
	event     []byte
	eventSize int64
	truncated bool
}

// Builder turns telemetry events and INVOKE events into audit records. It
// correlates by request id, never by order. Not safe for concurrent use.
type Builder struct {
	env      Environment
	instance string // from platform.initStart
	account  string // cloud.account.id, once known
	resource string // cloud.resource_id, once known

	init  *Record // the init record being built, until initReport
	inits int     // init records emitted
	invs  map[string]*invocation
	seq   int      // invocations seen, in order
	done  []string // recently finished request ids, at most recentDone
	gaps  int      // coverage-gap records made, for their ids
	logs  int      // log records made, for their ids
}

// NewBuilder returns a builder for one execution environment.
func NewBuilder(env Environment) *Builder {
	b := &Builder{env: env, invs: map[string]*invocation{}, account: env.AccountID}
	if env.Region != "" && env.AccountID != "" && env.FunctionName != "" {
		b.resource = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", env.Region, env.AccountID, env.FunctionName)
	}
	return b
}

// base returns a record with the fields every record carries.
func (b *Builder) base(action, id string, at time.Time) Record {
	r := Record{
		Timestamp: at.UTC(),
		Event:     Event{ID: id, Kind: "event", Action: action, Outcome: OutcomeUnknown},
		Audit:     Audit{SchemaVersion: Version, EnvID: b.env.EnvID},
		Cloud:     Cloud{Provider: "aws", Platform: "aws_lambda", Region: b.env.Region, ResourceID: b.resource},
		FaaS: FaaS{
			Name:     b.env.FunctionName,
			Version:  b.env.FunctionVersion,
			Instance: b.instance,
		},
	}
	if b.account != "" {
		r.Cloud.Account = &struct {
			ID string `json:"id"`
		}{b.account}
	}
	if b.env.MemoryMB > 0 {
		r.FaaS.MaxMemory = b.env.MemoryMB << 20
	}
	return r
}

func (r *Record) lambda() *Lambda {
	if r.AWS == nil {
		r.AWS = &AWS{}
	}
	if r.AWS.Lambda == nil {
		r.AWS.Lambda = &Lambda{}
	}
	return r.AWS.Lambda
}

// Invoke notes an Extensions API INVOKE event received at at: it gives the
// invoked ARN (with its alias) and the X-Ray trace header.
func (b *Builder) Invoke(requestID, invokedARN, traceHeader string, at time.Time) {
	if requestID == "" {
		return
	}
	if res, account, ok := parseFunctionARN(invokedARN); ok {
		b.resource, b.account = res, account
	}
	inv := b.invocation(requestID, at)
	if invokedARN != "" {
		inv.rec.lambda().InvokedARN = invokedARN
	}
	setTrace(&inv.rec, traceHeader)
}

// invocation returns the tracked invocation for id, creating it.
func (b *Builder) invocation(id string, at time.Time) *invocation {
	if inv, ok := b.invs[id]; ok {
		return inv
	}
	b.seq++
	inv := &invocation{seq: b.seq, rec: b.base(ActionInvocation, RecordID("invocation/"+id), at)}
	inv.rec.FaaS.InvocationID = id
	inv.rec.Audit.Capture = CaptureTelemetry
	b.invs[id] = inv
	return inv
}

// Add consumes one telemetry event and returns the records it completes.
func (b *Builder) Add(ev TelemetryEvent) ([]Record, error) {
	switch ev.Type {
	case "platform.initStart", "platform.restoreStart":
		var r initStart
		if err := decode(ev, &r); err != nil {
			return nil, err
		}
		b.onInitStart(ev, r)
		return nil, nil
	case "platform.initRuntimeDone", "platform.restoreRuntimeDone":
		var r initDone
		if err := decode(ev, &r); err != nil {
			return nil, err
		}
		if b.init != nil {
			b.applyInitStatus(r)
		}
		return nil, nil
	case "platform.initReport", "platform.restoreReport":
		var r initDone
		if err := decode(ev, &r); err != nil {
			return nil, err
		}
		return b.onInitReport(ev, r), nil
	case "platform.start", "platform.runtimeDone", "platform.report":
		var r invokeRecord
		if err := decode(ev, &r); err != nil {
			return nil, err
		}
		if r.RequestID == "" {
			return nil, fmt.Errorf("%s: no requestId", ev.Type)
		}
		return b.onInvocation(ev, r), nil
	case "platform.logsDropped":
		var r logsDropped
		if err := decode(ev, &r); err != nil {
			return nil, err
		}
		return []Record{b.Gap(GapLambdaLogsDropped, "lambda", r.DroppedRecords, r.DroppedBytes, r.Reason, ev.Time)}, nil
	case "function", "extension":
		return b.onLog(ev)
	default:
		return nil, nil // platform.extension, platform.telemetrySubscription, future types
	}
}

func decode(ev TelemetryEvent, into any) error {
	if len(ev.Record) == 0 || ev.Record[0] != '{' {
		return fmt.Errorf("%s: record is not an object", ev.Type)
	}
	if err := json.Unmarshal(ev.Record, into); err != nil {
		return fmt.Errorf("%s: %w", ev.Type, err)
	}
	return nil
}

func (b *Builder) onInitStart(ev TelemetryEvent, r initStart) {
	if r.InstanceID != "" {
		b.instance = r.InstanceID
	}
	if b.env.FunctionName == "" {
		b.env.FunctionName = r.FunctionName
	}
	if b.env.FunctionVersion == "" {
		b.env.FunctionVersion = r.FunctionVersion
	}
	rec := b.base(ActionInit, RecordID(fmt.Sprintf("init/%s/%d", b.env.EnvID, b.inits)), ev.Time)
	start := ev.Time.UTC()
	rec.Event.Start = &start
	l := rec.lambda()
	l.InitializationType = r.InitializationType
	if l.InitializationType == "" {
		l.InitializationType = b.env.InitializationType
	}
	l.InitPhase = r.Phase
	if ev.Type == "platform.restoreStart" {
		l.InitPhase = "restore"
	}
	l.RuntimeVersion, l.RuntimeVersionARN = r.RuntimeVersion, r.RuntimeVersionArn
	b.init = &rec
}

func (b *Builder) applyInitStatus(r initDone) {
	l := b.init.lambda()
	if r.Status != "" {
		l.Status = r.Status
		b.init.Event.Outcome = outcome(r.Status)
	}
	if r.ErrorType != "" {
		b.init.Error = &Error{Type: r.ErrorType}
	}
}

func (b *Builder) onInitReport(ev TelemetryEvent, r initDone) []Record {
	if b.init == nil { // report without start: make the record from what we have
		b.onInitStart(ev, initStart{InitializationType: r.InitializationType, Phase: r.Phase})
		b.init.Event.Start = nil
	}
	b.applyInitStatus(r)
	if d := r.Metrics.DurationMs; d != nil {
		b.init.lambda().DurationMs = d
		ns := int64(*d * 1e6)
		b.init.Event.Duration = &ns
		if b.init.Event.Start != nil {
			end := b.init.Event.Start.Add(time.Duration(ns))
			b.init.Event.End = &end
		}
	}
	rec := *b.init
	b.init = nil
	b.inits++
	return []Record{rec}
}

func (b *Builder) onInvocation(ev TelemetryEvent, r invokeRecord) []Record {
	inv := b.invocation(r.RequestID, ev.Time)
	rec := &inv.rec
	if r.Tracing != nil {
		setTrace(rec, r.Tracing.Value)
	}
	if r.Version != "" {
		rec.FaaS.Version = r.Version
	}
	if r.Status != "" {
		rec.lambda().Status = r.Status
		rec.Event.Outcome = outcome(r.Status)
		if r.ErrorType != "" {
			rec.Error = &Error{Type: r.ErrorType}
		} else if r.Status == "timeout" {
			rec.Error = &Error{Type: "Sandbox.Timedout"}
		}
	}
	m := r.Metrics
	switch ev.Type {
	case "platform.start":
		if !inv.started {
			inv.started = true
			start := ev.Time.UTC()
			rec.Timestamp, rec.Event.Start = start, &start
		}
		return nil
	case "platform.runtimeDone":
		inv.runtimeDone = true
		l := rec.lambda()
		if m.ProducedBytes != nil {
			l.ProducedBytes = m.ProducedBytes
		}
		if m.DurationMs != nil && l.DurationMs == nil {
			l.DurationMs = m.DurationMs
		}
		return nil
	}
	// platform.report completes the record.
	inv.runtimeDone = true
	l := rec.lambda()
	if m.DurationMs != nil {
		l.DurationMs = m.DurationMs
	}
	l.BilledDurationMs, l.MemorySizeMB, l.MaxMemoryUsedMB = m.BilledDurationMs, m.MemorySizeMB, m.MaxMemoryUsedMB
	l.InitDurationMs, l.RestoreDurationMs = m.InitDurationMs, m.RestoreDurationMs
	cold := m.InitDurationMs != nil
	if !cold && m.BilledDurationMs == nil { // Managed Instances: no metrics to tell
		cold = b.firstOnDemand(inv)
	}
	rec.FaaS.Coldstart = &cold
	return append([]Record{b.finish(r.RequestID, inv)}, b.evict()...)
}

// firstOnDemand reports whether inv is the environment's first invocation
// and the environment was initialised on demand.
func (b *Builder) firstOnDemand(inv *invocation) bool {
	t := b.env.InitializationType
	return inv.seq == 1 && (t == "" || t == "on-demand")
}

// finish completes an invocation record and forgets the invocation.
func (b *Builder) finish(id string, inv *invocation) Record {
	if inv.event != nil { // the result never came (timeout, crash)
		x := Exchange{Event: inv.event, EventSize: inv.eventSize, Truncated: inv.truncated}
		parts := Normalize(&inv.rec, x, b.env.Redaction)
		if b.env.Inspector != nil {
			b.env.Inspector.Exchange(&inv.rec, x, parts)
		}
		inv.event = nil
	}
	rec := inv.rec
	rec.Event.Outcome = finalOutcome(&rec)
	if l := rec.AWS; l != nil && l.Lambda != nil && l.Lambda.DurationMs != nil {
		ns := int64(*l.Lambda.DurationMs * 1e6)
		rec.Event.Duration = &ns
		if rec.Event.Start != nil {
			end := rec.Event.Start.Add(time.Duration(ns))
			rec.Event.End = &end
		}
	}
	if rec.FaaS.Coldstart == nil {
		cold := b.firstOnDemand(inv)
		rec.FaaS.Coldstart = &cold
	}
	if b.env.Inspector != nil {
		b.env.Inspector.Finished(&rec)
	}
	delete(b.invs, id)
	if len(b.done) == recentDone {
		b.done = b.done[1:]
	}
	b.done = append(b.done, id)
	return rec
}

// CaptureEvent notes the event the runtime received for requestID, as the
// Runtime API proxy saw it (event may be a prefix of size bytes).
func (b *Builder) CaptureEvent(requestID string, event []byte, size int64, truncated bool, at time.Time) {
	inv := b.invocation(requestID, at)
	inv.event, inv.eventSize, inv.truncated = event, size, truncated
}

// CaptureResult notes the function's response, or its error when errorType
// is set, and normalizes the exchange into the invocation record. Only the
// normalized facts are kept, never the payloads.
func (b *Builder) CaptureResult(requestID string, body []byte, size int64, truncated bool, errorType string, at time.Time) {
	inv := b.invocation(requestID, at)
	x := Exchange{Event: inv.event, EventSize: inv.eventSize, Response: body, ResponseSize: size,
		ErrorType: errorType, Truncated: truncated || inv.truncated}
	if x.Event == nil {
		x.Event = []byte("null") // the event was not seen: a direct invoke as far as we know
	}
	parts := Normalize(&inv.rec, x, b.env.Redaction)
	if b.env.Inspector != nil {
		b.env.Inspector.Exchange(&inv.rec, x, parts)
	}
	inv.event = nil
	inv.answered = true
}

// Answered reports whether the runtime is done with requestID: its
// response or error was seen by the proxy, or platform.runtimeDone (or
// platform.report) arrived.
func (b *Builder) Answered(requestID string) bool {
	if inv, ok := b.invs[requestID]; ok && inv.answered {
		return true
	}
	return b.RuntimeDone(requestID)
}

// finalOutcome combines what the platform and the proxy saw: an invocation
// fails when the platform says so, when the function reported an error, or
// when the caller got an HTTP error status.
func finalOutcome(rec *Record) string {
	out := rec.Event.Outcome
	if rec.Error != nil {
		out = OutcomeFailure
	}
	if h := rec.HTTP; h != nil && h.Response != nil && h.Response.StatusCode != 0 {
		if h.Response.StatusCode >= 400 {
			out = OutcomeFailure
		} else if out == OutcomeUnknown {
			out = OutcomeSuccess
		}
	}
	return out
}

// evict emits the oldest tracked invocations as incomplete while more than
// maxTracked are held, so memory stays bounded.
func (b *Builder) evict() []Record {
	var out []Record
	for len(b.invs) > maxTracked {
		id := b.oldest()
		inv := b.invs[id]
		inv.rec.Audit.Incomplete = true
		out = append(out, b.finish(id, inv))
	}
	return out
}

func (b *Builder) oldest() string {
	var id string
	min := 0
	for k, inv := range b.invs {
		if id == "" || inv.seq < min {
			id, min = k, inv.seq
		}
	}
	return id
}

// RuntimeDone reports whether platform.runtimeDone (or platform.report) was
// seen for requestID. A report finishes an invocation, so an id that is no
// longer tracked but was seen counts as done.
func (b *Builder) RuntimeDone(requestID string) bool {
	inv, ok := b.invs[requestID]
	if !ok {
		return b.seen(requestID)
	}
	return inv.runtimeDone
}

// recentDone bounds the memory of finished request ids.
const recentDone = 256

// seen reports whether requestID was finished recently.
func (b *Builder) seen(requestID string) bool {
	return slices.Contains(b.done, requestID)
}

// Pending returns the request ids of invocations that started but have no
// platform.report yet, oldest first.
func (b *Builder) Pending() []string {
	ids := make([]string, 0, len(b.invs))
	for id := range b.invs {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(x, y string) int { return b.invs[x].seq - b.invs[y].seq })
	return ids
}

// Shutdown emits the records still held, marked incomplete (invocations
// without platform.report, with one coverage gap counting them, and an init
// without platform.initReport), then the shutdown record.
func (b *Builder) Shutdown(reason string, at time.Time) []Record {
	var out []Record
	if b.init != nil {
		b.init.Audit.Incomplete = true
		out = append(out, *b.init)
		b.init = nil
	}
	pending := b.Pending()
	for _, id := range pending {
		inv := b.invs[id]
		inv.rec.Audit.Incomplete = true
		out = append(out, b.finish(id, inv))
	}
	if len(pending) > 0 {
		out = append(out, b.Gap(GapReportMissing, "lambda", int64(len(pending)), 0,
			"invocations ended without platform.report; their records are incomplete", at))
	}
	reason = strings.ToLower(reason)
	rec := b.base(ActionShutdown, RecordID("shutdown/"+b.env.EnvID), at)
	rec.lambda().ShutdownReason = reason
	switch reason {
	case "spindown":
		rec.Event.Outcome = OutcomeSuccess
		rec.Event.Reason = "the environment was shut down normally (spindown)"
	case "timeout":
		rec.Event.Outcome = OutcomeFailure
		rec.Event.Reason = "the environment was reset after a function timeout"
	case "failure":
		rec.Event.Outcome = OutcomeFailure
		rec.Event.Reason = "the environment was reset after a failure (crash, out of memory, or an extension error)"
	default:
		rec.Event.Reason = "shutdown reason " + reason
	}
	return append(out, rec)
}

// Gap makes a coverage_gap record for a loss.
func (b *Builder) Gap(reason, source string, records, bytes int64, detail string, at time.Time) Record {
	rec := b.base(ActionCoverageGap, RecordID(fmt.Sprintf("gap/%s/%d", b.env.EnvID, b.gaps)), at)
	b.gaps++
	rec.Event.Kind = "alert"
	rec.Event.Outcome = OutcomeFailure
	rec.Event.Reason = fmt.Sprintf("%d records missing from the trail: %s", records, reason)
	rec.Gap = &Gap{Reason: reason, Source: source, Records: records, Bytes: bytes, Detail: truncate(detail, 1024)}
	return rec
}

// onLog turns a function or extension log line into a log record, when
// log records are enabled and the line is not the extension's own.
func (b *Builder) onLog(ev TelemetryEvent) ([]Record, error) {
	if !b.env.Logs {
		return nil, nil
	}
	if len(ev.Record) == 0 {
		return nil, fmt.Errorf("%s: empty record", ev.Type)
	}
	var msg, level, requestID string
	switch ev.Record[0] {
	case '"':
		if err := json.Unmarshal(ev.Record, &msg); err != nil {
			return nil, fmt.Errorf("%s: %w", ev.Type, err)
		}
	case '{':
		var l jsonLog
		if err := json.Unmarshal(ev.Record, &l); err != nil {
			return nil, fmt.Errorf("%s: %w", ev.Type, err)
		}
		level, requestID = l.Level, l.RequestID
		switch {
		case len(l.Message) == 0:
			msg = string(ev.Record) // an object without "message": keep it whole
		case json.Unmarshal(l.Message, &msg) == nil:
		default: // a structured message, as compact JSON
			var buf bytes.Buffer
			_ = json.Compact(&buf, l.Message)
			msg = buf.String()
		}
	default:
		return nil, fmt.Errorf("%s: record is neither a string nor an object", ev.Type)
	}
	if ev.Type == "extension" && (IsOwnLogLine([]byte(msg)) || IsOwnLogLine(ev.Record)) {
		return nil, nil
	}
	rec := b.base(ActionLog, RecordID(fmt.Sprintf("log/%s/%d", b.env.EnvID, b.logs)), ev.Time)
	b.logs++
	if requestID == "" {
		requestID = b.running()
	}
	rec.FaaS.InvocationID = requestID
	rec.Log = &Log{Origin: ev.Type, Level: level, Message: truncate(msg, MaxLogMessage)}
	rec.Log.Truncated = len(rec.Log.Message) < len(msg)
	return []Record{rec}, nil
}

// running returns the request id of the one invocation started but not
// done, or "" when there is none or more than one.
func (b *Builder) running() string {
	id := ""
	for k, inv := range b.invs {
		if inv.started && !inv.runtimeDone {
			if id != "" {
				return ""
			}
			id = k
		}
	}
	return id
}

// IsOwnLogLine reports whether a log line was written by audittrail itself:
// one of its slog lines ("logger":"audittrail"), an audit record, or an
// undelivered-record line. Such lines never re-enter the trail.
func IsOwnLogLine(line []byte) bool {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return false
	}
	var probe struct {
		Logger      string          `json:"logger"`
		Audit       json.RawMessage `json:"audit"`
		Undelivered json.RawMessage `json:"audittrail.undelivered"`
	}
	if json.Unmarshal(line, &probe) != nil {
		return false
	}
	if probe.Logger == "audittrail" || len(probe.Undelivered) > 0 {
		return true
	}
	var audit struct {
		SchemaVersion string `json:"schema_version"`
	}
	return len(probe.Audit) > 0 && json.Unmarshal(probe.Audit, &audit) == nil && audit.SchemaVersion != ""
}

// outcome maps a platform status to event.outcome.
func outcome(status string) string {
	switch status {
	case "success":
		return OutcomeSuccess
	case "":
		return OutcomeUnknown
	default:
		return OutcomeFailure
	}
}

// setTrace sets the X-Ray trace from an X-Amzn-Trace-Id value
// ("Root=1-...;Parent=...;Sampled=1").
func setTrace(rec *Record, header string) {
	var x XRay
	for part := range strings.SplitSeq(header, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "Root":
			x.TraceID = v
		case "Sampled":
			s := v == "1"
			x.Sampled = &s
		}
	}
	if x.TraceID == "" {
		return
	}
	if rec.AWS == nil {
		rec.AWS = &AWS{}
	}
	rec.AWS.XRay = &x
}

// parseFunctionARN returns the function ARN without qualifier and the
// account id of arn:aws:lambda:region:account:function:name[:qualifier].
func parseFunctionARN(arn string) (resource, account string, ok bool) {
	parts := strings.Split(arn, ":")
	if len(parts) < 7 || parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "function" || parts[4] == "" || parts[6] == "" {
		return "", "", false
	}
	return strings.Join(parts[:7], ":"), parts[4], true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// InvocationRecord makes one invocation record from an exchange alone,
// without telemetry (as `audittrail normalize` does); env.Inspector is not
// called (the caller may, once it has added what it knows). Its id derives from requestID, or from the
// event's bytes when requestID is empty, so the same input always gives
// the same record.
func InvocationRecord(env Environment, requestID string, x Exchange, at time.Time) Record {
	if requestID == "" {
		requestID = RecordID(string(x.Event))
	}
	b := NewBuilder(env)
	rec := b.invocation(requestID, at).rec
	Normalize(&rec, x, env.Redaction)
	rec.Event.Outcome = finalOutcome(&rec)
	return rec
}

// FindingRecords returns one security_finding record per finding of the
// invocation record inv (none when it has none): event.kind alert, the
// invocation's time, function and request facts, security.findings with
// that one finding and security.invocation_id naming inv. Their ids derive
// from inv's, so a record made again has the same id.
func FindingRecords(inv *Record) []Record {
	if inv.Security == nil || len(inv.Security.Findings) == 0 {
		return nil
	}
	out := make([]Record, 0, len(inv.Security.Findings))
	for i, f := range inv.Security.Findings {
		r := *inv
		r.Event = Event{
			ID:      RecordID(inv.Event.ID + "/finding/" + strconv.Itoa(i)),
			Kind:    "alert",
			Action:  ActionSecurityFinding,
			Outcome: inv.Event.Outcome,
			Reason:  f.Reason,
			Start:   inv.Event.Start,
			End:     inv.Event.End,
		}
		r.Audit = Audit{SchemaVersion: inv.Audit.SchemaVersion, Capture: inv.Audit.Capture, EnvID: inv.Audit.EnvID}
		r.Security = &Security{Findings: []Finding{f}, InvocationID: inv.Event.ID}
		r.Error, r.Log, r.Gap = nil, nil, nil
		out = append(out, r)
	}
	return out
}
