package datadog

// These tests send to VictoriaLogs v1.117.0 (internal/peers; build it with
// `make peers`), the one real receiver of the Datadog logs v2 protocol
// available here: it answers 200 {} where Datadog answers 202, and 429 when
// its storage is read-only. Datadog's other answers (400, 401, 403, 408,
// 413, 5xx) are documented examples no real peer here produces; they are
// in testdata/answers.json and datadog_test.go.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/audittrail/audittrail/internal/peers"
	"github.com/audittrail/audittrail/sinks"
	"github.com/google/uuid"
)

// freshRecords returns n records shaped like the demo's, each with its own
// event.id and an @timestamp of the last few seconds (Datadog, and so the
// sink, takes no record older than 18 hours), and their event.ids.
func freshRecords(t *testing.T, n int) ([][]byte, []string) {
	t.Helper()
	demo := readRecords(t, "invocations")
	start := time.Now().Add(-time.Duration(n) * time.Millisecond)
	var batch [][]byte
	var ids []string
	for i := range n {
		var m map[string]any
		if err := json.Unmarshal(demo[i%len(demo)], &m); err != nil {
			t.Fatal(err)
		}
		id := uuid.NewString()
		m["@timestamp"] = start.Add(time.Duration(i) * time.Millisecond).UTC().Format(time.RFC3339Nano)
		m["event"].(map[string]any)["id"] = id
		rec, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, rec)
		ids = append(ids, id)
	}
	return batch, ids
}

// peerSink returns a sink posting to vl, every entry tagged run:<run>.
func peerSink(t *testing.T, vl *peers.VictoriaLogsPeer, run string, perRequest int) *Sink {
	t.Helper()
	s, err := New(Config{
		URL:      vl.URL + "/insert/datadog/api/v2/logs",
		APIKey:   sinks.StaticSecret("not-checked-by-victorialogs"),
		Tags:     []string{"env:peer", "run:" + run},
		Hostname: "lambda-peer",
	})
	if err != nil {
		t.Fatal(err)
	}
	s.enc.limits.entries = perRequest
	t.Cleanup(func() { _ = s.Close(t.Context()) })
	return s
}

// readBack returns the rows of run, and the event.ids of their records.
func readBack(t *testing.T, vl *peers.VictoriaLogsPeer, run string) ([]map[string]string, []string) {
	t.Helper()
	rows := vl.Query(t, fmt.Sprintf("run:=%q", run))
	var ids []string
	for _, row := range rows {
		var f fields
		readFields([]byte(row["_msg"]), &f)
		ids = append(ids, f.Event.ID)
	}
	return rows, ids
}

// TestPeerVictoriaLogs sends K records in requests of at most 7 entries
// and reads back exactly K distinct event.ids, each message the record
// byte for byte, with the entry's attributes and time.
func TestPeerVictoriaLogs(t *testing.T) {
	t.Parallel()
	vl := peers.VictoriaLogs(t, peers.VictoriaLogsOptions{})
	run := uuid.NewString()
	const k = 40
	batch, sent := freshRecords(t, k)
	if err := peerSink(t, vl, run, 7).Write(t.Context(), batch); err != nil {
		t.Fatalf("Write: %v", err)
	}

	rows, got := readBack(t, vl, run)
	slices.Sort(got)
	slices.Sort(sent)
	if !slices.Equal(slices.Compact(slices.Clone(got)), sent) || len(got) != k {
		t.Fatalf("read back %d rows with event.ids %v, want the %d sent", len(got), got, k)
	}
	byID := map[string][]byte{}
	for _, rec := range batch {
		var f fields
		readFields(rec, &f)
		byID[f.Event.ID] = rec
	}
	for _, row := range rows {
		var f fields
		readFields([]byte(row["_msg"]), &f)
		rec := byID[f.Event.ID]
		if row["_msg"] != string(rec) {
			t.Errorf("message differs from the record:\n got %s\nwant %s", row["_msg"], rec)
		}
		ts, _ := time.Parse(time.RFC3339Nano, f.Timestamp)
		at, err := time.Parse(time.RFC3339Nano, row["_time"])
		if err != nil || !at.Equal(ts.Truncate(time.Millisecond)) {
			t.Errorf("_time %s, want the record's @timestamp %s to the millisecond", row["_time"], f.Timestamp)
		}
		wantStatus := map[string]string{"success": "info", "failure": "error"}[f.Event.Outcome]
		if row["ddsource"] != "audittrail" || row["service"] != "orders-api" || row["hostname"] != "lambda-peer" ||
			row["env"] != "peer" || row["status"] != wantStatus {
			t.Errorf("row attributes %v, want status %s", row, wantStatus)
		}
	}
}

// TestPeerVictoriaLogsReadOnly: a read-only VictoriaLogs answers 429, which
// the sink reports as throttled (transient); once it is writable again the
// same batch goes through, and is there once.
func TestPeerVictoriaLogsReadOnly(t *testing.T) {
	t.Parallel()
	vl := peers.VictoriaLogs(t, peers.VictoriaLogsOptions{ReadOnly: true})
	run := uuid.NewString()
	batch, sent := freshRecords(t, 5)
	s := peerSink(t, vl, run, maxEntries)

	err := s.Write(t.Context(), batch)
	after, throttled := sinks.RetryAfter(err)
	if err == nil || sinks.IsPermanent(err) || !throttled || after != throttleDelay {
		t.Fatalf("Write to a read-only VictoriaLogs: %v (throttled %v, %v), want throttled for %v", err, throttled, after, throttleDelay)
	}
	t.Logf("read-only answer: %v", err)

	vl.SetReadOnly(t, false)
	_ = s.Close(t.Context()) // the old process's connections are gone
	if err := s.Write(t.Context(), batch); err != nil {
		t.Fatalf("Write once writable: %v", err)
	}
	_, got := readBack(t, vl, run)
	slices.Sort(got)
	slices.Sort(sent)
	if !slices.Equal(got, sent) {
		t.Fatalf("read back %v, want %v", got, sent)
	}
}

// TestPeerVictoriaLogsTruncated: a record cut to the entry limit still
// arrives, marked, with its ids lifted into attributes.
func TestPeerVictoriaLogsTruncated(t *testing.T) {
	t.Parallel()
	vl := peers.VictoriaLogs(t, peers.VictoriaLogsOptions{})
	run := uuid.NewString()
	batch, sent := freshRecords(t, 2)
	s := peerSink(t, vl, run, maxEntries)
	s.enc.limits.entryBytes = 800 // the records are about 1.7 KB
	if err := s.Write(t.Context(), batch); err != nil {
		t.Fatalf("Write: %v", err)
	}
	rows := vl.Query(t, fmt.Sprintf("run:=%q", run))
	var got []string
	for _, row := range rows {
		if row["audittrail.truncated"] != "true" || row["audittrail.original_bytes"] == "" || row["audit.seq"] == "" {
			t.Errorf("row %v, want the marks of a truncated record", row)
		}
		if n, _ := strconv.Atoi(row["audittrail.original_bytes"]); n <= len(row["_msg"]) {
			t.Errorf("original_bytes %d, message %d bytes", n, len(row["_msg"]))
		}
		got = append(got, row["event.id"])
	}
	slices.Sort(got)
	slices.Sort(sent)
	if !slices.Equal(got, sent) {
		t.Fatalf("event.id attributes %v, want %v", got, sent)
	}
}
