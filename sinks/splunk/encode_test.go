package splunk

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden files")

// goldenMeta is the metadata of every golden case.
var goldenMeta = struct{ host, source, sourcetype, index string }{"orders-api", DefaultSource, DefaultSourcetype, "security"}

// goldenCases are the cases that differ from the defaults: the largest
// request body, and the records the encoder must refuse. A case without an
// entry here uses DefaultMaxBodyBytes and refuses nothing.
var goldenCases = map[string]struct {
	maxBody int
	refused []int
}{
	"split": {maxBody: 4000},
	"odd":   {refused: []int{7, 8}},
}

// readCase returns the records of testdata/<name>.json, a JSON array of
// records, each element's bytes as they are in the file.
func readCase(t testing.TB, name string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	batch := make([][]byte, len(raw))
	for i, r := range raw {
		batch[i] = r
	}
	return batch
}

// goldenBodies returns the request bodies of a golden file: one per line.
func goldenBodies(t testing.TB, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".golden"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// TestEncodeGolden encodes each testdata/<case>.json and compares the
// request bodies with testdata/<case>.golden, one body per line (HEC's
// bodies hold no newline). Run with -update to rewrite the golden files.
func TestEncodeGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			c := goldenCases[name]
			if c.maxBody == 0 {
				c.maxBody = DefaultMaxBodyBytes
			}
			batch := readCase(t, name)
			enc := newEncoder(goldenMeta.host, goldenMeta.source, goldenMeta.sourcetype, goldenMeta.index, c.maxBody)
			var out encoded
			enc.encode(&out, batch)

			if !slices.Equal(out.refused, c.refused) {
				t.Errorf("refused %v (%v), want %v", out.refused, out.refusal, c.refused)
			}
			var got bytes.Buffer
			sent := 0
			for _, r := range out.reqs {
				body := out.body[r.start:r.end]
				if len(body) > c.maxBody {
					t.Errorf("a body of %d bytes, more than %d", len(body), c.maxBody)
				}
				checkBody(t, body, r.to-r.from)
				sent += r.to - r.from
				got.Write(body)
				got.WriteByte('\n')
			}
			if sent+len(out.refused) != len(batch) {
				t.Errorf("%d records sent and %d refused, of %d", sent, len(out.refused), len(batch))
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("bodies differ from %s (run with -update to accept)\ngot:\n%s\nwant:\n%s", golden, got.Bytes(), want)
			}
		})
	}
}

// checkBody decodes a body as HEC does, a stream of JSON objects, and
// checks that it holds n envelopes, each with an object event.
func checkBody(t *testing.T, body []byte, n int) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	for i := 0; ; i++ {
		var env struct {
			Time  *json.Number   `json:"time"`
			Event map[string]any `json:"event"`
		}
		err := dec.Decode(&env)
		if err != nil {
			if i != n || err.Error() != "EOF" {
				t.Errorf("body: %d envelopes then %v, want %d", i, err, n)
			}
			return
		}
		if env.Event == nil {
			t.Errorf("envelope %d without an event object", i)
		}
	}
}

func TestEncodeSplitsWithinTheLimit(t *testing.T) {
	rec := []byte(`{"@timestamp":"2026-11-22T10:00:00Z","event":{"id":"x"}}`)
	enc := newEncoder("", "s", "st", "", 0)
	one, _ := enc.appendEvent(nil, rec)
	tests := []struct {
		maxBody, records int
		wantReqs         []int // records per request
	}{
		{len(one), 3, []int{1, 1, 1}},
		{2*len(one) - 1, 3, []int{1, 1, 1}},
		{2 * len(one), 3, []int{2, 1}},
		{3 * len(one), 3, []int{3}},
		{10 * len(one), 25, []int{10, 10, 5}},
	}
	for _, tt := range tests {
		enc.maxBody = tt.maxBody
		var out encoded
		enc.encode(&out, slices.Repeat([][]byte{rec}, tt.records))
		var got []int
		for i, r := range out.reqs {
			got = append(got, r.to-r.from)
			if r.end-r.start > tt.maxBody {
				t.Errorf("max %d: request %d has %d bytes", tt.maxBody, i, r.end-r.start)
			}
			if i > 0 && r.start != out.reqs[i-1].end {
				t.Errorf("max %d: request %d does not follow the one before", tt.maxBody, i)
			}
		}
		if !slices.Equal(got, tt.wantReqs) {
			t.Errorf("max %d, %d records: requests of %v, want %v", tt.maxBody, tt.records, got, tt.wantReqs)
		}
	}
}

func TestEncodeRefuses(t *testing.T) {
	big := `{"@timestamp":"2026-11-22T10:00:00Z","log":{"message":"` + strings.Repeat("x", 2000) + `"}}`
	tests := []struct {
		name string
		rec  string
	}{
		{"empty", ""},
		{"spaces", "   "},
		{"truncated", `{"@timestamp":"2026-11-22T10:00:00Z","event":{"id":"a"`},
		{"two objects", `{"a":1}{"b":2}`},
		{"two objects, fast path", `{"@timestamp":"2026-11-22T10:00:00Z"}x`},
		{"trailing garbage", `{"event":{"id":"a"}} x`},
		{"array", `[{"a":1}]`},
		{"null", `null`},
		{"number", `42`},
		{"too large", big},
	}
	enc := newEncoder("h", "s", "st", "i", 1024)
	for _, tt := range tests {
		var out encoded
		enc.encode(&out, [][]byte{[]byte(`{"ok":1}`), []byte(tt.rec), []byte(`{"ok":2}`)})
		if !slices.Equal(out.refused, []int{1}) || out.refusal == nil {
			t.Errorf("%s: refused %v (%v), want [1]", tt.name, out.refused, out.refusal)
		}
		if !slices.Equal(out.idx, []int{0, 2}) || string(out.body) != `{"host":"h","source":"s","sourcetype":"st","index":"i","event":{"ok":1}}{"host":"h","source":"s","sourcetype":"st","index":"i","event":{"ok":2}}` {
			t.Errorf("%s: sent %v as %s", tt.name, out.idx, out.body)
		}
	}
}

func TestEncodeMetadata(t *testing.T) {
	tests := []struct {
		host, index string
		want        string
	}{
		{"", "", `{"source":"audittrail","sourcetype":"audittrail","event":{}}`},
		{"orders-api", "", `{"host":"orders-api","source":"audittrail","sourcetype":"audittrail","event":{}}`},
		{"", "main", `{"source":"audittrail","sourcetype":"audittrail","index":"main","event":{}}`},
		{`q"uote\`, "main", `{"host":"q\"uote\\","source":"audittrail","sourcetype":"audittrail","index":"main","event":{}}`},
	}
	for _, tt := range tests {
		enc := newEncoder(tt.host, DefaultSource, DefaultSourcetype, tt.index, DefaultMaxBodyBytes)
		got, err := enc.appendEvent(nil, []byte(`{}`))
		if err != nil || string(got) != tt.want {
			t.Errorf("host %q index %q: %s, %v; want %s", tt.host, tt.index, got, err, tt.want)
		}
	}
}

func TestAppendEpoch(t *testing.T) {
	tests := []struct {
		at   string
		want string
	}{
		{"2026-12-01T07:17:51.322Z", "1796109471.322"},
		{"2026-12-01T07:17:51Z", "1796109471.000"},
		{"2026-12-01T07:17:51.0769Z", "1796109471.076"}, // truncated, not rounded
		{"2026-12-01T07:17:51.999999999Z", "1796109471.999"},
		{"1970-01-01T00:00:00.001Z", "0.001"},
		{"1970-01-01T00:00:01.05Z", "1.050"},
	}
	for _, tt := range tests {
		at, err := time.Parse(time.RFC3339Nano, tt.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(appendEpoch(nil, at.UnixMilli())); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.at, got, tt.want)
		}
	}
}

// FuzzEncode feeds the encoder arbitrary records: it must not panic, must
// account for every record (sent or refused), keep bodies within the
// limit, and make a valid envelope of every record that is valid JSON.
func FuzzEncode(f *testing.F) {
	for _, name := range []string{"odd", "telemetry"} {
		for _, rec := range readCase(f, name) {
			f.Add(rec)
		}
	}
	f.Add([]byte(`{"@timestamp":"2026-11-22T10:00:00Z"`))
	f.Add([]byte(`{"@timestamp":"\"}`))
	f.Fuzz(func(t *testing.T, rec []byte) {
		enc := newEncoder("h", "s", "st", "i", 2048)
		var out encoded
		enc.encode(&out, [][]byte{rec, rec})
		if len(out.idx)+len(out.refused) != 2 || (len(out.refused) > 0) != (out.refusal != nil) {
			t.Fatalf("sent %v, refused %v (%v)", out.idx, out.refused, out.refusal)
		}
		for _, r := range out.reqs {
			if r.end-r.start > 2048 {
				t.Fatalf("a body of %d bytes", r.end-r.start)
			}
		}
		trimmed := bytes.TrimSpace(rec)
		if len(out.idx) == 0 || !json.Valid(trimmed) {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(out.body))
		for range 2 {
			var env struct{ Event json.RawMessage }
			if err := dec.Decode(&env); err != nil {
				t.Fatalf("body %q: %v", out.body, err)
			}
			if !bytes.Equal(env.Event, trimmed) {
				t.Fatalf("event %q, want %q", env.Event, trimmed)
			}
		}
	})
}
