package otlp

// Against the real receivers of internal/peers (`make peers` builds them):
// the OpenTelemetry Collector's otlp receiver, read back from its file
// exporter, and VictoriaLogs' /insert/opentelemetry/v1/logs, read back
// with LogsQL. The partial successes are not here: neither peer produces
// one (see TestClassify for the documented examples).

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/audittrail/audittrail/buffer"
	"github.com/audittrail/audittrail/internal/peers"
	"github.com/audittrail/audittrail/schema"
	"github.com/audittrail/audittrail/sinks"
)

// peerBatches returns the records the peer tests send, in two batches:
// a whole environment of the demo (14 records, hash-chained) and records
// of every other kind (logs, a coverage gap, a crash).
func peerBatches(t *testing.T) [][][]byte {
	return [][][]byte{
		loadBatch(t, filepath.Join("testdata", "demo_environment.json")),
		loadBatch(t, filepath.Join("testdata", "telemetry_mix.json")),
	}
}

// eventID returns the event.id of a record.
func eventID(t *testing.T, raw []byte) string {
	t.Helper()
	var r struct {
		Event struct {
			ID string `json:"id"`
		} `json:"event"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r.Event.ID
}

// want lists what was sent: every record by its body, and the number of
// records.
func sent(t *testing.T, batches [][][]byte) (bodies []string, ids map[string]bool) {
	ids = map[string]bool{}
	for _, b := range batches {
		for _, r := range b {
			bodies = append(bodies, string(r))
			ids[eventID(t, r)] = true
		}
	}
	slices.Sort(bodies)
	return bodies, ids
}

func TestPeerCollector(t *testing.T) {
	c := peers.Collector(t, peers.CollectorOptions{})
	batches := peerBatches(t)
	for i, codec := range []buffer.Codec{buffer.Gzip, buffer.None} {
		cfg := DefaultConfig()
		cfg.Endpoint = c.OTLPHTTPURL + "/v1/logs"
		cfg.Compression = codec
		cfg.ScopeVersion = "v0.0.0-test"
		cfg.ResourceAttributes = map[string]string{"deployment.environment.name": "peer-test"}
		cfg.Headers = sinks.StaticSecret("X-Tenant=t1")
		s := newSink(t, cfg)
		if err := s.Write(t.Context(), batches[i]); err != nil {
			t.Fatalf("%s: %v", codec, err)
		}
	}

	wantBodies, wantIDs := sent(t, batches)
	var gotBodies []string
	gotIDs := map[string]bool{}
	v := schema.NewVerifier()
	for _, lr := range c.Logs(t) {
		if lr.Receiver != peers.ReceiverOTLP {
			continue
		}
		body, _ := lr.Body.(string)
		gotBodies = append(gotBodies, body)
		v.Add([]byte(body))
		id, _ := lr.Attributes["event.id"].(string)
		gotIDs[id] = true

		var rec schema.Record
		if err := json.Unmarshal([]byte(body), &rec); err != nil {
			t.Fatalf("body is not a record: %v", err)
		}
		if id != rec.Event.ID || lr.Scope != ScopeName || !lr.Time.Equal(rec.Timestamp) || lr.ObservedTime.IsZero() ||
			lr.EventName != "audittrail."+rec.Event.Action {
			t.Errorf("record %s: id %q, scope %q, time %v, observed %v, event %q", rec.Event.ID, id, lr.Scope, lr.Time, lr.ObservedTime, lr.EventName)
		}
		if num, text := severity(&rec); lr.SeverityNumber != int(num) || lr.SeverityText != text {
			t.Errorf("record %s: severity %d %q, want %d %q", rec.Event.ID, lr.SeverityNumber, lr.SeverityText, num, text)
		}
		if lr.Resource["service.name"] != rec.FaaS.Name || lr.Resource["cloud.region"] != rec.Cloud.Region || lr.Resource["deployment.environment.name"] != "peer-test" {
			t.Errorf("record %s: resource %v", rec.Event.ID, lr.Resource)
		}
		// Types survive: an int, a double, a bool, an array.
		if rec.Audit.Seq != 0 && lr.Attributes["audit.seq"] != rec.Audit.Seq {
			t.Errorf("record %s: audit.seq %#v", rec.Event.ID, lr.Attributes["audit.seq"])
		}
		if d := rec.AWS; d != nil && d.Lambda != nil && d.Lambda.DurationMs != nil && lr.Attributes["aws.lambda.duration_ms"] != *d.Lambda.DurationMs {
			t.Errorf("record %s: duration %#v", rec.Event.ID, lr.Attributes["aws.lambda.duration_ms"])
		}
		if rec.FaaS.Coldstart != nil && lr.Attributes["faas.coldstart"] != *rec.FaaS.Coldstart {
			t.Errorf("record %s: coldstart %#v", rec.Event.ID, lr.Attributes["faas.coldstart"])
		}
		if h := rec.HTTP; h != nil && h.Request != nil && len(h.Request.Header["x-forwarded-for"]) > 0 {
			if xff, _ := lr.Attributes["http.request.header.x-forwarded-for"].([]any); len(xff) != len(h.Request.Header["x-forwarded-for"]) {
				t.Errorf("record %s: x-forwarded-for %#v", rec.Event.ID, lr.Attributes["http.request.header.x-forwarded-for"])
			}
		}
		if rec.AWS != nil && rec.AWS.XRay != nil && lr.TraceID != strings.ReplaceAll(rec.AWS.XRay.TraceID[2:], "-", "") {
			t.Errorf("record %s: trace id %q for %s", rec.Event.ID, lr.TraceID, rec.AWS.XRay.TraceID)
		}
	}
	slices.Sort(gotBodies)
	if !slices.Equal(gotBodies, wantBodies) {
		t.Errorf("the collector holds %d records, %d sent, or they differ", len(gotBodies), len(wantBodies))
	}
	if len(gotIDs) != len(wantIDs) {
		t.Errorf("%d distinct event.ids read back, %d sent", len(gotIDs), len(wantIDs))
	}
	// The bodies are the records exactly: the demo environment's chain
	// verifies from what the collector wrote.
	i := slices.IndexFunc(v.Report(), func(r schema.EnvReport) bool { return r.EnvID == "6fd53d54-4687-4448-936a-53a4496250d6" })
	if i < 0 {
		t.Fatal("the demo environment is not among the records read back")
	}
	if rep := v.Report()[i]; !rep.OK() || !rep.Closed || rep.Records != 14 || rep.Duplicates != 0 {
		t.Errorf("the chain read back does not verify: %+v", rep)
	}
}

// TestPeerCollectorStatus checks the decoding of a real google.rpc.Status:
// the collector's answer to a body that is not protobuf.
func TestPeerCollectorStatus(t *testing.T) {
	c := peers.Collector(t, peers.CollectorOptions{})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, c.OTLPHTTPURL+"/v1/logs", strings.NewReader("\xff\xffnot protobuf"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentProtobuf)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	err = classify(resp, 1, time.Now())
	if !sinks.IsPermanent(err) || !strings.Contains(err.Error(), "HTTP 400") || !strings.Contains(err.Error(), "(INVALID_ARGUMENT)") {
		t.Errorf("the collector's 400 gave %v", err)
	}
}

func TestPeerVictoriaLogs(t *testing.T) {
	vl := peers.VictoriaLogs(t, peers.VictoriaLogsOptions{})
	cfg := DefaultConfig()
	cfg.Endpoint = vl.URL + "/insert/opentelemetry/v1/logs"
	s := newSink(t, cfg)
	batches := peerBatches(t)
	for _, b := range batches {
		if err := s.Write(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
	wantBodies, wantIDs := sent(t, batches)
	rows := vl.Query(t, `*`)
	var gotBodies []string
	gotIDs := map[string]bool{}
	for _, row := range rows {
		gotBodies = append(gotBodies, row["_msg"])
		gotIDs[row["event.id"]] = true
		if row["service.name"] != "orders-api" || row["faas.name"] != "orders-api" {
			t.Errorf("row %s: service.name %q", row["event.id"], row["service.name"])
		}
	}
	slices.Sort(gotBodies)
	if !slices.Equal(gotBodies, wantBodies) {
		t.Errorf("VictoriaLogs holds %d records, %d sent, or they differ", len(gotBodies), len(wantBodies))
	}
	if len(gotIDs) != len(wantIDs) {
		t.Errorf("%d distinct event.ids read back, %d sent", len(gotIDs), len(wantIDs))
	}
}

// TestPeerVictoriaLogsThrottles uses VictoriaLogs' read-only mode, a real
// 429: transient, the records kept for a retry, which then succeeds.
func TestPeerVictoriaLogsThrottles(t *testing.T) {
	vl := peers.VictoriaLogs(t, peers.VictoriaLogsOptions{ReadOnly: true})
	cfg := DefaultConfig()
	cfg.Endpoint = vl.URL + "/insert/opentelemetry/v1/logs"
	s := newSink(t, cfg)
	batch := peerBatches(t)[0]
	err := s.Write(t.Context(), batch)
	if err == nil || sinks.IsPermanent(err) || !strings.Contains(err.Error(), "HTTP 429") {
		t.Fatalf("read-only VictoriaLogs: %v, want a transient 429", err)
	}
	vl.SetReadOnly(t, false)
	_ = s.Close(t.Context()) // the connection was to the old process
	if err := s.Write(t.Context(), batch); err != nil {
		t.Fatalf("after the storage is writable again: %v", err)
	}
	if rows := vl.Query(t, `*`); len(rows) != len(batch) {
		t.Errorf("%d records stored, want %d", len(rows), len(batch))
	}
}

// TestPeerHangingCollector sends through Toxiproxy to a collector that
// stops reading: the Write cut short by its budget leaves nothing behind,
// so the next one, once the network is back, delivers every record once.
func TestPeerHangingCollector(t *testing.T) {
	c := peers.Collector(t, peers.CollectorOptions{})
	tp := peers.Toxiproxy(t)
	px := tp.Proxy(t, "otlp", c.OTLPHTTPURL)
	cfg := DefaultConfig()
	cfg.Endpoint = px.URL() + "/v1/logs"
	s := newSink(t, cfg)
	batch := peerBatches(t)[0]

	hang := peers.Timeout(0)
	hang.Stream = "upstream" // the request never reaches the collector
	name := px.AddToxic(t, hang)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond) // the flush budget
	err := s.Write(ctx, batch)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || sinks.IsPermanent(err) {
		t.Fatalf("write to a hanging collector: %v, want the budget's deadline", err)
	}
	px.RemoveToxic(t, name)
	if err := s.Write(t.Context(), batch); err != nil {
		t.Fatalf("after the network is back: %v", err)
	}
	var bodies []string
	for _, lr := range c.Logs(t) {
		body, _ := lr.Body.(string)
		bodies = append(bodies, body)
	}
	want, _ := sent(t, [][][]byte{batch})
	slices.Sort(bodies)
	if !slices.Equal(bodies, want) {
		t.Errorf("the collector holds %d records, want the %d sent once each", len(bodies), len(want))
	}
}
