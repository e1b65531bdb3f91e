package otlp

import (
	"testing"
	"time"

	"github.com/audittrail/audittrail/buffer"
)

// BenchmarkEncode measures the sink's CPU work per batch, encoding and
// compression, on batches of real records (the demo's environment, init,
// invocations captured by the proxy and shutdown, repeated): one of 14
// records, about what a quiet function sends per flush, and one of about
// 1 MiB, the most the delivery core hands a sink at once. It reports the
// records encoded per second and the request bytes per record.
//
//	go test -run '^$' -bench Encode -benchtime 2s ./sinks/otlp/
func BenchmarkEncode(b *testing.B) {
	records := demoBatch(b)
	var big [][]byte
	for size := 0; size < 1<<20; {
		r := records[len(big)%len(records)]
		big = append(big, r)
		size += len(r)
	}
	for _, bb := range []struct {
		name  string
		batch [][]byte
	}{{"14records", records}, {"1MiB", big}} {
		for _, codec := range []buffer.Codec{buffer.None, buffer.Gzip} {
			b.Run(bb.name+"/"+string(codec), func(b *testing.B) {
				enc := newEncoder(goldenConfig())
				comp := buffer.NewCompressor()
				var body, out []byte
				var in int
				for _, r := range bb.batch {
					in += len(r)
				}
				b.SetBytes(int64(in))
				b.ReportAllocs()
				now := time.Now()
				for b.Loop() {
					var err error
					body, _, err = enc.encode(b.Context(), body[:0], bb.batch, now)
					if err != nil {
						b.Fatal(err)
					}
					if out, err = comp.Compress(out[:0], codec, body); err != nil {
						b.Fatal(err)
					}
				}
				n := float64(len(bb.batch))
				b.ReportMetric(n*float64(b.N)/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(float64(len(out))/n, "B/record")
				b.ReportMetric(float64(in)/n, "json-B/record")
			})
		}
	}
}
