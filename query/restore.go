package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/audittrail/audittrail/schema"
)

// Restore rebuilds a record from what a SIEM kept of it when the SIEM did
// not keep the record's JSON itself: VictoriaLogs returns every value as a
// string (numbers, booleans, and arrays as their JSON text), and Datadog
// adds attributes of its own. Each field is given back its schema type
// (schema.Record's), fields the schema does not know are dropped, and the
// result is encoded as the extension encodes records, so that its hash can
// be checked again (`audittrail verify`): a record the SIEM kept whole
// verifies, one it changed does not.
func Restore(rec map[string]any) ([]byte, error) {
	typed := coerce(rec, reflect.TypeFor[schema.Record]())
	b, err := json.Marshal(typed)
	if err != nil {
		return nil, fmt.Errorf("query: restore: %w", err)
	}
	var r schema.Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("query: restore: %w", err)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	if err := enc.Encode(&r); err != nil {
		return nil, fmt.Errorf("query: restore: %w", err)
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

// coerce converts v towards the JSON form of type t: strings holding
// numbers, booleans or JSON arrays become those, objects are walked by
// the JSON names of t's fields, and keys t does not have are dropped.
// Values it cannot convert are left as they are (and fail to decode, or
// change the hash, later: verify reports them).
func coerce(v any, t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[time.Time]() {
		return v
	}
	s, isString := v.(string)
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		out := make(map[string]any, len(m))
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			if fv, ok := m[name]; ok {
				out[name] = coerce(fv, f.Type)
			}
		}
		return out
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			out[k] = coerce(e, t.Elem())
		}
		return out
	case reflect.Slice, reflect.Array:
		if isString && strings.HasPrefix(strings.TrimSpace(s), "[") {
			dec := json.NewDecoder(strings.NewReader(s))
			dec.UseNumber()
			var a []any
			if dec.Decode(&a) == nil {
				v = a
			}
		}
		a, ok := v.([]any)
		if !ok {
			return v
		}
		out := make([]any, len(a))
		for i, e := range a {
			out[i] = coerce(e, t.Elem())
		}
		return out
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		if isString {
			if n, ok := number(s); ok {
				return json.Number(n)
			}
		}
	case reflect.Bool:
		switch s {
		case "true":
			return true
		case "false":
			return false
		}
	case reflect.String:
		if n, ok := v.(json.Number); ok {
			return n.String()
		}
	}
	return v
}
