package httpsink

import (
	"fmt"
	"testing"

	"github.com/audittrail/audittrail/buffer"
	"github.com/audittrail/audittrail/internal/peers"
)

// TestDeliversToVictoriaLogs sends NDJSON batches to a real NDJSON HTTP
// input, VictoriaLogs' /insert/jsonline, with each compression, and reads
// back exactly the records sent.
func TestDeliversToVictoriaLogs(t *testing.T) {
	vl := peers.VictoriaLogs(t, peers.VictoriaLogsOptions{})
	url := vl.URL + "/insert/jsonline?_time_field=@timestamp&_msg_field=event.action"
	want := map[string]bool{}
	for _, codec := range []buffer.Codec{buffer.None, buffer.Gzip, buffer.Zstd} {
		s, err := New(Config{URL: url, Codec: codec})
		if err != nil {
			t.Fatal(err)
		}
		var batch [][]byte
		for i := range 20 {
			id := fmt.Sprintf("%s-%02d", codec, i)
			want[id] = true
			batch = append(batch, fmt.Appendf(nil, `{"@timestamp":"2026-12-01T10:00:%02dZ","event":{"id":%q,"action":"invocation"}}`, i, id))
		}
		if err := s.Write(t.Context(), batch); err != nil {
			t.Fatalf("%s: %v", codec, err)
		}
	}
	got := map[string]int{}
	for _, row := range vl.Query(t, "*") {
		got[row["event.id"]]++
	}
	for id := range want {
		if got[id] != 1 {
			t.Errorf("record %s arrived %d times, want once", id, got[id])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d distinct records arrived, %d sent", len(got), len(want))
	}
}
