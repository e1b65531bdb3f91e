package peers

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseExportedLogs(t *testing.T) {
	const line = `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},` +
		`"scopeLogs":[{"scope":{"name":"sc"},"logRecords":[` +
		`{"timeUnixNano":"1763800000500000000","observedTimeUnixNano":"1763800001000000000","severityNumber":9,"severityText":"INFO",` +
		`"body":{"kvlistValue":{"values":[{"key":"a","value":{"intValue":"7"}},{"key":"b","value":{"arrayValue":{"values":[{"boolValue":true},{"doubleValue":1.5}]}}}]}},` +
		`"attributes":[{"key":"k","value":{"stringValue":"v"}},{"key":"raw","value":{"bytesValue":"aGk="}},{"key":"none","value":{}}],` +
		`"eventName":"ev","traceId":"0102","spanId":"03"},` +
		`{"body":{"stringValue":"second"}}]}]}]}`
	first := LogRecord{
		Receiver:       ReceiverOTLP,
		Resource:       map[string]any{"service.name": "svc"},
		Scope:          "sc",
		Time:           time.Unix(1763800000, 500000000).UTC(),
		ObservedTime:   time.Unix(1763800001, 0).UTC(),
		SeverityNumber: 9,
		SeverityText:   "INFO",
		Body:           map[string]any{"a": int64(7), "b": []any{true, 1.5}},
		Attributes:     map[string]any{"k": "v", "raw": []byte("hi"), "none": nil},
		EventName:      "ev",
		TraceID:        "0102",
		SpanID:         "03",
	}
	second := LogRecord{
		Receiver:   ReceiverOTLP,
		Resource:   map[string]any{"service.name": "svc"},
		Scope:      "sc",
		Body:       "second",
		Attributes: map[string]any{},
	}
	tests := []struct {
		name    string
		in      string
		want    []LogRecord
		wantErr string
	}{
		{name: "empty", in: ""},
		{name: "two records", in: line + "\n", want: []LogRecord{first, second}},
		{name: "blank lines", in: "\n" + line + "\n\n", want: []LogRecord{first, second}},
		{name: "partial last line left out", in: line + "\n" + line[:40], want: []LogRecord{first, second}},
		{name: "no resourceLogs", in: "{}\n"},
		{name: "not JSON", in: "nope\n", wantErr: "line 1: not an OTLP/JSON"},
		{name: "bad integer", in: `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"x"}]}]}]}` + "\n", wantErr: "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseExportedLogs(strings.NewReader(tt.in), ReceiverOTLP)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestOTLPNumbers(t *testing.T) {
	tests := []struct {
		in      string
		wantInt int64
		wantErr bool
	}{
		{in: `12`, wantInt: 12},
		{in: `"12"`, wantInt: 12},
		{in: `"-3"`, wantInt: -3},
		{in: `null`, wantInt: 0},
		{in: `"18446744073709551615"`, wantInt: -1}, // uint64 max wraps, as OTLP fixed64 in int64
		{in: `1.5`, wantErr: true},
		{in: `"x"`, wantErr: true},
	}
	for _, tt := range tests {
		var n otlpInt
		err := n.UnmarshalJSON([]byte(tt.in))
		if (err != nil) != tt.wantErr || (!tt.wantErr && int64(n) != tt.wantInt) {
			t.Errorf("otlpInt(%s) = %d, %v; want %d, error %t", tt.in, n, err, tt.wantInt, tt.wantErr)
		}
	}
	for in, want := range map[string]float64{`1.5`: 1.5, `"2"`: 2, `"Infinity"`: math.Inf(1), `"-Infinity"`: math.Inf(-1)} {
		var f otlpFloat
		if err := f.UnmarshalJSON([]byte(in)); err != nil || float64(f) != want {
			t.Errorf("otlpFloat(%s) = %v, %v; want %v", in, f, err, want)
		}
	}
	var f otlpFloat
	if err := f.UnmarshalJSON([]byte(`"NaN"`)); err != nil || !math.IsNaN(float64(f)) {
		t.Errorf(`otlpFloat("NaN") = %v, %v; want NaN`, f, err)
	}
	if err := f.UnmarshalJSON([]byte(`true`)); err == nil {
		t.Errorf("otlpFloat(true): no error")
	}
}

func FuzzParseExportedLogs(f *testing.F) {
	f.Add(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"},"timeUnixNano":"1"}]}]}]}` + "\n")
	f.Add(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"arrayValue":{"values":[{"kvlistValue":{"values":[{"key":"k","value":{"intValue":9}}]}}]}}}]}]}]}` + "\n")
	f.Add("{}\n{\n")
	f.Fuzz(func(t *testing.T, in string) {
		recs, err := parseExportedLogs(strings.NewReader(in), ReceiverHEC)
		if err != nil {
			if recs != nil {
				t.Fatalf("records %v returned with error %v", recs, err)
			}
			return
		}
		for _, r := range recs {
			if r.Receiver != ReceiverHEC || r.Resource == nil || r.Attributes == nil {
				t.Fatalf("record not filled in: %#v", r)
			}
		}
	})
}
