package datadog

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestReadFields(t *testing.T) {
	tests := []struct {
		rec  string
		want fields
	}{
		{`{"@timestamp":"2026-12-01T07:17:51.5Z","event":{"id":"e1","kind":"event","action":"invocation","outcome":"failure","duration":1371000},` +
			`"audit":{"schema_version":"1","env_id":"env","seq":11,"hash":"ab"},"faas":{"name":"orders-api","max_memory":134217728},` +
			`"http":{"request":{"header":{"x-forwarded-for":["203.0.113.10"]}}},"log":{"level":"WARN","message":"a \"quoted\" }{ ]["}}`,
			func() (f fields) {
				f.Timestamp = "2026-12-01T07:17:51.5Z"
				f.Event.ID, f.Event.Action, f.Event.Outcome = "e1", "invocation", "failure"
				f.Audit.EnvID, f.Audit.Seq = "env", "11"
				f.Faas.Name, f.Log.Level = "orders-api", "WARN"
				return f
			}()},
		// Escapes in keys and values, other types where strings belong,
		// duplicates (the last wins, as in encoding/json).
		{`{"\u0040timestamp":"2026\u002d12","event":{"id":5,"action":"a\\b"},"event":{"outcome":"success"},"audit":{"seq":"7"},"faas":"x"}`,
			func() (f fields) {
				f.Timestamp = "2026-12"
				f.Event.Outcome = "success"
				return f
			}()},
		{`not json`, fields{}},
		{`{"event":{"id":"cut`, fields{}},
		{`[{"event":{"id":"in an array"}}]`, fields{}},
	}
	for _, tt := range tests {
		var f fields
		readFields([]byte(tt.rec), &f)
		if f != tt.want {
			t.Errorf("readFields(%.50s)\n got %+v\nwant %+v", tt.rec, f, tt.want)
		}
	}
}

// fieldsByEncodingJSON is what readFields must find: the record decoded by
// encoding/json into maps.
func fieldsByEncodingJSON(rec []byte) (fields, bool) {
	d := json.NewDecoder(bytes.NewReader(rec))
	d.UseNumber()
	var m map[string]any
	if d.Decode(&m) != nil || d.More() {
		return fields{}, false
	}
	str := func(obj any, key string) string {
		o, _ := obj.(map[string]any)
		s, _ := o[key].(string)
		return s
	}
	var f fields
	f.Timestamp = str(m, "@timestamp")
	f.Event.ID, f.Event.Action, f.Event.Outcome = str(m["event"], "id"), str(m["event"], "action"), str(m["event"], "outcome")
	f.Audit.EnvID = str(m["audit"], "env_id")
	if a, ok := m["audit"].(map[string]any); ok {
		if n, ok := a["seq"].(json.Number); ok {
			f.Audit.Seq = n.String()
		}
	}
	f.Faas.Name = str(m["faas"], "name")
	f.Log.Level = str(m["log"], "level")
	return f, true
}

// FuzzReadFields checks readFields against encoding/json on every valid
// JSON object, and that it never panics on anything else.
func FuzzReadFields(f *testing.F) {
	for _, name := range []string{"invocations", "gaps_and_logs", "truncated", "outside_window"} {
		for _, r := range readRecords(f, name) {
			f.Add(r)
		}
	}
	f.Add([]byte(`{"event":{"id":"\ud83d\ude00","action":"\u00e9"},"a":[1,{"b":"]"}],"log":{"level":null}}`))
	f.Add([]byte(`{"audit":{"seq":-1.5e3},"event":{"id":"x\"y\\"}}`))
	f.Fuzz(func(t *testing.T, rec []byte) {
		var got fields
		readFields(rec, &got)
		if !json.Valid(rec) {
			return
		}
		want, ok := fieldsByEncodingJSON(rec)
		if ok && got != want {
			t.Fatalf("readFields(%q)\n got %+v\nwant %+v", rec, got, want)
		}
	})
}
