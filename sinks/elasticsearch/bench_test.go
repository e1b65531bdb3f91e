package elasticsearch

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

// The batches of the benchmarks: 1,000 records as the extension makes them
// with the exec wrapper (the demo trail's, about 1.5 KB each), each with its
// own ids and hashes, as in a real trail, so that gzip finds no more
// repetition than it would there.
const benchRecords = 1000

var (
	uuidField = regexp.MustCompile(`"(id|invocation_id|request_id)":"[0-9a-f-]{8,36}"`)
	hashField = regexp.MustCompile(`"(hash|prev_hash)":"[0-9a-f]{64}"`)
)

func benchBatch(b *testing.B) [][]byte {
	base := readRecords(b, "testdata/encode/proxy_trail.json")
	rng := rand.New(rand.NewPCG(1, 2))
	hexOf := func(n int) string {
		const digits = "0123456789abcdef"
		out := make([]byte, n)
		for i := range out {
			out[i] = digits[rng.IntN(16)]
		}
		return string(out)
	}
	out := make([][]byte, benchRecords)
	for i := range out {
		rec := uuidField.ReplaceAllFunc(base[i%len(base)], func(m []byte) []byte {
			name := string(m[1 : bytes.IndexByte(m[1:], '"')+1])
			h := hexOf(32)
			return []byte(fmt.Sprintf(`"%s":"%s-%s-%s-%s-%s"`, name, h[:8], h[8:12], h[12:16], h[16:20], h[20:]))
		})
		rec = hashField.ReplaceAllFunc(rec, func(m []byte) []byte {
			name := string(m[1 : bytes.IndexByte(m[1:], '"')+1])
			return []byte(fmt.Sprintf(`"%s":"%s"`, name, hexOf(64)))
		})
		out[i] = rec
	}
	return out
}

func BenchmarkEncode(b *testing.B) {
	records := benchBatch(b)
	enc := newEncoder(DefaultDataStream, true)
	var body bulkBody
	for b.Loop() {
		enc.encode(&body, records)
	}
	b.ReportMetric(float64(benchRecords*b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(len(body.buf))/benchRecords, "B/record")
}

// BenchmarkWrite measures a whole Write to a receiver that answers
// errors:false: encoding, gzip, the request, reading the answer. B/record
// is the request bytes on the wire per record.
func BenchmarkWrite(b *testing.B) {
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		received.Add(n)
		_, _ = w.Write(createdAnswer(benchRecords))
	}))
	defer srv.Close()
	s, err := New(Config{URL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	records := benchBatch(b)
	for b.Loop() {
		if err := s.Write(b.Context(), records); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchRecords*b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(received.Load())/float64(benchRecords*b.N), "B/record")
}

// BenchmarkParseErrors reads the answer that costs most: errors:true for a
// batch of 1,000, every item listed with its metadata, one in ten failed.
func BenchmarkParseErrors(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(`{"took":30,"errors":true,"items":[`)
	for i := range benchRecords {
		if i > 0 {
			buf.WriteByte(',')
		}
		if i%10 == 0 {
			fmt.Fprintf(&buf, `{"create":{"_index":".ds-logs-audittrail-default-2026.12.01-000001","_id":"%d","status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"}}}`, i)
			continue
		}
		fmt.Fprintf(&buf, `{"create":{"_index":".ds-logs-audittrail-default-2026.12.01-000001","_id":"%d","_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":%d,"_primary_term":1,"status":201}}`, i, i)
	}
	buf.WriteString(`]}`)
	answerBody := buf.String()
	for b.Loop() {
		if err := parseBulk(strings.NewReader(answerBody), benchRecords, true); err == nil {
			b.Fatal("no error")
		}
	}
	b.ReportMetric(float64(benchRecords*b.N)/b.Elapsed().Seconds(), "items/s")
}
