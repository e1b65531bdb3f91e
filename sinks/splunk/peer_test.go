package splunk

// Tests against the real receiver: the OpenTelemetry Collector's
// splunk_hec receiver (v0.139.0, token checked by bearertokenauth,
// acknowledgement by the ack extension), started by internal/peers. What
// it cannot produce (Splunk's JSON token refusals, busy, partial
// refusals, slow acknowledgements) is tested against documented answers
// in classify_test.go and splunk_test.go.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/audittrail/audittrail/internal/peers"
	"github.com/audittrail/audittrail/sinks"
)

// peerBatch returns k real-shaped records, each with its own event.id:
// copies of the golden cases' records with the ids rewritten.
func peerBatch(t *testing.T, k int) (batch [][]byte, ids []string) {
	t.Helper()
	var base [][]byte
	for _, name := range []string{"proxy", "telemetry"} {
		base = append(base, readCase(t, name)...)
	}
	for i := range k {
		rec := base[i%len(base)]
		var r struct {
			Event struct{ ID string } `json:"event"`
		}
		if err := json.Unmarshal(rec, &r); err != nil || r.Event.ID == "" {
			t.Fatalf("record without event.id: %v", err)
		}
		id := fmt.Sprintf("%08x-0000-5000-8000-%012x", i, i)
		batch = append(batch, bytes.Replace(rec, []byte(`"id":"`+r.Event.ID+`"`), []byte(`"id":"`+id+`"`), 1))
		ids = append(ids, id)
	}
	return batch, ids
}

// countingTransport counts the requests to each path.
type countingTransport struct {
	next       http.RoundTripper
	events     atomic.Int64
	ackQueries atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/services/collector/event"):
		c.events.Add(1)
	case strings.HasSuffix(r.URL.Path, "/services/collector/ack"):
		c.ackQueries.Add(1)
	}
	return c.next.RoundTrip(r)
}

// checkArrived reads back the HEC records of col and checks that they are
// exactly the events of batch, each once, with the sink's metadata and the
// record's time.
func checkArrived(t *testing.T, col *peers.CollectorPeer, batch [][]byte, ids []string) {
	t.Helper()
	want := map[string][]byte{}
	for i, id := range ids {
		want[id] = batch[i]
	}
	got := map[string]int{}
	for _, rec := range col.Logs(t) {
		if rec.Receiver != peers.ReceiverHEC {
			continue
		}
		body, _ := rec.Body.(map[string]any)
		ev, _ := body["event"].(map[string]any)
		id, _ := ev["id"].(string)
		got[id]++
		if got[id] > 1 {
			continue
		}
		orig, ok := want[id]
		if !ok {
			t.Errorf("unexpected record %v", rec.Body)
			continue
		}
		if rec.Resource["host.name"] != "orders-api" || rec.Resource["com.splunk.source"] != DefaultSource ||
			rec.Resource["com.splunk.sourcetype"] != DefaultSourcetype || rec.Resource["com.splunk.index"] != "security" {
			t.Errorf("%s: resource %v", id, rec.Resource)
		}
		ts, _ := timestamp(orig)
		// "time" travels as seconds with milliseconds, and the receiver
		// reads it as a float64.
		if d := rec.Time.Sub(ts.Truncate(time.Millisecond)); math.Abs(float64(d)) > float64(time.Microsecond) {
			t.Errorf("%s: time %v, want %v", id, rec.Time, ts.Truncate(time.Millisecond))
		}
		var o struct {
			Timestamp string `json:"@timestamp"`
			Event     struct{ Action string }
		}
		_ = json.Unmarshal(orig, &o)
		if body["@timestamp"] != o.Timestamp || ev["action"] != o.Event.Action {
			t.Errorf("%s: body %v, want the record", id, body)
		}
	}
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("event.id %s arrived %d times, want once", id, got[id])
		}
	}
	if len(got) != len(ids) {
		t.Errorf("%d distinct event.ids arrived, want %d", len(got), len(ids))
	}
}

func TestPeerCollector(t *testing.T) {
	col := peers.Collector(t, peers.CollectorOptions{})
	const k = 300
	tests := []struct {
		name string
		ack  bool
	}{
		{"without ack", false},
		{"with ack", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := peers.Collector(t, peers.CollectorOptions{})
			tr := &countingTransport{next: http.DefaultTransport.(*http.Transport).Clone()}
			s := newSink(t, Config{URL: col.HECURL, Token: sinks.StaticSecret(col.HECToken), Host: "orders-api", Index: "security",
				MaxBodyBytes: 64 << 10, Ack: tt.ack, Client: &http.Client{Transport: tr}})
			batch, ids := peerBatch(t, k)
			if err := s.Write(t.Context(), batch); err != nil {
				t.Fatal(err)
			}
			checkArrived(t, col, batch, ids)
			// About 1.7 KB per record: several requests of at most 64 KiB.
			if n := tr.events.Load(); n < 5 {
				t.Errorf("%d requests, want the batch split", n)
			}
			if q := tr.ackQueries.Load(); tt.ack != (q > 0) {
				t.Errorf("%d acknowledgement queries with ack %v", q, tt.ack)
			}
		})
	}

	t.Run("token refused", func(t *testing.T) {
		wrong := "00000000-0000-0000-0000-000000000000"
		s := newSink(t, Config{URL: col.HECURL, Token: sinks.StaticSecret(wrong), Host: "orders-api", Index: "security"})
		batch, _ := peerBatch(t, 3)
		err := s.Write(t.Context(), batch)
		if !sinks.IsPermanent(err) || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), hintToken) {
			t.Fatalf("%v, want a permanent 401 naming AUDITTRAIL_SPLUNK_TOKEN", err)
		}
		if strings.Contains(err.Error(), wrong) {
			t.Errorf("the token is in the error: %v", err)
		}
		for _, rec := range col.Logs(t) {
			t.Errorf("a refused batch arrived: %v", rec.Body)
		}
	})
}
