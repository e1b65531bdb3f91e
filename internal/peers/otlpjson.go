package peers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// LogRecord is one log record as the collector exported it, flattened
// together with its resource and scope. Attribute and body values are
// string, bool, int64, float64, []byte, []any or map[string]any.
type LogRecord struct {
	Receiver       string         // ReceiverOTLP or ReceiverHEC
	Resource       map[string]any // resource attributes
	Scope          string         // instrumentation scope name
	Time           time.Time      // zero when the record has no time
	ObservedTime   time.Time      // zero when unset
	SeverityNumber int            // OTLP SeverityNumber (9 = INFO)
	SeverityText   string
	Body           any
	Attributes     map[string]any
	EventName      string
	TraceID        string // hex, empty when unset
	SpanID         string // hex, empty when unset
}

// The OTLP/JSON shape of an ExportLogsServiceRequest, as far as LogRecord
// needs it. Unknown fields are ignored.
type (
	otlpExport struct {
		ResourceLogs []struct {
			Resource struct {
				Attributes []otlpKeyValue `json:"attributes"`
			} `json:"resource"`
			ScopeLogs []struct {
				Scope struct {
					Name string `json:"name"`
				} `json:"scope"`
				LogRecords []otlpLogRecord `json:"logRecords"`
			} `json:"scopeLogs"`
		} `json:"resourceLogs"`
	}
	otlpLogRecord struct {
		TimeUnixNano         otlpInt        `json:"timeUnixNano"`
		ObservedTimeUnixNano otlpInt        `json:"observedTimeUnixNano"`
		SeverityNumber       otlpInt        `json:"severityNumber"`
		SeverityText         string         `json:"severityText"`
		Body                 otlpAnyValue   `json:"body"`
		Attributes           []otlpKeyValue `json:"attributes"`
		EventName            string         `json:"eventName"`
		TraceID              string         `json:"traceId"`
		SpanID               string         `json:"spanId"`
	}
	otlpKeyValue struct {
		Key   string       `json:"key"`
		Value otlpAnyValue `json:"value"`
	}
	otlpAnyValue struct {
		StringValue *string    `json:"stringValue"`
		BoolValue   *bool      `json:"boolValue"`
		IntValue    *otlpInt   `json:"intValue"`
		DoubleValue *otlpFloat `json:"doubleValue"`
		BytesValue  []byte     `json:"bytesValue"` // base64 in JSON
		ArrayValue  *struct {
			Values []otlpAnyValue `json:"values"`
		} `json:"arrayValue"`
		KvlistValue *struct {
			Values []otlpKeyValue `json:"values"`
		} `json:"kvlistValue"`
	}
)

// otlpInt is a 64-bit integer that OTLP/JSON writes as a number or, for
// 64-bit fields, as a decimal string.
type otlpInt int64

// UnmarshalJSON accepts 12 and "12".
func (n *otlpInt) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "null" {
		return nil
	}
	// Unsigned first: times in nanoseconds are uint64 in OTLP.
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		*n = otlpInt(u)
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("OTLP integer %s: %w", b, err)
	}
	*n = otlpInt(v)
	return nil
}

// otlpFloat is a double that OTLP/JSON writes as a number or as a string
// ("NaN", "Infinity", "-Infinity").
type otlpFloat float64

// UnmarshalJSON accepts 1.5, "1.5", "NaN", "Infinity" and "-Infinity".
func (f *otlpFloat) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "null" {
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("OTLP double %s: %w", b, err)
	}
	*f = otlpFloat(v)
	return nil
}

// value converts an AnyValue to a plain Go value (nil when empty).
func (v otlpAnyValue) value() any {
	switch {
	case v.StringValue != nil:
		return *v.StringValue
	case v.BoolValue != nil:
		return *v.BoolValue
	case v.IntValue != nil:
		return int64(*v.IntValue)
	case v.DoubleValue != nil:
		return float64(*v.DoubleValue)
	case v.BytesValue != nil:
		return v.BytesValue
	case v.ArrayValue != nil:
		out := make([]any, len(v.ArrayValue.Values))
		for i, e := range v.ArrayValue.Values {
			out[i] = e.value()
		}
		return out
	case v.KvlistValue != nil:
		return attributes(v.KvlistValue.Values)
	}
	return nil
}

// attributes converts key-value pairs to a map (a later duplicate key wins).
func attributes(kvs []otlpKeyValue) map[string]any {
	out := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		out[kv.Key] = kv.Value.value()
	}
	return out
}

// unixNano converts OTLP nanoseconds to a time, zero for 0 ("unset").
func unixNano(n otlpInt) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(n)).UTC()
}

// parseExportedLogs reads the file exporter's output (one
// ExportLogsServiceRequest as JSON per line) and flattens it into records
// tagged with receiver. A last line without its newline is still being
// written and is left out.
func parseExportedLogs(r io.Reader, receiver string) ([]LogRecord, error) {
	var recs []LogRecord
	br := bufio.NewReader(r)
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return recs, nil // a partial last line, or none
		}
		if err != nil {
			return nil, fmt.Errorf("read line %d: %w", lineNo, err)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var req otlpExport
		if err := json.Unmarshal(line, &req); err != nil {
			return nil, fmt.Errorf("line %d: not an OTLP/JSON ExportLogsServiceRequest: %w", lineNo, err)
		}
		for _, rl := range req.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					// Each record gets its own Resource map.
					recs = append(recs, LogRecord{
						Receiver:       receiver,
						Resource:       attributes(rl.Resource.Attributes),
						Scope:          sl.Scope.Name,
						Time:           unixNano(lr.TimeUnixNano),
						ObservedTime:   unixNano(lr.ObservedTimeUnixNano),
						SeverityNumber: int(lr.SeverityNumber),
						SeverityText:   lr.SeverityText,
						Body:           lr.Body.value(),
						Attributes:     attributes(lr.Attributes),
						EventName:      lr.EventName,
						TraceID:        lr.TraceID,
						SpanID:         lr.SpanID,
					})
				}
			}
		}
	}
}
