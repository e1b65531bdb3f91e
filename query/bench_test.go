package query

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audittrail/audittrail/schema"
	"github.com/audittrail/audittrail/sinks/file"
)

// benchRecords is the size of the benchmarks' file store.
const benchRecords = 100_000

// writeBenchStore writes n sealed invocation records to a file store in
// dir: the records the schema's golden cases make from their sample events
// and responses (schema/testdata/events), one chain per 1,000 records, in batches of 100
// as the extension delivers them.
func writeBenchStore(b *testing.B, dir string, n int) {
	b.Helper()
	paths, err := filepath.Glob("../schema/testdata/events/*.json")
	if err != nil {
		b.Fatal(err)
	}
	var cases []schema.Exchange
	for _, p := range paths {
		if strings.HasSuffix(p, ".golden.json") {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		var c struct {
			Event     json.RawMessage `json:"event"`
			Response  json.RawMessage `json:"response"`
			ErrorType string          `json:"error_type"`
		}
		if err := json.Unmarshal(data, &c); err != nil {
			b.Fatalf("%s: %v", p, err)
		}
		x := schema.Exchange{Event: c.Event, EventSize: int64(len(c.Event)), ErrorType: c.ErrorType}
		if len(c.Response) > 0 && string(c.Response) != "null" {
			x.Response, x.ResponseSize = c.Response, int64(len(c.Response))
		}
		cases = append(cases, x)
	}
	if len(cases) == 0 {
		b.Fatal("no sample events in ../schema/testdata/events")
	}
	sink, err := file.New(file.Config{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var chain schema.Chain
	var env schema.Environment
	var batch [][]byte
	for i := range n {
		if i%1000 == 0 {
			env = schema.Environment{EnvID: fmt.Sprintf("env-%d", i/1000), FunctionName: "orders-api",
				FunctionVersion: "$LATEST", Region: "us-east-1", AccountID: "123456789012", MemoryMB: 128}
			chain = schema.Chain{}
		}
		rec := schema.InvocationRecord(env, fmt.Sprintf("req-%d", i), cases[i%len(cases)], base.Add(time.Duration(i)*time.Millisecond))
		line, err := chain.Seal(&rec)
		if err != nil {
			b.Fatal(err)
		}
		if batch = append(batch, line); len(batch) == 100 || i == n-1 {
			if err := sink.Write(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := sink.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkScanFiles scans a file store of 100k realistic records and
// reports records/s and the seconds a million records would take.
func BenchmarkScanFiles(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "trail")
	writeBenchStore(b, dir, benchRecords)
	for _, bc := range []struct{ name, filter string }{
		{"all", ""},
		{"selective", "http.request.method=DELETE"}, // rare: the byte check skips most
		{"wildcard", "api.gateway=apigateway-* http.route=/users/*"},
		{"numeric", "http.response.status_code>=400"}, // no byte check: every record decoded
		{"ne", "event.outcome!=success"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			conds, err := Parse(bc.filter)
			if err != nil {
				b.Fatal(err)
			}
			q := Query{Conds: conds}
			matched := 0
			for b.Loop() {
				matched = 0
				err := ScanFiles(b.Context(), []string{dir}, q, func([]byte, map[string]any) error {
					matched++
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			perSec := float64(benchRecords) * float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(perSec, "records/s")
			b.ReportMetric(1e6/perSec, "s/Mrecords")
			b.ReportMetric(float64(matched), "matched")
		})
	}
}
