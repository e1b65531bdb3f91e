package schema

import (
	"encoding/json"
	"maps"
	"slices"
)

// Flatten renders a record as flat attributes with dotted names
// ("http.request.method"), the form OpenTelemetry log attributes take.
// Arrays stay arrays; objects nest into their dotted children.
func Flatten(r *Record) map[string]any {
	b, _ := json.Marshal(r)
	var nested map[string]any
	_ = json.Unmarshal(b, &nested)
	out := map[string]any{}
	flattenInto(out, "", nested)
	return out
}

func flattenInto(out map[string]any, prefix string, v any) {
	obj, ok := v.(map[string]any)
	if !ok {
		out[prefix] = v
		return
	}
	if len(obj) == 0 && prefix != "" {
		return
	}
	for _, k := range sortedKeys(obj) {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		flattenInto(out, name, obj[k])
	}
}

// sortedKeys returns the keys of m in order, so output is stable.
func sortedKeys(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}
