package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// trail seals n invocation records and a shutdown record for one
// environment, as the extension does.
func trail(t *testing.T, n int) [][]byte {
	t.Helper()
	b := NewBuilder(Environment{EnvID: "env-1", FunctionName: "fn"})
	var c Chain
	var out [][]byte
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for i := range n {
		r := InvocationRecord(Environment{EnvID: "env-1", FunctionName: "fn"}, fmt.Sprintf("r%d", i), Exchange{Event: []byte(`{}`)}, at)
		enc, err := c.Seal(&r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, enc)
	}
	for _, r := range b.Shutdown("spindown", at) {
		enc, _ := c.Seal(&r)
		out = append(out, enc)
	}
	return out
}

// reencode rewrites a record as a SIEM might: keys in another order,
// spaces, escaped characters.
func reencode(t *testing.T, rec []byte) []byte {
	var v map[string]any
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.MarshalIndent(v, "", "    ")
	return out
}

func verify(recs [][]byte) EnvReport {
	v := NewVerifier()
	for _, r := range recs {
		v.Add(r)
	}
	reps := v.Report()
	if len(reps) != 1 {
		return EnvReport{}
	}
	return reps[0]
}

func TestVerify(t *testing.T) {
	gapFor := func(from, to int64) []byte {
		r := NewBuilder(Environment{EnvID: "env-1"}).Gap(GapQueueFull, "extension", to-from+1, 0, "test", time.Unix(0, 0))
		r.Gap.SeqFrom, r.Gap.SeqTo = from, to
		b, _ := json.Marshal(r)
		return b
	}
	tests := []struct {
		name   string
		mutate func([][]byte) [][]byte
		check  func(t *testing.T, r EnvReport)
	}{
		{"complete", func(r [][]byte) [][]byte { return r }, func(t *testing.T, r EnvReport) {
			if !r.OK() || !r.Closed || r.Records != 6 || r.LastSeq != 6 {
				t.Errorf("report %+v", r)
			}
		}},
		{"re-encoded by a SIEM, shuffled", func(r [][]byte) [][]byte {
			out := [][]byte{}
			for i := len(r) - 1; i >= 0; i-- {
				out = append(out, reencode(t, r[i]))
			}
			return out
		}, func(t *testing.T, r EnvReport) {
			if !r.OK() || r.Records != 6 {
				t.Errorf("report %+v", r)
			}
		}},
		{"lost and accounted", func(r [][]byte) [][]byte {
			return append(append(r[:2:2], r[4:]...), gapFor(3, 4))
		}, func(t *testing.T, r EnvReport) {
			if !r.OK() || len(r.Accounted) != 1 || r.Accounted[0] != (SeqRange{3, 4}) {
				t.Errorf("report %+v", r)
			}
		}},
		{"lost silently", func(r [][]byte) [][]byte { return append(r[:2:2], r[3:]...) }, func(t *testing.T, r EnvReport) {
			if r.OK() || len(r.Unaccounted) != 1 || r.Unaccounted[0] != (SeqRange{3, 3}) {
				t.Errorf("report %+v", r)
			}
		}},
		{"gap covers only part", func(r [][]byte) [][]byte {
			return append(append(r[:1:1], r[4:]...), gapFor(2, 2))
		}, func(t *testing.T, r EnvReport) {
			if r.OK() || len(r.Unaccounted) != 1 || r.Unaccounted[0] != (SeqRange{2, 4}) {
				t.Errorf("report %+v", r)
			}
		}},
		{"altered", func(r [][]byte) [][]byte {
			r[1] = bytes.Replace(r[1], []byte(`"fn"`), []byte(`"other-fn"`), 1)
			return r
		}, func(t *testing.T, r EnvReport) {
			if r.OK() || len(r.Breaks) != 1 || r.Breaks[0].Seq != 2 || !strings.Contains(r.Breaks[0].Reason, "altered") {
				t.Errorf("report %+v", r)
			}
		}},
		{"delivered twice", func(r [][]byte) [][]byte { return append(r, r[2]) }, func(t *testing.T, r EnvReport) {
			if !r.OK() || r.Duplicates != 1 {
				t.Errorf("report %+v", r)
			}
		}},
		{"inserted record", func(r [][]byte) [][]byte {
			// A forged record 3 whose own hash is right but that does not
			// link to record 2.
			var c Chain
			forged := InvocationRecord(Environment{EnvID: "env-1"}, "forged", Exchange{Event: []byte(`{}`)}, time.Unix(0, 0))
			for range 2 {
				other := InvocationRecord(Environment{EnvID: "x"}, "x", Exchange{}, time.Unix(0, 0))
				_, _ = c.Seal(&other)
			}
			enc, _ := c.Seal(&forged)
			r[2] = enc
			return r
		}, func(t *testing.T, r EnvReport) {
			if r.OK() || len(r.Breaks) == 0 {
				t.Errorf("report %+v", r)
			}
		}},
		{"no shutdown yet", func(r [][]byte) [][]byte { return r[:5] }, func(t *testing.T, r EnvReport) {
			if !r.OK() || r.Closed {
				t.Errorf("report %+v", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, verify(tt.mutate(trail(t, 5))))
		})
	}
}

func TestUncovered(t *testing.T) {
	tests := []struct {
		r    SeqRange
		gaps []SeqRange
		want []SeqRange
	}{
		{SeqRange{3, 5}, nil, []SeqRange{{3, 5}}},
		{SeqRange{3, 5}, []SeqRange{{1, 10}}, nil},
		{SeqRange{3, 5}, []SeqRange{{4, 4}}, []SeqRange{{3, 3}, {5, 5}}},
		{SeqRange{3, 9}, []SeqRange{{6, 9}, {3, 4}}, []SeqRange{{5, 5}}},
		{SeqRange{1, 1 << 62}, []SeqRange{{1, 1 << 62}}, nil},
	}
	for _, tt := range tests {
		if got := uncovered(tt.r, tt.gaps); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("uncovered(%v, %v) = %v, want %v", tt.r, tt.gaps, got, tt.want)
		}
	}
}

func TestVerifyCountsInvalidLines(t *testing.T) {
	v := NewVerifier()
	v.Add([]byte(`not json`))
	v.Add([]byte(`{"event":{}}`))
	if v.Invalid != 2 || len(v.Report()) != 0 {
		t.Errorf("invalid %d, reports %d", v.Invalid, len(v.Report()))
	}
}

// FuzzVerifier: arbitrary lines never panic the verifier.
func FuzzVerifier(f *testing.F) {
	f.Add([]byte(`{"audit":{"env_id":"e","seq":1,"hash":"x"},"event":{"id":"a"}}`))
	f.Add([]byte(`{"audit":{"env_id":"e","seq":-5},"coverage_gap":{"seq_from":9,"seq_to":3}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		v := NewVerifier()
		v.Add(line)
		v.Add(line)
		_ = v.Report()
	})
}

// BenchmarkSeal: records per second numbered, hashed and encoded.
func BenchmarkSeal(b *testing.B) {
	x := Exchange{Event: []byte(`{"version":"2.0","routeKey":"GET /users/{id}","rawPath":"/users/1","requestContext":{"http":{"method":"GET","sourceIp":"192.0.2.1"}}}`)}
	r := InvocationRecord(Environment{EnvID: "e", FunctionName: "fn"}, "r1", x, time.Unix(0, 0))
	var c Chain
	const perLoop = 2000
	for b.Loop() {
		for range perLoop {
			rec := r
			if _, err := c.Seal(&rec); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*perLoop)/b.Elapsed().Seconds(), "records/s")
}
