package buffer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The benchmarks run in `make bench` with -benchtime 1x, so each b.Loop
// iteration processes a whole workload of benchRecords records and reports
// per-record figures.
const benchRecords = 10_000

// goldenTemplate is a golden record and where a copy of it varies.
type goldenTemplate struct {
	data    []byte
	ids     [][]int // spans of ids that differ per record (event.id, request and trace ids)
	chainAt int     // where audit.seq, prev_hash and hash go: after audit.env_id
}

// goldenTemplates returns the records of the schema's golden files, each
// compacted to one line:
//   - every record of schema/testdata/telemetry/*.golden.ndjson (init,
//     invocation, shutdown, log and coverage_gap records);
//   - for every schema/testdata/events/*.golden.json (the request facts the
//     Runtime API proxy captures), a proxy invocation record: a telemetry
//     invocation record with those facts added.
func goldenTemplates(b *testing.B) []goldenTemplate {
	b.Helper()
	var records, invocations [][]byte
	paths, _ := filepath.Glob("../schema/testdata/telemetry/*.golden.ndjson")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		for line := range bytes.Lines(data) {
			var rec bytes.Buffer
			if err := json.Compact(&rec, line); err != nil {
				b.Fatalf("%s: %v", p, err)
			}
			if !bytes.Contains(rec.Bytes(), []byte(`"event":{"id":"`)) {
				continue // a rejected telemetry event, not a record
			}
			records = append(records, rec.Bytes())
			if bytes.Contains(rec.Bytes(), []byte(`"action":"invocation"`)) {
				invocations = append(invocations, rec.Bytes())
			}
		}
	}
	paths, _ = filepath.Glob("../schema/testdata/events/*.golden.json")
	if len(invocations) == 0 || len(paths) == 0 {
		b.Fatal("no golden records under ../schema/testdata")
	}
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		rec, err := withRequest(invocations[i%len(invocations)], data)
		if err != nil {
			b.Fatalf("%s: %v", p, err)
		}
		records = append(records, rec)
	}

	// UUIDs (event.id, faas.invocation_id, ...) and X-Ray trace ids.
	ids := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|1-[0-9a-f]{8}-[0-9a-f]{24}`)
	tpls := make([]goldenTemplate, 0, len(records))
	for _, rec := range records {
		env := bytes.Index(rec, []byte(`"env_id":"`))
		if env < 0 {
			b.Fatalf("record without audit.env_id: %s", rec)
		}
		envID := env + len(`"env_id":"`)
		t := goldenTemplate{data: rec, chainAt: envID + 36 + 1} // after the UUID and its quote
		for _, span := range ids.FindAllIndex(rec, -1) {
			if span[0] != envID { // one environment: env_id stays
				t.ids = append(t.ids, span)
			}
		}
		tpls = append(tpls, t)
	}
	return tpls
}

// withRequest adds the request facts of an event golden file to an
// invocation record, as the proxy does. The golden file's dotted keys
// ("audit.capture", ...) are a test projection of fields the record
// already has; they are left out.
func withRequest(invocation, eventGolden []byte) ([]byte, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, eventGolden); err != nil {
		return nil, err
	}
	var rec, req map[string]json.RawMessage
	if err := json.Unmarshal(invocation, &rec); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(compact.Bytes(), &req); err != nil {
		return nil, err
	}
	for k, v := range req {
		if _, ok := rec[k]; !ok && !strings.Contains(k, ".") {
			rec[k] = v
		}
	}
	out, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	return bytes.Replace(out, []byte(`"capture":"telemetry"`), []byte(`"capture":"proxy"`), 1), nil
}

// benchWorkload returns n records, the golden templates in turn, each copy with
// its own ids and chained as schema.Chain does (audit.seq, prev_hash, hash),
// so that the compressor sees distinct records with realistic entropy.
func benchWorkload(b *testing.B, n int) [][]byte {
	b.Helper()
	tpls := goldenTemplates(b)
	rng := rand.New(rand.NewPCG(1, 2))
	const hexDigits = "0123456789abcdef"
	randomHex := func(p []byte) {
		for i, c := range p {
			if c != '-' {
				p[i] = hexDigits[rng.IntN(16)]
			}
		}
	}
	out := make([][]byte, n)
	prev := ""
	for i := range n {
		t := tpls[i%len(tpls)]
		rec := bytes.Clone(t.data)
		for _, span := range t.ids {
			randomHex(rec[span[0]:span[1]])
		}
		hash := make([]byte, 64)
		randomHex(hash)
		chain := fmt.Appendf(nil, `,"seq":%d,"prev_hash":"%s","hash":"%s"`, i+1, prev, hash)
		out[i] = slices.Insert(rec, t.chainAt, chain...)
		if !json.Valid(out[i]) {
			b.Fatalf("workload record %d is not JSON: %s", i, out[i])
		}
		prev = string(hash)
	}
	return out
}

func benchRawBytes(records [][]byte) int {
	n := 0
	for _, r := range records {
		n += len(r)
	}
	return n
}

// BenchmarkPipelineThroughput: records per second on one core through the
// whole buffer path: Push into the Queue, Take in 1 MiB batches, Append to
// the Spool (on disk), read back with Oldest, NDJSON and zstd for delivery,
// Remove.
func BenchmarkPipelineThroughput(b *testing.B) {
	records := benchWorkload(b, benchRecords)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	dir := b.TempDir()
	c := NewCompressor()
	var plain, body []byte
	for b.Loop() {
		q := NewQueue(64 << 20)
		for _, r := range records {
			if err := q.Push(r); err != nil {
				b.Fatal(err)
			}
		}
		sp, err := OpenSpool(dir, 64<<20, 4<<20)
		if err != nil {
			b.Fatal(err)
		}
		delivered := 0
		for q.Len() > 0 {
			batch := q.Take(1 << 20)
			if written, lost, err := sp.Append(batch); err != nil || written != len(batch) || lost.Records != 0 {
				b.Fatalf("Append: wrote %d of %d, lost %d, %v", written, len(batch), lost.Records, err)
			}
			name, recs, lost, err := sp.Oldest()
			if err != nil || lost.Records != 0 || len(recs) != len(batch) {
				b.Fatalf("Oldest: %d records of %d, lost %d, %v", len(recs), len(batch), lost.Records, err)
			}
			plain = AppendNDJSON(plain[:0], recs)
			if body, err = c.Compress(body[:0], Zstd, plain); err != nil {
				b.Fatal(err)
			}
			if err := sp.Remove(name); err != nil {
				b.Fatal(err)
			}
			delivered += len(recs)
		}
		if err := sp.Close(); err != nil {
			b.Fatal(err)
		}
		if delivered != len(records) {
			b.Fatalf("delivered %d records of %d", delivered, len(records))
		}
	}
	b.ReportMetric(float64(len(records)*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkCompressedSize: bytes per record on the wire, raw NDJSON and
// after zstd and gzip, for delivery batches of 1 record (a flush after each
// invoke) up to 1,000 (about 1 MiB, a backlog).
func BenchmarkCompressedSize(b *testing.B) {
	records := benchWorkload(b, benchRecords)
	for _, size := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			c := NewCompressor()
			var plain, body []byte
			var raw, zstd, gzip int
			for b.Loop() {
				raw, zstd, gzip = 0, 0, 0
				for batch := range slices.Chunk(records, size) {
					plain = AppendNDJSON(plain[:0], batch)
					raw += len(plain)
					var err error
					if body, err = c.Compress(body[:0], Zstd, plain); err != nil {
						b.Fatal(err)
					}
					zstd += len(body)
					if body, err = c.Compress(body[:0], Gzip, plain); err != nil {
						b.Fatal(err)
					}
					gzip += len(body)
				}
			}
			n := float64(len(records))
			b.ReportMetric(float64(raw)/n, "raw-B/record")
			b.ReportMetric(float64(zstd)/n, "zstd-B/record")
			b.ReportMetric(float64(gzip)/n, "gzip-B/record")
		})
	}
}

// BenchmarkQueueMemory: live heap held by a Queue of 10,000 records, the
// records included (the queue owns them), measured after a GC.
func BenchmarkQueueMemory(b *testing.B) {
	records := benchWorkload(b, benchRecords)
	var held int64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		q := NewQueue(64 << 20)
		for _, r := range records {
			if err := q.Push(bytes.Clone(r)); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		held = int64(after.HeapAlloc) - int64(before.HeapAlloc)
		runtime.KeepAlive(q)
	}
	per10k := 10_000 / float64(len(records))
	b.ReportMetric(float64(held)*per10k, "B/10k-records")
	b.ReportMetric(float64(benchRawBytes(records))*per10k, "raw-B/10k-records")
}
