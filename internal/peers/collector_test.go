package peers

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// otlpLogJSON is a minimal OTLP/JSON ExportLogsServiceRequest with one record.
const otlpLogJSON = `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"audittrail"}}]},` +
	`"scopeLogs":[{"scope":{"name":"peers-test"},"logRecords":[{"timeUnixNano":"1763800000000000000","severityNumber":9,"severityText":"INFO",` +
	`"body":{"stringValue":"hello otlp"},"attributes":[{"key":"audit.request_id","value":{"stringValue":"req-1"}},{"key":"n","value":{"intValue":"42"}}]}]}]}]}`

func TestCollectorOTLPHTTP(t *testing.T) {
	t.Parallel()
	col := Collector(t, CollectorOptions{})
	client := &http.Client{}

	if got := col.Logs(t); len(got) != 0 {
		t.Fatalf("Logs before any request = %v, want none", got)
	}
	status, answer := post(t, client, col.OTLPHTTPURL+"/v1/logs", "application/json", nil, `{"resourceLogs":[`)
	if status != http.StatusBadRequest {
		t.Fatalf("malformed OTLP/JSON: %d %s, want 400", status, answer)
	}
	status, answer = post(t, client, col.OTLPHTTPURL+"/v1/logs", "application/json", nil, otlpLogJSON)
	if status != http.StatusOK {
		t.Fatalf("OTLP/JSON: %d %s, want 200", status, answer)
	}

	want := []LogRecord{{
		Receiver:       ReceiverOTLP,
		Resource:       map[string]any{"service.name": "audittrail"},
		Scope:          "peers-test",
		Time:           time.Unix(1763800000, 0).UTC(),
		SeverityNumber: 9,
		SeverityText:   "INFO",
		Body:           "hello otlp",
		Attributes:     map[string]any{"audit.request_id": "req-1", "n": int64(42)},
	}}
	got := col.Logs(t)
	for i := range got {
		got[i].ObservedTime = time.Time{} // set by the receiver
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Logs = %#v\nwant %#v", got, want)
	}
}

func TestCollectorHEC(t *testing.T) {
	t.Parallel()
	col := Collector(t, CollectorOptions{HECToken: "test-token"})
	client := &http.Client{}
	event := `{"event":"hello hec","sourcetype":"audittrail:record","index":"audit","host":"fn-1","time":1763800000.5,"fields":{"request_id":"req-2"}}`
	const channel = "0aa8c5e4-4a7e-4c8f-9d6b-0e6f6b2c9a11"

	tests := []struct {
		name       string
		header     http.Header
		wantStatus int
		wantAnswer string
	}{
		{"no token", nil, http.StatusUnauthorized, ""},
		{"wrong token", http.Header{"Authorization": {"Splunk nope"}}, http.StatusUnauthorized, ""},
		{"bearer scheme", http.Header{"Authorization": {"Bearer test-token"}}, http.StatusUnauthorized, ""},
		{"token", http.Header{"Authorization": {"Splunk test-token"}}, http.StatusOK, `{"text": "Success", "code": 0}`},
		{
			"token and channel", http.Header{"Authorization": {"Splunk test-token"}, "X-Splunk-Request-Channel": {channel}},
			http.StatusOK, `{"text": "Success", "code": 0, "ackId": 1}`,
		},
	}
	for _, tt := range tests {
		status, answer := post(t, client, col.HECURL+"/services/collector/event", "application/json", tt.header, event)
		if status != tt.wantStatus || (tt.wantAnswer != "" && answer != tt.wantAnswer) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, status, answer, tt.wantStatus, tt.wantAnswer)
		}
	}

	// Indexer acknowledgement: ack 1 is reported once, then forgotten.
	ackHeader := http.Header{"Authorization": {"Splunk test-token"}, "X-Splunk-Request-Channel": {channel}}
	for _, want := range []bool{true, false} {
		status, answer := post(t, client, col.HECURL+"/services/collector/ack", "application/json", ackHeader, `{"acks":[1]}`)
		var acks struct {
			Acks map[string]bool `json:"acks"`
		}
		if err := json.Unmarshal([]byte(answer), &acks); status != http.StatusOK || err != nil || acks.Acks["1"] != want {
			t.Fatalf("ack query: %d %s (%v), want 200 with ack 1 = %t", status, answer, err, want)
		}
	}

	got := col.Logs(t)
	if len(got) != 2 {
		t.Fatalf("Logs = %d records, want the 2 accepted events: %#v", len(got), got)
	}
	for _, rec := range got {
		if rec.Receiver != ReceiverHEC || rec.Body != "hello hec" ||
			!rec.Time.Equal(time.Unix(1763800000, 500000000)) ||
			rec.Attributes["request_id"] != "req-2" ||
			rec.Resource["com.splunk.sourcetype"] != "audittrail:record" ||
			rec.Resource["com.splunk.index"] != "audit" ||
			rec.Resource["host.name"] != "fn-1" {
			t.Errorf("HEC record = %#v", rec)
		}
	}
	if tok, _ := got[0].Resource["com.splunk.hec.access_token"].(string); !strings.Contains(tok, "test-token") {
		t.Errorf("access token passthrough = %v, want the token", tok)
	}
}

// pb appends protobuf field number field, of wire type "length-delimited",
// holding b. Enough protobuf to hand-write a small OTLP request.
func pb(field int, b []byte) []byte {
	out := binary.AppendUvarint(nil, uint64(field)<<3|2)
	out = binary.AppendUvarint(out, uint64(len(b)))
	return append(out, b...)
}

// otlpLogProto is a minimal protobuf ExportLogsServiceRequest with one record
// whose body is msg, from service.name "audittrail".
func otlpLogProto(msg string) []byte {
	str := func(s string) []byte { return pb(1, []byte(s)) }                              // AnyValue.string_value
	resource := pb(1, append(pb(1, []byte("service.name")), pb(2, str("audittrail"))...)) // Resource.attributes
	record := append(pb(3, []byte("INFO")), pb(5, str(msg))...)                           // LogRecord.severity_text, body
	scopeLogs := pb(2, record)                                                            // ScopeLogs.log_records
	resourceLogs := append(pb(1, resource), pb(2, scopeLogs)...)                          // ResourceLogs.resource, scope_logs
	return pb(1, resourceLogs)                                                            // ExportLogsServiceRequest.resource_logs
}

func TestCollectorOTLPProtobufAndGRPC(t *testing.T) {
	t.Parallel()
	col := Collector(t, CollectorOptions{})

	// OTLP/HTTP with a protobuf body.
	status, answer := post(t, &http.Client{}, col.OTLPHTTPURL+"/v1/logs", "application/x-protobuf", nil, string(otlpLogProto("over http")))
	if status != http.StatusOK {
		t.Fatalf("OTLP/HTTP protobuf: %d %q, want 200", status, answer)
	}

	// OTLP/gRPC: a unary call is an HTTP/2 POST of a length-prefixed message.
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	grpc := &http.Client{Transport: &http.Transport{Protocols: &protocols}}
	msg := otlpLogProto("over grpc")
	frame := append([]byte{0}, binary.BigEndian.AppendUint32(nil, uint32(len(msg)))...)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
		"http://"+col.OTLPGRPCAddr+"/opentelemetry.proto.collector.logs.v1.LogsService/Export",
		bytes.NewReader(append(frame, msg...)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	resp, err := grpc.Do(req)
	if err != nil {
		t.Fatalf("OTLP/gRPC: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body) // trailers arrive after the body
	resp.Body.Close()
	grpc.CloseIdleConnections() // else the collector's graceful stop waits for it
	// The status is a trailer, or a header in a "trailers-only" error answer.
	grpcStatus, grpcMessage := resp.Trailer.Get("Grpc-Status"), resp.Trailer.Get("Grpc-Message")
	if grpcStatus == "" {
		grpcStatus, grpcMessage = resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message")
	}
	if resp.StatusCode != http.StatusOK || grpcStatus != "0" {
		t.Fatalf("OTLP/gRPC: %s, grpc-status %q (%s), want 200 and 0", resp.Status, grpcStatus, grpcMessage)
	}

	var got []string
	for _, rec := range col.Logs(t) {
		if rec.Resource["service.name"] != "audittrail" || rec.SeverityText != "INFO" {
			t.Errorf("record = %#v", rec)
		}
		got = append(got, fmt.Sprint(rec.Body))
	}
	if want := []string{"over http", "over grpc"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("bodies = %q, want %q", got, want)
	}
}
