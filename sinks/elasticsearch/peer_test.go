package elasticsearch

// Against a real receiver: VictoriaLogs' Elasticsearch _bulk endpoint
// (internal/peers; `make peers` builds it). VictoriaLogs is lenient: it
// answers errors:false with one create item per document it took, ignores
// _id (so it stores a resent record again) and has no per-item errors;
// those are tested against documented examples in the other tests.

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/audittrail/audittrail/internal/peers"
	"github.com/audittrail/audittrail/sinks"
	"github.com/google/uuid"
)

// peerRecords returns k records shaped as the extension makes them (from a
// demo trail), each with its own event.id.
func peerRecords(t testing.TB, k int) (records [][]byte, ids []string) {
	t.Helper()
	base := readRecords(t, "testdata/encode/proxy_trail.json")
	for i := range k {
		rec := base[i%len(base)]
		old := usableID(rec)
		id := uuid.NewString()
		rec = bytes.Replace(rec, []byte(`"id":"`+old+`"`), []byte(`"id":"`+id+`"`), 1)
		if usableID(rec) != id {
			t.Fatalf("record %d: could not set its event.id", i)
		}
		records, ids = append(records, rec), append(ids, id)
	}
	return records, ids
}

// countingTransport counts the requests it sends.
type countingTransport struct {
	mu sync.Mutex
	n  int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// peerSink returns a sink for VictoriaLogs, with requests small enough that
// a batch takes several, and the counter of its requests.
func peerSink(t *testing.T, vl *peers.VictoriaLogsPeer) (*Sink, *countingTransport) {
	t.Helper()
	ct := &countingTransport{}
	s, err := New(Config{
		URL:             vl.URL + "/insert/elasticsearch?_time_field=@timestamp&_msg_field=event.action",
		MaxRequestBytes: 64 << 10,
		Client:          &http.Client{Transport: ct},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(t.Context()) })
	return s, ct
}

// storedIDs returns how many rows VictoriaLogs holds for each event.id.
func storedIDs(t *testing.T, vl *peers.VictoriaLogsPeer) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, row := range vl.Query(t, "*") {
		got[row["event.id"]]++
	}
	return got
}

func TestPeerVictoriaLogsStoresEveryRecord(t *testing.T) {
	vl := peers.VictoriaLogs(t, peers.VictoriaLogsOptions{})
	s, requests := peerSink(t, vl)
	const k = 300 // about 500 KB
	records, ids := peerRecords(t, k)
	if err := s.Write(t.Context(), records); err != nil {
		t.Fatal(err)
	}
	var b bulkBody
	s.enc.encode(&b, records)
	if want := len(b.chunks(s.cfg.MaxRequestBytes)); want < 2 || requests.count() != want {
		t.Errorf("%d requests, want %d (64 KiB each at most)", requests.count(), want)
	}

	rows := vl.Query(t, "*")
	byID := map[string]map[string]string{}
	for _, row := range rows {
		byID[row["event.id"]] = row
	}
	if len(rows) != k || len(byID) != k {
		t.Fatalf("VictoriaLogs holds %d rows, %d distinct event.ids; want %d", len(rows), len(byID), k)
	}
	for i, id := range ids {
		row, ok := byID[id]
		if !ok {
			t.Fatalf("record %d (%s) is missing", i, id)
		}
		var rec struct {
			Timestamp time.Time `json:"@timestamp"`
			Event     struct{ Action string }
		}
		if err := json.Unmarshal(records[i], &rec); err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339Nano, row["_time"])
		if err != nil || !at.Equal(rec.Timestamp) || row["_msg"] != rec.Event.Action {
			t.Errorf("record %d stored with _time %q, _msg %q; want %v, %q", i, row["_time"], row["_msg"], rec.Timestamp, rec.Event.Action)
		}
	}

	// A resend (a retry, a copy from the spool) is taken again: this
	// receiver ignores _id, so it holds two copies, which event.id names.
	if err := s.Write(t.Context(), records[:10]); err != nil {
		t.Fatal(err)
	}
	got := storedIDs(t, vl)
	if len(got) != k || got[ids[0]] != 2 || got[ids[10]] != 1 {
		t.Errorf("after a resend: %d distinct ids, %d and %d copies", len(got), got[ids[0]], got[ids[10]])
	}
}

// TestPeerVictoriaLogsReadOnly: storage that refuses writes answers 429,
// a failure for now (the records wait on the spool), not a refusal; once
// the storage takes writes again, the same batch goes through.
func TestPeerVictoriaLogsReadOnly(t *testing.T) {
	vl := peers.VictoriaLogs(t, peers.VictoriaLogsOptions{ReadOnly: true})
	s, _ := peerSink(t, vl)
	records, ids := peerRecords(t, 20)
	err := s.Write(t.Context(), records)
	t.Logf("read-only storage: %v", err)
	var pe *sinks.PartialError
	if err == nil || sinks.IsPermanent(err) || errors.As(err, &pe) || !strings.Contains(err.Error(), "429") {
		t.Fatalf("write to read-only storage: %v, want a transient 429", err)
	}

	vl.SetReadOnly(t, false) // a restart: the old connection is gone
	_ = s.Close(t.Context())
	if err := s.Write(t.Context(), records); err != nil {
		t.Fatal(err)
	}
	got := storedIDs(t, vl)
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("%s stored %d times", id, got[id])
		}
	}
	if len(got) != len(ids) {
		t.Errorf("%d records stored, want %d", len(got), len(ids))
	}
}
