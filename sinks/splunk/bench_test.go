package splunk

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/audittrail/audittrail/buffer"
	"github.com/audittrail/audittrail/sinks"
)

// benchBatch is a realistic batch: 500 records cycling through the golden
// cases' invocation, init, shutdown and coverage-gap records (1.2 KB each
// on average), each with its own event.id, audit.env_id, audit.hash and
// audit.prev_hash, so that gzip meets the entropy of a real trail.
func benchBatch(b *testing.B) [][]byte {
	var base [][]byte
	for _, name := range []string{"proxy", "telemetry"} {
		base = append(base, readCase(b, name)...)
	}
	ids := regexp.MustCompile(`"(id|env_id)":"[0-9a-f-]{36}"`)
	hashes := regexp.MustCompile(`"(hash|prev_hash)":"[0-9a-f]{64}"`)
	batch := make([][]byte, 500)
	for i := range batch {
		n := 0
		fresh := func() string {
			n++
			sum := sha256.Sum256([]byte{byte(i), byte(i >> 8), byte(n)})
			return hex.EncodeToString(sum[:])
		}
		rec := ids.ReplaceAllFunc(base[i%len(base)], func(m []byte) []byte {
			h := fresh()
			name := m[:bytes.IndexByte(m, ':')+1]
			return fmt.Appendf(nil, `%s"%s-%s-%s-%s-%s"`, name, h[:8], h[8:12], h[12:16], h[16:20], h[20:32])
		})
		batch[i] = hashes.ReplaceAllFunc(rec, func(m []byte) []byte {
			return fmt.Appendf(nil, `%s"%s"`, m[:bytes.IndexByte(m, ':')+1], fresh())
		})
	}
	return batch
}

// BenchmarkEncode measures what Write costs the function's CPU before the
// network: envelopes, the split into requests of at most 1 MB, and gzip.
// B/record is the bytes sent per record.
//
//	go test -run '^$' -bench Encode -benchmem ./sinks/splunk/
func BenchmarkEncode(b *testing.B) {
	batch := benchBatch(b)
	for _, codec := range []buffer.Codec{buffer.Gzip, buffer.None} {
		b.Run(string(codec), func(b *testing.B) {
			enc := newEncoder("orders-api", DefaultSource, DefaultSourcetype, "security", DefaultMaxBodyBytes)
			comp := buffer.NewCompressor()
			var plan encoded
			var out []byte
			sent := 0
			b.ReportAllocs()
			for b.Loop() {
				enc.encode(&plan, batch)
				sent = 0
				for _, r := range plan.reqs {
					var err error
					if out, err = comp.Compress(out[:0], codec, plan.body[r.start:r.end]); err != nil {
						b.Fatal(err)
					}
					sent += len(out)
				}
			}
			b.ReportMetric(float64(len(batch))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(sent)/float64(len(batch)), "B/record")
		})
	}
}

// discard answers every request with HEC's success, in memory.
type discard struct{}

func (discard) RoundTrip(r *http.Request) (*http.Response, error) {
	_, _ = io.Copy(io.Discard, r.Body)
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{"text":"Success","code":0}`)), Request: r}, nil
}

// BenchmarkWrite measures a whole Write of the batch, HTTP included, to a
// receiver in memory.
func BenchmarkWrite(b *testing.B) {
	batch := benchBatch(b)
	s, err := New(Config{URL: "https://hec.example.com:8088", Token: sinks.StaticSecret(testToken), Host: "orders-api", Index: "security",
		Client: &http.Client{Transport: discard{}}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Write(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(batch))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
