package otlp

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/audittrail/audittrail/schema"
	"google.golang.org/protobuf/encoding/protowire"
)

// ScopeName is the instrumentation scope of every log record the sink
// sends.
const ScopeName = "audittrail"

// Severity numbers of the OTLP logs data model (SeverityNumber).
const (
	severityUnspecified = 0
	severityTrace       = 1
	severityDebug       = 5
	severityInfo        = 9
	severityWarn        = 13
	severityError       = 17
	severityFatal       = 21
)

// traceFlagSampled is the W3C trace flag "sampled", the low byte of
// LogRecord.flags.
const traceFlagSampled = 0x01

// encoder turns batches of audit records into ExportLogsServiceRequest
// bodies. It holds no state between batches, so encode is a pure function
// of its arguments.
type encoder struct {
	// serviceName, when set, is every resource's service.name; otherwise
	// it is the records' faas.name.
	serviceName string
	// resource holds the extra resource attributes (OTEL_RESOURCE_ATTRIBUTES).
	resource map[string]string
	// scopeVersion is the instrumentation scope's version.
	scopeVersion string
	// doubles names the flat attributes whose Go type in schema.Record is
	// a float: they are always sent as doubles, so that a backend that
	// types a field by its first value ("duration_ms": 12) does not take
	// them for integers.
	doubles map[string]bool
}

// newEncoder returns an encoder for cfg's resource and scope.
func newEncoder(cfg Config) *encoder {
	doubles := map[string]bool{}
	floatFields(reflect.TypeFor[schema.Record](), "", doubles)
	return &encoder{
		serviceName:  cfg.ServiceName,
		resource:     maps.Clone(cfg.ResourceAttributes),
		scopeVersion: cfg.ScopeVersion,
		doubles:      doubles,
	}
}

// record is one audit record of a batch, decoded.
type record struct {
	raw []byte // as in the batch
	rec schema.Record
}

// resourceKey identifies a resource: the facts of a record that name the
// function it came from. Every record carries them, so records of one
// function share one resource; a batch holding records of several (a spool
// inherited across a version change, say) gets one ResourceLogs each.
type resourceKey struct {
	faasName, faasVersion        string
	cloudProvider, cloudPlatform string
	cloudRegion                  string
}

// checkEvery is how many records encode decodes between two looks at ctx.
const checkEvery = 64

// encode appends to dst the ExportLogsServiceRequest for batch, observed
// at now, and returns it with the indices of the records it left out
// because they are not audit records (not a JSON object of the record's
// shape, or not valid UTF-8, which protobuf strings must be). Records keep
// their order within their resource. It returns ctx's error, and dst
// unchanged, if ctx ends before it is done: a big batch takes milliseconds.
func (e *encoder) encode(ctx context.Context, dst []byte, batch [][]byte, now time.Time) ([]byte, []int, error) {
	var bad []int
	groups := map[resourceKey][]record{}
	var order []resourceKey
	for i, raw := range batch {
		if i%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return dst, nil, err
			}
		}
		r, err := decodeRecord(raw)
		if err != nil {
			bad = append(bad, i)
			continue
		}
		k := keyOf(&r.rec)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}

	observed := unixNano(now)
	b := dst
	for n, k := range order {
		if n > 0 {
			if err := ctx.Err(); err != nil {
				return dst, nil, err
			}
		}
		b = appendMessage(b, fRequestResourceLogs, func(b []byte) []byte {
			b = appendMessage(b, fResourceLogsResource, func(b []byte) []byte {
				return e.appendResource(b, k)
			})
			return appendMessage(b, fResourceLogsScopeLogs, func(b []byte) []byte {
				b = appendMessage(b, fScopeLogsScope, func(b []byte) []byte {
					b = appendString(b, fScopeName, ScopeName)
					return appendString(b, fScopeVersion, e.scopeVersion)
				})
				for i := range groups[k] {
					b = appendMessage(b, fScopeLogsLogRecords, func(b []byte) []byte {
						return e.appendLogRecord(b, &groups[k][i], observed)
					})
				}
				return b
			})
		})
	}
	return b, bad, nil
}

// decodeRecord decodes one element of a batch.
func decodeRecord(raw []byte) (record, error) {
	r := record{raw: raw}
	// json.Unmarshal takes null, and a string or number into a struct is
	// an error only after leading spaces: ask for an object first.
	if len(raw) == 0 || raw[0] != '{' {
		return r, errors.New("not a JSON object")
	}
	if !utf8.Valid(raw) {
		return r, errors.New("not valid UTF-8")
	}
	if err := json.Unmarshal(raw, &r.rec); err != nil {
		return r, err
	}
	return r, nil
}

// keyOf returns the resource a record belongs to.
func keyOf(r *schema.Record) resourceKey {
	return resourceKey{
		faasName:      r.FaaS.Name,
		faasVersion:   r.FaaS.Version,
		cloudProvider: r.Cloud.Provider,
		cloudPlatform: r.Cloud.Platform,
		cloudRegion:   r.Cloud.Region,
	}
}

// appendResource appends the content of the Resource of k: the extra
// attributes, then the function's own (which win over extra ones of the
// same name), then service.name, all in key order.
func (e *encoder) appendResource(b []byte, k resourceKey) []byte {
	attrs := maps.Clone(e.resource)
	if attrs == nil {
		attrs = map[string]string{}
	}
	set := func(key, v string) {
		if v != "" {
			attrs[key] = v
		}
	}
	set("faas.name", k.faasName)
	set("faas.version", k.faasVersion)
	set("cloud.provider", k.cloudProvider)
	set("cloud.platform", k.cloudPlatform)
	set("cloud.region", k.cloudRegion)
	// OpenTelemetry's precedence: OTEL_SERVICE_NAME, then service.name in
	// OTEL_RESOURCE_ATTRIBUTES; then the function's name.
	switch {
	case e.serviceName != "":
		attrs["service.name"] = e.serviceName
	case attrs["service.name"] != "":
	case k.faasName != "":
		attrs["service.name"] = k.faasName
	default:
		attrs["service.name"] = "unknown_service"
	}
	for _, key := range slices.Sorted(maps.Keys(attrs)) {
		b = appendStringAttr(b, fResourceAttributes, key, attrs[key])
	}
	return b
}

// appendLogRecord appends the content of the LogRecord of r.
func (e *encoder) appendLogRecord(b []byte, r *record, observed uint64) []byte {
	rec := &r.rec
	if t := unixNano(rec.Timestamp); t != 0 {
		b = protowire.AppendTag(b, fLogTimeUnixNano, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, t)
	}
	num, text := severity(rec)
	if num != severityUnspecified {
		b = protowire.AppendTag(b, fLogSeverityNumber, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(num))
	}
	b = appendString(b, fLogSeverityText, text)
	b = appendMessage(b, fLogBody, func(b []byte) []byte {
		return appendAnyString(b, string(r.raw))
	})
	flat := schema.Flatten(rec)
	for _, key := range sortedKeys(flat) {
		b = appendKeyValue(b, fLogAttributes, key, func(b []byte) []byte {
			return appendAnyValue(b, flat[key], e.doubles[key])
		})
	}
	traceID, sampled := traceContext(rec)
	if sampled {
		b = protowire.AppendTag(b, fLogFlags, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, traceFlagSampled)
	}
	if traceID != nil {
		b = protowire.AppendTag(b, fLogTraceID, protowire.BytesType)
		b = protowire.AppendBytes(b, traceID)
	}
	if observed != 0 {
		b = protowire.AppendTag(b, fLogObservedTimeUnixNano, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, observed)
	}
	if rec.Event.Action != "" {
		b = appendString(b, fLogEventName, ScopeName+"."+rec.Event.Action)
	}
	return b
}

// severity maps a record to an OTLP severity:
//
//   - log records (event.action "log") take their own log.level when it
//     is one of the usual names (TRACE, DEBUG, INFO, WARN or WARNING,
//     ERROR, FATAL or CRITICAL, in any case), with the level as written
//     for the text;
//   - otherwise event.outcome decides: "success" is INFO (9); "failure"
//     is ERROR (17): the audited action failed (a request refused or
//     failed, a crash, a timeout, records lost from the trail), which
//     severity filters should show; "unknown" or anything else is
//     UNSPECIFIED (0), without text.
func severity(r *schema.Record) (int32, string) {
	if r.Event.Action == schema.ActionLog && r.Log != nil && r.Log.Level != "" {
		if n := levelNumber(r.Log.Level); n != severityUnspecified {
			return n, r.Log.Level
		}
	}
	switch r.Event.Outcome {
	case schema.OutcomeSuccess:
		return severityInfo, "INFO"
	case schema.OutcomeFailure:
		return severityError, "ERROR"
	default:
		return severityUnspecified, ""
	}
}

// levelNumber maps a log level name to its severity number, or
// severityUnspecified for a name it does not know.
func levelNumber(level string) int32 {
	switch strings.ToUpper(level) {
	case "TRACE":
		return severityTrace
	case "DEBUG":
		return severityDebug
	case "INFO":
		return severityInfo
	case "WARN", "WARNING":
		return severityWarn
	case "ERROR":
		return severityError
	case "FATAL", "CRITICAL":
		return severityFatal
	default:
		return severityUnspecified
	}
}

// traceContext returns the W3C trace id of the record's X-Ray trace
// (nil when it has none or it is malformed) and whether X-Ray sampled it.
// An X-Ray id "1-5759e988-bd862e3fe1be46a994272793" is the W3C id
// 5759e988bd862e3fe1be46a994272793: its epoch seconds then its 96 random
// bits, which is how the X-Ray propagator and AWS Distro for
// OpenTelemetry convert between them, so the records join their traces.
func traceContext(r *schema.Record) ([]byte, bool) {
	if r.AWS == nil || r.AWS.XRay == nil {
		return nil, false
	}
	id := r.AWS.XRay.TraceID
	if len(id) != 35 || id[:2] != "1-" || id[10] != '-' {
		return nil, false
	}
	b, err := hex.DecodeString(id[2:10] + id[11:])
	if err != nil || !slices.ContainsFunc(b, func(c byte) bool { return c != 0 }) {
		return nil, false // W3C forbids the all-zero id
	}
	return b, r.AWS.XRay.Sampled != nil && *r.AWS.XRay.Sampled
}

// unixNano returns t in nanoseconds since the Unix epoch, or 0 (OTLP's
// "unknown") for the zero time and times UnixNano cannot represent or
// that come before 1970.
func unixNano(t time.Time) uint64 {
	if t.IsZero() || t.Year() < 1970 || t.Year() > 2261 {
		return 0
	}
	return uint64(t.UnixNano())
}

// floatFields adds to out the dotted JSON names of the float fields of the
// struct type t and of the structs it holds (as schema.Flatten names
// them).
func floatFields(t reflect.Type, prefix string, out map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeFor[time.Time]() {
		return
	}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			if f.Anonymous {
				floatFields(f.Type, prefix, out) // promoted into the parent
				continue
			}
			name = f.Name
		}
		if prefix != "" {
			name = prefix + "." + name
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch ft.Kind() {
		case reflect.Float32, reflect.Float64:
			out[name] = true
		case reflect.Struct:
			floatFields(ft, name, out)
		}
	}
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
