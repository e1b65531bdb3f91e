package elasticsearch

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// readRecords reads a JSON array of records, each kept as the one-line
// JSON object it is in the file.
func readRecords(t testing.TB, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := make([][]byte, len(raw))
	for i, r := range raw {
		var c bytes.Buffer
		if err := json.Compact(&c, r); err != nil {
			t.Fatal(err)
		}
		out[i] = c.Bytes()
	}
	return out
}

// TestEncodeGolden encodes each testdata/encode/<case>.json (records as the
// extension makes them: copied from schema/testdata and from a demo trail)
// and compares the body with <case>.golden. Cases named *_aoss are encoded
// for OpenSearch Serverless (no _id). Run with -update to rewrite the
// golden files after a deliberate change.
func TestEncodeGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/encode/*.json")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, in := range cases {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			records := readRecords(t, in)
			enc := newEncoder(DefaultDataStream, !strings.HasSuffix(name, "_aoss"))
			var b bulkBody
			enc.encode(&b, records)
			if len(b.bad) != 0 {
				t.Fatalf("records left out: %v", b.bad)
			}
			checkBulkBody(t, b.buf, records, enc.withID)

			golden := strings.TrimSuffix(in, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, b.buf, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(b.buf, want) {
				t.Errorf("body differs from %s (run with -update if the change is deliberate):\n got %s\nwant %s", golden, b.buf, want)
			}
		})
	}
}

// checkBulkBody checks a bulk body as Elasticsearch reads it: pairs of an
// action line and a document line, each a JSON object, the body ending in
// a newline; each action a create into the data stream, with the record's
// event.id as _id when withID and the record has a usable one.
func checkBulkBody(t *testing.T, body []byte, records [][]byte, withID bool) {
	t.Helper()
	if len(body) == 0 || body[len(body)-1] != '\n' {
		t.Fatal("the body does not end with a newline")
	}
	lines := bytes.Split(body[:len(body)-1], []byte("\n"))
	if len(lines) != 2*len(records) {
		t.Fatalf("%d lines for %d records", len(lines), len(records))
	}
	for i, rec := range records {
		var action map[string]struct {
			Index string  `json:"_index"`
			ID    *string `json:"_id"`
		}
		if err := json.Unmarshal(lines[2*i], &action); err != nil || len(action) != 1 {
			t.Fatalf("action %d %s: %v", i, lines[2*i], err)
		}
		create, ok := action["create"]
		if !ok || create.Index != DefaultDataStream {
			t.Errorf("action %d is not a create into %s: %s", i, DefaultDataStream, lines[2*i])
		}
		want := ""
		if withID {
			want = usableID(rec)
		}
		got := ""
		if create.ID != nil {
			got = *create.ID
		}
		if got != want {
			t.Errorf("action %d: _id %q, want %q", i, got, want)
		}
		if !bytes.Equal(lines[2*i+1], rec) {
			t.Errorf("document %d is not the record:\n got %s\nwant %s", i, lines[2*i+1], rec)
		}
	}
}

// usableID is the event.id that encoding/json's tokenizer finds, reading
// as eventID does (the first "event", the first "id" in it), when it can go
// into an _id ("" when not): the reference eventID is checked against.
func usableID(rec []byte) string {
	dec := json.NewDecoder(bytes.NewReader(rec))
	// find advances to the member name of the object being read.
	find := func(name string) bool {
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return false
			}
			if tok == name {
				return true
			}
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return false
			}
		}
		return false
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') || !find("event") {
		return ""
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') || !find("id") {
		return ""
	}
	var id any
	if dec.Decode(&id) != nil {
		return ""
	}
	if s, ok := id.(string); ok && len(s) <= maxIDBytes {
		return s
	}
	return ""
}

func TestEventID(t *testing.T) {
	for _, tt := range []struct {
		rec, want string // want "" means none
	}{
		{`{"event":{"id":"a"}}`, `"a"`},
		{` { "@timestamp" : "x" , "event" : { "kind":"event" , "id" : "b-1" } } `, `"b-1"`},
		{`{"event":{"id":"caf\u00e9"}}`, `"caf\u00e9"`},
		{`{"event":{"id":"say \"hi\""}}`, `"say \"hi\""`},
		{`{"\u0065vent":{"\u0069d":"escaped-keys"}}`, `"escaped-keys"`},
		{`{"event":{"id":"first"},"event":{"id":"second"}}`, `"first"`}, // Elasticsearch refuses duplicate keys anyway
		{`{"event":{"kind":"event"},"event":{"id":"second"}}`, ""},
		{`{"event":{"id":7,"id":"x"}}`, ""},
		{`{"audit":{"event":{"id":"nested"}},"event":{"id":"top"}}`, `"top"`},
		{`{"a":[1,{"event":{"id":"in-array"}},"s"],"event":{"id":"ok"}}`, `"ok"`},
		{`{"event":{"id":""}}`, ""},
		{`{"event":{"id":7}}`, ""},
		{`{"event":"id"}`, ""},
		{`{"event":{"id":"` + strings.Repeat("x", maxIDBytes) + `"}}`, `"` + strings.Repeat("x", maxIDBytes) + `"`},
		{`{"event":{"id":"` + strings.Repeat("x", maxIDBytes+1) + `"}}`, ""},
		{"{\"event\":{\"id\":\"bad \x01 control\"}}", ""},
		{`{"event":{"id":"bad \q escape"}}`, ""},
		{`{"event":{"id":"bad \u12 escape"}}`, ""},
		{"{\"event\":{\"id\":\"bad \xff utf-8\"}}", ""},
		{`{"event":{"id":"unterminated`, ""},
		{`{"event":{"id":"a"}`, `"a"`}, // malformed after the id: the backend judges the document
		{`{"event":{"kind":,"id":"a"}}`, ""},
		{`["event",{"id":"a"}]`, ""},
		{`not json`, ""},
		{``, ""},
		{strings.Repeat(`{"a":`, 300) + `1` + strings.Repeat(`}`, 300), ""},
	} {
		got, ok := eventID([]byte(tt.rec))
		if string(got) != tt.want || ok != (tt.want != "") {
			t.Errorf("eventID(%.60q) = %q, %v; want %q", tt.rec, got, ok, tt.want)
		}
	}
}

func TestEncodeLeavesOutUnframeableRecords(t *testing.T) {
	records := [][]byte{
		[]byte(`{"event":{"id":"a"}}`),
		[]byte("{\"event\":{\"id\":\"b\"},\n\"x\":1}"),
		{},
		[]byte(`{"event":{"id":"d"}}`),
	}
	var b bulkBody
	newEncoder("logs-x-y", true).encode(&b, records)
	if !slices.Equal(b.bad, []int{1, 2}) || !slices.Equal(b.idx, []int{0, 3}) {
		t.Errorf("bad %v, idx %v; want [1 2], [0 3]", b.bad, b.idx)
	}
	want := `{"create":{"_index":"logs-x-y","_id":"a"}}` + "\n" + `{"event":{"id":"a"}}` + "\n" +
		`{"create":{"_index":"logs-x-y","_id":"d"}}` + "\n" + `{"event":{"id":"d"}}` + "\n"
	if string(b.buf) != want {
		t.Errorf("body\n%s\nwant\n%s", b.buf, want)
	}
}

func TestChunks(t *testing.T) {
	// Documents of 10 bytes each: ends at 10, 20, ...
	body := func(sizes ...int) *bulkBody {
		b := &bulkBody{}
		end := 0
		for _, s := range sizes {
			end += s
			b.ends = append(b.ends, end)
		}
		return b
	}
	for _, tt := range []struct {
		sizes []int
		max   int
		want  []chunk
	}{
		{nil, 100, nil},
		{[]int{10, 10, 10}, 100, []chunk{{0, 3}}},
		{[]int{10, 10, 10}, 30, []chunk{{0, 3}}},
		{[]int{10, 10, 10}, 29, []chunk{{0, 2}, {2, 3}}},
		{[]int{10, 10, 10}, 10, []chunk{{0, 1}, {1, 2}, {2, 3}}},
		{[]int{50, 10, 10}, 20, []chunk{{0, 1}, {1, 3}}}, // an oversized document goes alone
		{[]int{10, 50, 10}, 20, []chunk{{0, 1}, {1, 2}, {2, 3}}},
	} {
		if got := body(tt.sizes...).chunks(tt.max); !slices.Equal(got, tt.want) {
			t.Errorf("chunks(%v, %d) = %v, want %v", tt.sizes, tt.max, got, tt.want)
		}
	}
}
