package schema

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// jsonSchema describes a Go type as JSON Schema (draft 2020-12), following
// its json tags: a field without omitempty is required.
func jsonSchema(t reflect.Type) map[string]any {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[time.Time]():
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.String:
		return map[string]any{"type": "string"}
	case t.Kind() == reflect.Bool:
		return map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return map[string]any{"type": "integer"}
	case t.Kind() == reflect.Float64 || t.Kind() == reflect.Float32:
		return map[string]any{"type": "number"}
	case t.Kind() == reflect.Slice:
		return map[string]any{"type": "array", "items": jsonSchema(t.Elem())}
	case t.Kind() == reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": jsonSchema(t.Elem())}
	case t.Kind() == reflect.Struct:
		props := map[string]any{}
		var required []string
		for f := range t.Fields() {
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			props[name] = jsonSchema(f.Type)
			if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
				required = append(required, name)
			}
		}
		s := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	panic("jsonSchema: unsupported type " + t.String())
}

// fieldPaths lists the dotted paths of every leaf field of t.
func fieldPaths(t reflect.Type, prefix string) []string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeFor[time.Time]() {
		return []string{prefix}
	}
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		p := name
		if prefix != "" {
			p = prefix + "." + name
		}
		out = append(out, fieldPaths(f.Type, p)...)
	}
	return out
}

// TestJSONSchemaIsCurrent keeps record.schema.json in step with Record.
func TestJSONSchemaIsCurrent(t *testing.T) {
	s := jsonSchema(reflect.TypeFor[Record]())
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = "https://github.com/audittrail/audittrail/schema/record.schema.json"
	s["title"] = "audittrail audit record, schema version " + Version
	got, _ := json.MarshalIndent(s, "", "  ")
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile("record.schema.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("record.schema.json")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("record.schema.json is out of date (run go test ./schema -update): %v", err)
	}
}

// TestREADMEDocumentsEveryField fails when a record field is not in
// schema/README.md.
func TestREADMEDocumentsEveryField(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range fieldPaths(reflect.TypeFor[Record](), "") {
		if !bytes.Contains(readme, []byte("| `"+p+"` |")) {
			t.Errorf("schema/README.md does not document %s", p)
		}
	}
}

// TestRecordsMatchTheJSONSchema checks the golden records against the
// schema's required fields and types (a small validator: enough for the
// shapes Record produces).
func TestRecordsMatchTheJSONSchema(t *testing.T) {
	data, err := os.ReadFile("record.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	_ = json.Unmarshal(data, &s)
	goldens, _ := filepath.Glob("testdata/telemetry/*.golden.ndjson")
	for _, g := range goldens {
		lines, _ := os.ReadFile(g)
		for _, line := range bytes.Split(bytes.TrimSpace(lines), []byte("\n")) {
			var v map[string]any
			_ = json.Unmarshal(line, &v)
			if _, rejected := v["rejected"]; rejected {
				continue
			}
			if err := validate(s, v, ""); err != "" {
				t.Errorf("%s: %s", g, err)
			}
		}
	}
}

func validate(s map[string]any, v any, path string) string {
	switch s["type"] {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return path + ": not an object"
		}
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := obj[r.(string)]; !ok {
					return path + "." + r.(string) + ": required"
				}
			}
		}
		for k, val := range obj {
			sub, ok := props[k].(map[string]any)
			if !ok {
				if ap, ok := s["additionalProperties"].(map[string]any); ok {
					sub = ap
				} else {
					return path + "." + k + ": not in the schema"
				}
			}
			if e := validate(sub, val, path+"."+k); e != "" {
				return e
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return path + ": not an array"
		}
		for _, e := range arr {
			if err := validate(s["items"].(map[string]any), e, path+"[]"); err != "" {
				return err
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			return path + ": not a string"
		}
	case "integer", "number":
		if _, ok := v.(float64); !ok {
			return path + ": not a number"
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return path + ": not a boolean"
		}
	}
	return ""
}
