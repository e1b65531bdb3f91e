package datadog

import (
	"testing"
	"time"

	"github.com/audittrail/audittrail/buffer"
)

// BenchmarkEncode encodes and compresses a batch as Write does before
// sending it: the demo's invocation records repeated to 1 MiB, the largest
// batch the delivery core hands a sink. It reports records/s on one core,
// and the bytes per record of the request (gzip) and of its uncompressed
// body.
func BenchmarkEncode(b *testing.B) {
	recs := readRecords(b, "invocations")
	var batch [][]byte
	size := 0
	for i := 0; size < 1<<20; i++ {
		r := recs[i%len(recs)]
		batch = append(batch, r)
		size += len(r)
	}
	now, _ := time.Parse(time.RFC3339, "2026-12-01T08:00:00Z")
	enc := encoder{tags: "env:prod,team:payments", limits: intakeLimits}
	comp := buffer.NewCompressor()
	var ents entries
	var body, out []byte
	var raw, sent int
	for b.Loop() {
		ents.reset()
		enc.encode(&ents, batch, now)
		raw, sent = 0, 0
		for _, r := range enc.split(&ents) {
			body = appendBody(body[:0], &ents, r[0], r[1])
			var err error
			if out, err = comp.Compress(out[:0], buffer.Gzip, body); err != nil {
				b.Fatal(err)
			}
			raw += len(body)
			sent += len(out)
		}
	}
	n := float64(len(batch))
	b.ReportMetric(n*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(sent)/n, "B/record")
	b.ReportMetric(float64(raw)/n, "raw-B/record")
	b.ReportMetric(float64(size)/n, "record-B")
}
