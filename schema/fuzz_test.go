package schema

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// seedBatches adds every batch of the golden cases to the corpus.
func seedBatches(f *testing.F) {
	paths, _ := filepath.Glob("testdata/telemetry/*.json")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		var c telemetryCase
		if err := json.Unmarshal(data, &c); err != nil {
			f.Fatal(err)
		}
		for _, s := range c.Steps {
			if s.Batch != nil {
				f.Add([]byte(s.Batch))
			}
		}
	}
	f.Add([]byte(`[`))
	f.Add([]byte(`[{"type":"platform.report","record":{"requestId":"","metrics":{"durationMs":1e308}}}]`))
}

// FuzzParseTelemetryBatch: any body gives events or an error, never a
// panic, and every event returned has a type.
func FuzzParseTelemetryBatch(f *testing.F) {
	seedBatches(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		events, _ := ParseTelemetryBatch(body)
		for _, ev := range events {
			if ev.Type == "" {
				t.Fatalf("event without type from %q", body)
			}
		}
	})
}

// FuzzBuilder feeds arbitrary batches to a builder: no panic, every record
// encodes to JSON, and record ids are unique.
func FuzzBuilder(f *testing.F) {
	seedBatches(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		b := NewBuilder(Environment{EnvID: "fuzz", FunctionName: "f", Region: "r", AccountID: "1", MemoryMB: 128, Logs: true})
		events, _ := ParseTelemetryBatch(body)
		var recs []Record
		b.Invoke("r1", "arn:aws:lambda:r:1:function:f", "Root=1-2-3", time.Unix(0, 0))
		for _, ev := range events {
			out, _ := b.Add(ev)
			recs = append(recs, out...)
			b.RuntimeDone("r1")
		}
		recs = append(recs, b.Shutdown("spindown", time.Unix(1, 0))...)
		ids := map[string]bool{}
		for _, r := range recs {
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("record does not encode: %v", err)
			}
			if ids[r.Event.ID] {
				t.Fatalf("duplicate id %s", r.Event.ID)
			}
			ids[r.Event.ID] = true
		}
		if len(b.Pending()) != 0 {
			t.Fatal("invocations still pending after Shutdown")
		}
	})
}
