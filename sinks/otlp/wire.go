package otlp

// The OTLP protobuf messages this sink writes and reads, encoded by hand
// with protowire. Field numbers are those of opentelemetry-proto v1.x
// (opentelemetry/proto/{collector/logs,logs,common,resource}/v1/*.proto,
// and google/rpc/status.proto); the tests decode every body with the
// generated types of go.opentelemetry.io/proto/otlp and check that it is
// byte for byte what proto.Marshal gives for the same message.
//
// Fields are written in field-number order and proto3 defaults are left
// out, except inside a oneof (AnyValue), where the chosen field is always
// written: the same bytes the official marshaller produces.

import (
	"errors"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers, by message.
const (
	// ExportLogsServiceRequest, and LogsData, which has the same wire form.
	fRequestResourceLogs protowire.Number = 1

	// ResourceLogs.
	fResourceLogsResource  protowire.Number = 1
	fResourceLogsScopeLogs protowire.Number = 2

	// Resource.
	fResourceAttributes protowire.Number = 1

	// ScopeLogs.
	fScopeLogsScope      protowire.Number = 1
	fScopeLogsLogRecords protowire.Number = 2

	// InstrumentationScope.
	fScopeName    protowire.Number = 1
	fScopeVersion protowire.Number = 2

	// LogRecord.
	fLogTimeUnixNano         protowire.Number = 1  // fixed64
	fLogSeverityNumber       protowire.Number = 2  // enum
	fLogSeverityText         protowire.Number = 3  // string
	fLogBody                 protowire.Number = 5  // AnyValue
	fLogAttributes           protowire.Number = 6  // repeated KeyValue
	fLogFlags                protowire.Number = 8  // fixed32
	fLogTraceID              protowire.Number = 9  // bytes, 16
	fLogObservedTimeUnixNano protowire.Number = 11 // fixed64
	fLogEventName            protowire.Number = 12 // string

	// KeyValue.
	fKeyValueKey   protowire.Number = 1
	fKeyValueValue protowire.Number = 2

	// AnyValue (a oneof).
	fAnyString protowire.Number = 1
	fAnyBool   protowire.Number = 2
	fAnyInt    protowire.Number = 3
	fAnyDouble protowire.Number = 4
	fAnyArray  protowire.Number = 5
	fAnyKvList protowire.Number = 6

	// ArrayValue and KeyValueList.
	fListValues protowire.Number = 1

	// ExportLogsServiceResponse.
	fResponsePartialSuccess protowire.Number = 1
	// ExportLogsPartialSuccess.
	fPartialRejected     protowire.Number = 1 // int64
	fPartialErrorMessage protowire.Number = 2 // string

	// google.rpc.Status.
	fStatusCode    protowire.Number = 1 // int32
	fStatusMessage protowire.Number = 2 // string
)

// appendMessage appends an embedded message field: its tag, its length,
// and the bytes that fill appends. The length is not known until fill has
// run, so one byte is reserved for it and the content is moved along if
// the length needs more (messages of 128 bytes or more).
func appendMessage(b []byte, num protowire.Number, fill func([]byte) []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	at := len(b)
	b = append(b, 0)
	b = fill(b)
	n := len(b) - at - 1
	if k := protowire.SizeVarint(uint64(n)); k > 1 {
		b = append(b, make([]byte, k-1)...)
		copy(b[at+k:], b[at+1:at+1+n])
	}
	protowire.AppendVarint(b[:at], uint64(n))
	return b
}

// appendString appends a string field, unless s is empty (the proto3
// default).
func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendKeyValue appends a KeyValue field whose value is appended by
// value (an AnyValue's content).
func appendKeyValue(b []byte, num protowire.Number, key string, value func([]byte) []byte) []byte {
	return appendMessage(b, num, func(b []byte) []byte {
		b = appendString(b, fKeyValueKey, key)
		return appendMessage(b, fKeyValueValue, value)
	})
}

// appendStringAttr appends a KeyValue field with a string value.
func appendStringAttr(b []byte, num protowire.Number, key, value string) []byte {
	return appendKeyValue(b, num, key, func(b []byte) []byte {
		return appendAnyString(b, value)
	})
}

// appendAnyString appends the content of an AnyValue holding s; the oneof
// field is written even for "".
func appendAnyString(b []byte, s string) []byte {
	b = protowire.AppendTag(b, fAnyString, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendAnyValue appends the content of an AnyValue holding v, a value as
// encoding/json decodes it into an any: string, bool, float64, []any,
// map[string]any or nil (an empty AnyValue). A float64 becomes an int
// value when it is integral and double is false, a double value otherwise.
// Array elements and object members decide for themselves.
func appendAnyValue(b []byte, v any, double bool) []byte {
	switch v := v.(type) {
	case string:
		return appendAnyString(b, v)
	case bool:
		b = protowire.AppendTag(b, fAnyBool, protowire.VarintType)
		return protowire.AppendVarint(b, protowire.EncodeBool(v))
	case float64:
		if !double && v == math.Trunc(v) && v >= -(1<<63) && v < 1<<63 {
			b = protowire.AppendTag(b, fAnyInt, protowire.VarintType)
			return protowire.AppendVarint(b, uint64(int64(v)))
		}
		b = protowire.AppendTag(b, fAnyDouble, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, math.Float64bits(v))
	case []any:
		return appendMessage(b, fAnyArray, func(b []byte) []byte {
			for _, e := range v {
				b = appendMessage(b, fListValues, func(b []byte) []byte {
					return appendAnyValue(b, e, false)
				})
			}
			return b
		})
	case map[string]any:
		return appendMessage(b, fAnyKvList, func(b []byte) []byte {
			for _, k := range sortedKeys(v) {
				b = appendKeyValue(b, fListValues, k, func(b []byte) []byte {
					return appendAnyValue(b, v[k], false)
				})
			}
			return b
		})
	default: // nil: an AnyValue with nothing set
		return b
	}
}

// errMalformed reports a protobuf message that does not parse.
var errMalformed = errors.New("malformed protobuf")

// decodePartialSuccess decodes an ExportLogsServiceResponse and returns its
// partial_success fields (zero when absent).
func decodePartialSuccess(b []byte) (rejected int64, message string, err error) {
	err = eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		if num != fResponsePartialSuccess || typ != protowire.BytesType {
			return nil
		}
		return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
			switch {
			case num == fPartialRejected && typ == protowire.VarintType:
				rejected = int64(x)
			case num == fPartialErrorMessage && typ == protowire.BytesType:
				message = string(v)
			}
			return nil
		})
	})
	return rejected, message, err
}

// decodeStatus decodes a google.rpc.Status and returns its code and
// message; details are skipped.
func decodeStatus(b []byte) (code int32, message string, err error) {
	err = eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == fStatusCode && typ == protowire.VarintType:
			code = int32(x)
		case num == fStatusMessage && typ == protowire.BytesType:
			message = string(v)
		}
		return nil
	})
	return code, message, err
}

// eachField calls fn with every field of the message in b, in order: for a
// varint field x is its value; for a length-delimited field v is its
// content; fixed-size fields give their bits in x. Groups are skipped. A
// later occurrence of a field overrides an earlier one, as in protobuf, if
// fn keeps the last value.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errMalformed
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x32 uint32
			x32, n = protowire.ConsumeFixed32(b)
			x = uint64(x32)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return errMalformed
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}
