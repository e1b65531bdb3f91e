package schema

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

func TestSeqsOf(t *testing.T) {
	rec := func(env string, seq int64) []byte {
		r := InvocationRecord(Environment{EnvID: env}, fmt.Sprint(seq), Exchange{}, time.Unix(0, 0))
		r.Audit.Seq = seq
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a1, a2, a5, b3 := rec("a", 1), rec("a", 2), rec("a", 5), rec("b", 3)
	unsealed := rec("a", 0)
	size := func(rs ...[]byte) (n int64) {
		for _, r := range rs {
			n += int64(len(r))
		}
		return n
	}
	garbage := [][]byte{[]byte(`not json`), []byte(`{"audit":{"env_id":"a","seq":"7"}}`), []byte(`{"audit":{"seq":4}}`), []byte(`null`), nil}
	tests := []struct {
		name string
		in   [][]byte
		want []EnvSeqs
	}{
		{"none", nil, nil},
		{"one environment, out of order, with a hole", [][]byte{a5, a1, a2}, []EnvSeqs{{"a", 1, 5, 3, size(a1, a2, a5)}}},
		{"two environments in order of first appearance", [][]byte{b3, a2, a1, b3}, []EnvSeqs{
			{"b", 3, 3, 2, size(b3, b3)},
			{"a", 1, 2, 2, size(a1, a2)},
		}},
		{"garbage and unsealed records counted apart", append([][]byte{a2, unsealed}, garbage...), []EnvSeqs{
			{"a", 2, 2, 1, size(a2)},
			{"", 0, 0, int64(1 + len(garbage)), size(unsealed) + size(garbage...)},
		}},
		{"garbage first", [][]byte{[]byte(`{`), a1}, []EnvSeqs{{"", 0, 0, 1, 1}, {"a", 1, 1, 1, size(a1)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SeqsOf(tt.in); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("SeqsOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// FuzzSeqsOf: any records give entries that add up, never a panic.
func FuzzSeqsOf(f *testing.F) {
	f.Add([]byte(`{"audit":{"env_id":"a","seq":3}}`), []byte(`{"audit":{"env_id":"a","seq":1}}`))
	f.Add([]byte(`{"audit":{"env_id":"","seq":-1}}`), []byte(`[`))
	f.Add([]byte(`{"audit":{"env_id":"b","seq":9223372036854775807}}`), []byte(`{"audit":7}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		in := [][]byte{a, b, a}
		var records, size int64
		seen := map[string]bool{}
		for _, e := range SeqsOf(in) {
			if seen[e.EnvID] {
				t.Fatalf("environment %q twice", e.EnvID)
			}
			seen[e.EnvID] = true
			records, size = records+e.Records, size+e.Bytes
			if e.EnvID == "" && (e.From != 0 || e.To != 0) || e.EnvID != "" && (e.From < 1 || e.To < e.From) || e.Records < 1 {
				t.Fatalf("bad entry %+v", e)
			}
		}
		if records != 3 || size != int64(2*len(a)+len(b)) {
			t.Fatalf("%d records, %d bytes; want 3, %d", records, size, 2*len(a)+len(b))
		}
	})
}
