package otlp

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/audittrail/audittrail/schema"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenNow is the observed time of the golden bodies.
var goldenNow = time.Date(2026, 12, 1, 7, 20, 0, 0, time.UTC)

// goldenConfig is the configuration the golden bodies are encoded with.
func goldenConfig() Config {
	cfg := DefaultConfig()
	cfg.ScopeVersion = "v1.2.3"
	cfg.ResourceAttributes = map[string]string{"deployment.environment.name": "test", "faas.name": "overridden by the records"}
	return cfg
}

// loadBatch reads a testdata case: a JSON array of audit records, each kept
// byte for byte as it is in the file.
func loadBatch(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	batch := make([][]byte, len(raws))
	for i, r := range raws {
		batch[i] = r
	}
	return batch
}

// decodeRequest decodes a body with the generated OTLP types. It takes
// the body for a LogsData, whose wire form is that of an
// ExportLogsServiceRequest (both are "repeated ResourceLogs resource_logs
// = 1"): the package of ExportLogsServiceRequest imports gRPC, which the
// module would then have to require.
func decodeRequest(t testing.TB, body []byte) *logspb.LogsData {
	t.Helper()
	var req logspb.LogsData
	if err := proto.Unmarshal(body, &req); err != nil {
		t.Fatalf("the body is not an ExportLogsServiceRequest: %v", err)
	}
	return &req
}

// readable renders a request as indented OTLP/JSON, stable across protobuf
// versions (protojson's own spacing is deliberately random).
func readable(t testing.TB, req proto.Message) []byte {
	t.Helper()
	js, err := protojson.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var compact, out bytes.Buffer
	if err := json.Compact(&compact, js); err != nil {
		t.Fatal(err)
	}
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// TestEncodeGolden compares each case's body with testdata/<case>.golden
// (the exact request body, before compression) and, for review,
// testdata/<case>.golden.json (the same request as OTLP/JSON). Run with
// -update to rewrite both.
func TestEncodeGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, in := range cases {
		if strings.HasSuffix(in, ".golden.json") {
			continue
		}
		n++
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			batch := loadBatch(t, in)
			body, bad, err := newEncoder(goldenConfig()).encode(t.Context(), nil, batch, goldenNow)
			if err != nil || len(bad) != 0 {
				t.Fatalf("encode: bad %v, err %v", bad, err)
			}
			view := readable(t, decodeRequest(t, body))
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, body, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden+".json", view, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(body, want) {
				t.Errorf("body differs from %s (%d bytes, want %d); run with -update and review %s.json", golden, len(body), len(want), golden)
			}
			wantView, err := os.ReadFile(golden + ".json")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(view, wantView) {
				t.Errorf("decoded body differs from %s.json", golden)
			}
		})
	}
	if n == 0 {
		t.Fatal("no cases in testdata")
	}
}

// TestEncodeIsWhatProtoMarshalGives checks the hand-written encoding
// against the official one: decoded with the generated types and marshalled
// again, every body gives the same bytes.
func TestEncodeIsWhatProtoMarshalGives(t *testing.T) {
	for _, name := range []string{"demo_environment", "telemetry_mix", "two_resources"} {
		t.Run(name, func(t *testing.T) {
			batch := loadBatch(t, filepath.Join("testdata", name+".json"))
			body, _, err := newEncoder(goldenConfig()).encode(t.Context(), nil, batch, goldenNow)
			if err != nil {
				t.Fatal(err)
			}
			again, err := proto.MarshalOptions{Deterministic: true}.Marshal(decodeRequest(t, body))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, again) {
				t.Errorf("proto.Marshal gives %d bytes, the encoder %d", len(again), len(body))
			}
		})
	}
}

// TestEncodeMapsEveryField checks each log record against the audit record
// it came from.
func TestEncodeMapsEveryField(t *testing.T) {
	batch := loadBatch(t, filepath.Join("testdata", "telemetry_mix.json"))
	batch = append(batch, loadBatch(t, filepath.Join("testdata", "demo_environment.json"))...)
	body, bad, err := newEncoder(goldenConfig()).encode(t.Context(), nil, batch, goldenNow)
	if err != nil || bad != nil {
		t.Fatalf("bad %v, err %v", bad, err)
	}
	req := decodeRequest(t, body)
	var logs []*logspb.LogRecord
	for _, rl := range req.ResourceLogs {
		res := attrMap(rl.Resource.Attributes)
		for k, want := range map[string]any{"service.name": "orders-api", "faas.name": "orders-api", "faas.version": "$LATEST",
			"cloud.provider": "aws", "cloud.platform": "aws_lambda", "cloud.region": "us-east-1", "deployment.environment.name": "test"} {
			if res[k] != want {
				t.Errorf("resource %s = %v, want %v", k, res[k], want)
			}
		}
		if len(rl.ScopeLogs) != 1 || rl.ScopeLogs[0].Scope.Name != "audittrail" || rl.ScopeLogs[0].Scope.Version != "v1.2.3" {
			t.Fatalf("scope logs %v", rl.ScopeLogs)
		}
		logs = append(logs, rl.ScopeLogs[0].LogRecords...)
	}
	if len(req.ResourceLogs) != 1 || len(logs) != len(batch) {
		t.Fatalf("%d resources, %d log records for %d records", len(req.ResourceLogs), len(logs), len(batch))
	}
	sawTrace, sawLevel, sawDouble := false, false, false
	for i, lr := range logs {
		var rec schema.Record
		if err := json.Unmarshal(batch[i], &rec); err != nil {
			t.Fatal(err)
		}
		if got := lr.Body.GetStringValue(); got != string(batch[i]) {
			t.Errorf("record %d: body is not the record as sent:\n%s\n%s", i, got, batch[i])
		}
		if want := uint64(rec.Timestamp.UnixNano()); lr.TimeUnixNano != want {
			t.Errorf("record %d: time %d, want %d", i, lr.TimeUnixNano, want)
		}
		if lr.ObservedTimeUnixNano != uint64(goldenNow.UnixNano()) {
			t.Errorf("record %d: observed time %d", i, lr.ObservedTimeUnixNano)
		}
		if lr.EventName != "audittrail."+rec.Event.Action {
			t.Errorf("record %d: event name %q", i, lr.EventName)
		}
		num, text := severity(&rec)
		if int32(lr.SeverityNumber) != num || lr.SeverityText != text {
			t.Errorf("record %d: severity %v %q, want %d %q", i, lr.SeverityNumber, lr.SeverityText, num, text)
		}
		if rec.Log != nil && rec.Log.Level == "ERROR" {
			sawLevel = true
			if lr.SeverityNumber != logspb.SeverityNumber_SEVERITY_NUMBER_ERROR {
				t.Errorf("record %d: log level ERROR gave %v", i, lr.SeverityNumber)
			}
		}

		// Attributes: schema.Flatten's, with their types.
		got := attrMap(lr.Attributes)
		flat := schema.Flatten(&rec)
		if len(got) != len(flat) || len(lr.Attributes) != len(flat) {
			t.Errorf("record %d: %d attributes, Flatten gives %d", i, len(lr.Attributes), len(flat))
		}
		for k, v := range flat {
			want := v
			if f, ok := v.(float64); ok && f == math.Trunc(f) && !isFloatField(k) {
				want = int64(f)
			}
			if !equalValue(got[k], want) {
				t.Errorf("record %d: attribute %s = %#v, want %#v", i, k, got[k], want)
			}
		}
		if d, ok := got["aws.lambda.duration_ms"]; ok {
			if _, isDouble := d.(float64); !isDouble {
				t.Errorf("record %d: duration_ms is %T, want a double", i, d)
			}
			sawDouble = true
		}

		if rec.AWS != nil && rec.AWS.XRay != nil {
			sawTrace = true
			want := strings.ReplaceAll(strings.TrimPrefix(rec.AWS.XRay.TraceID, "1-"), "-", "")
			if hex.EncodeToString(lr.TraceId) != want {
				t.Errorf("record %d: trace id %x for %s", i, lr.TraceId, rec.AWS.XRay.TraceID)
			}
			sampled := rec.AWS.XRay.Sampled != nil && *rec.AWS.XRay.Sampled
			if (lr.Flags&traceFlagSampled != 0) != sampled {
				t.Errorf("record %d: flags %x, sampled %v", i, lr.Flags, sampled)
			}
		} else if lr.TraceId != nil || lr.Flags != 0 {
			t.Errorf("record %d: trace id %x flags %x without X-Ray", i, lr.TraceId, lr.Flags)
		}
	}
	if !sawTrace || !sawLevel || !sawDouble {
		t.Errorf("the cases lack a trace (%v), an ERROR log (%v) or a duration (%v)", sawTrace, sawLevel, sawDouble)
	}
}

// isFloatField lists the float fields of schema.Record, written out to
// check floatFields.
func isFloatField(key string) bool {
	switch key {
	case "aws.lambda.duration_ms", "aws.lambda.init_duration_ms", "aws.lambda.restore_duration_ms":
		return true
	}
	return false
}

func TestFloatFields(t *testing.T) {
	got := newEncoder(Config{}).doubles
	for _, k := range []string{"aws.lambda.duration_ms", "aws.lambda.init_duration_ms", "aws.lambda.restore_duration_ms"} {
		if !got[k] {
			t.Errorf("%s is not a double", k)
		}
	}
	for k := range got {
		if !isFloatField(k) {
			t.Errorf("%s taken for a double; if schema.Record has a new float field, add it to isFloatField", k)
		}
	}
}

func TestEncodeTwoResources(t *testing.T) {
	batch := loadBatch(t, filepath.Join("testdata", "two_resources.json"))
	body, _, err := newEncoder(Config{ServiceName: "audit"}).encode(t.Context(), nil, batch, goldenNow)
	if err != nil {
		t.Fatal(err)
	}
	req := decodeRequest(t, body)
	if len(req.ResourceLogs) != 2 {
		t.Fatalf("%d resources, want 2", len(req.ResourceLogs))
	}
	for i, want := range []struct{ version, region string }{{"$LATEST", "us-east-1"}, {"7", "eu-west-1"}} {
		res := attrMap(req.ResourceLogs[i].Resource.Attributes)
		if res["faas.version"] != want.version || res["cloud.region"] != want.region || res["service.name"] != "audit" {
			t.Errorf("resource %d: %v", i, res)
		}
		if n := len(req.ResourceLogs[i].ScopeLogs[0].LogRecords); n != 2 {
			t.Errorf("resource %d: %d records, want 2", i, n)
		}
	}
}

func TestEncodeLeavesOutWhatIsNotARecord(t *testing.T) {
	good := loadBatch(t, filepath.Join("testdata", "demo_environment.json"))[0]
	batch := [][]byte{
		[]byte(`not json`),
		good,
		[]byte(`null`),
		[]byte(`{"@timestamp":"yesterday"}`),
		[]byte("{\"event\":{\"id\":\"\xff\"}}"), // invalid UTF-8: protobuf strings cannot carry it
		[]byte(`{"audit":{"seq":"7"}}`),         // not the record's shape
		[]byte(`{`),
		nil,
		good,
	}
	body, bad, err := newEncoder(Config{}).encode(t.Context(), nil, batch, goldenNow)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 2, 3, 4, 5, 6, 7}; !slices.Equal(bad, want) {
		t.Errorf("bad %v, want %v", bad, want)
	}
	if n := len(decodeRequest(t, body).ResourceLogs[0].ScopeLogs[0].LogRecords); n != 2 {
		t.Errorf("%d log records, want 2", n)
	}
}

func TestEncodeHonoursContext(t *testing.T) {
	batch := loadBatch(t, filepath.Join("testdata", "demo_environment.json"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	dst := []byte("kept")
	got, bad, err := newEncoder(Config{}).encode(ctx, dst, batch, goldenNow)
	if err == nil || string(got) != "kept" || bad != nil {
		t.Errorf("encode with a cancelled context: %q, %v, %v", got, bad, err)
	}
}

func TestSeverity(t *testing.T) {
	for _, tt := range []struct {
		outcome, action, level string
		num                    int32
		text                   string
	}{
		{"success", "invocation", "", 9, "INFO"},
		{"failure", "invocation", "", 17, "ERROR"},
		{"failure", "coverage_gap", "", 17, "ERROR"},
		{"unknown", "shutdown", "", 0, ""},
		{"", "init", "", 0, ""},
		{"unknown", "log", "warning", 13, "warning"},
		{"unknown", "log", "TRACE", 1, "TRACE"},
		{"unknown", "log", "Debug", 5, "Debug"},
		{"unknown", "log", "FATAL", 21, "FATAL"},
		{"unknown", "log", "critical", 21, "critical"},
		{"unknown", "log", "NOTICE", 0, ""},           // unknown level: outcome decides
		{"success", "log", "verbose", 9, "INFO"},      // same
		{"success", "invocation", "ERROR", 9, "INFO"}, // a level only counts on log records
	} {
		r := schema.Record{Event: schema.Event{Outcome: tt.outcome, Action: tt.action}}
		if tt.level != "" {
			r.Log = &schema.Log{Level: tt.level}
		}
		if num, text := severity(&r); num != tt.num || text != tt.text {
			t.Errorf("%s/%s/%s: %d %q, want %d %q", tt.action, tt.outcome, tt.level, num, text, tt.num, tt.text)
		}
	}
}

func TestTraceContext(t *testing.T) {
	yes, no := true, false
	for _, tt := range []struct {
		id      string
		sampled *bool
		want    string
		flag    bool
	}{
		{"1-6b0e749f-145327fa1b15be25b8b10cc8", &yes, "6b0e749f145327fa1b15be25b8b10cc8", true},
		{"1-6b0e749f-145327fa1b15be25b8b10cc8", &no, "6b0e749f145327fa1b15be25b8b10cc8", false},
		{"1-6b0e749f-145327fa1b15be25b8b10cc8", nil, "6b0e749f145327fa1b15be25b8b10cc8", false},
		{"1-00000000-000000000000000000000000", &yes, "", false}, // all zero: invalid in W3C
		{"2-6b0e749f-145327fa1b15be25b8b10cc8", &yes, "", false},
		{"1-6b0e749f-145327fa1b15be25b8b10cc", &yes, "", false},
		{"1-6b0e749fx145327fa1b15be25b8b10cc8", &yes, "", false},
		{"1-6b0e749g-145327fa1b15be25b8b10cc8", &yes, "", false},
		{"", &yes, "", false},
	} {
		r := schema.Record{AWS: &schema.AWS{XRay: &schema.XRay{TraceID: tt.id, Sampled: tt.sampled}}}
		id, sampled := traceContext(&r)
		if hex.EncodeToString(id) != tt.want || sampled != tt.flag {
			t.Errorf("%q: %x %v, want %s %v", tt.id, id, sampled, tt.want, tt.flag)
		}
	}
}

func TestUnixNano(t *testing.T) {
	for _, tt := range []struct {
		t    time.Time
		want uint64
	}{
		{time.Time{}, 0},
		{time.Unix(0, 1), 1},
		{time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), 0},
		{time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC), 0},
		{time.Date(2026, 12, 1, 7, 17, 51, 337000000, time.UTC), 1796109471337000000},
	} {
		if got := unixNano(tt.t); got != tt.want {
			t.Errorf("%v: %d, want %d", tt.t, got, tt.want)
		}
	}
}

// attrMap returns attributes as plain Go values: string, bool, int64,
// float64, []any, map[string]any.
func attrMap(kvs []*commonpb.KeyValue) map[string]any {
	m := map[string]any{}
	for _, kv := range kvs {
		m[kv.Key] = anyValue(kv.Value)
	}
	return m
}

func anyValue(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonpb.AnyValue_ArrayValue:
		out := []any{}
		for _, e := range x.ArrayValue.Values {
			out = append(out, anyValue(e))
		}
		return out
	case *commonpb.AnyValue_KvlistValue:
		return attrMap(x.KvlistValue.Values)
	default:
		return nil
	}
}

// equalValue compares an attribute with what Flatten gave (ints already
// converted), through JSON so that slices and maps compare by content.
func equalValue(got, want any) bool {
	if _, ok := got.(int64); ok != isInt64(want) {
		return false
	}
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	return bytes.Equal(a, b)
}

func isInt64(v any) bool { _, ok := v.(int64); return ok }

// TestAppendAnyValue checks values schema.Flatten does not produce today
// (objects inside arrays, nulls, big and negative numbers) against the
// generated AnyValue.
func TestAppendAnyValue(t *testing.T) {
	var v any
	if err := json.Unmarshal([]byte(`[1, -2, 2.5, 1e300, -9223372036854775808, 9223372036854775808, "", "x", true, false, null, {"k": "v", "a": [{}]}, []]`), &v); err != nil {
		t.Fatal(err)
	}
	b := appendAnyValue(nil, v, false)
	var got commonpb.AnyValue
	if err := proto.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	again, _ := proto.MarshalOptions{Deterministic: true}.Marshal(&got)
	if !bytes.Equal(again, b) {
		t.Errorf("proto.Marshal gives %x, the encoder %x", again, b)
	}
	want := []any{int64(1), int64(-2), 2.5, 1e300, int64(math.MinInt64), 9223372036854775808.0, "", "x", true, false, nil,
		map[string]any{"a": []any{map[string]any{}}, "k": "v"}, []any{}}
	if g := anyValue(&got); !equalValue(g, want) || !equalTypes(g, want) {
		t.Errorf("decoded %#v,\nwant %#v", g, want)
	}
	if b := appendAnyValue(nil, 3.0, true); b[0] != byte(fAnyDouble<<3|1) {
		t.Errorf("3.0 as a double: %x", b)
	}
}

// equalTypes compares the Go types of two decoded lists, element by
// element.
func equalTypes(a, b any) bool {
	la, oka := a.([]any)
	lb, okb := b.([]any)
	if !oka || !okb || len(la) != len(lb) {
		return false
	}
	for i := range la {
		if fmt.Sprintf("%T", la[i]) != fmt.Sprintf("%T", lb[i]) {
			return false
		}
	}
	return true
}

func TestFloatFieldsWalk(t *testing.T) {
	type Inner struct {
		F float32 `json:"f"`
		I int     `json:"i"`
	}
	type Embedded struct {
		E float64 `json:"e,omitempty"`
	}
	type T struct {
		Embedded
		P      *float64  `json:"p"`
		Skip   float64   `json:"-"`
		hidden float64   // unexported: not encoded
		NoTag  float64   // encoded by its Go name
		In     *Inner    `json:"in"`
		When   time.Time `json:"when"`
		List   []float64 `json:"list"`
	}
	_ = T{}.hidden
	got := map[string]bool{}
	floatFields(reflect.TypeFor[T](), "", got)
	want := map[string]bool{"e": true, "p": true, "NoTag": true, "in.f": true}
	if !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
