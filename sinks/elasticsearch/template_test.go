package elasticsearch

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/audittrail/audittrail/sinks"
)

// TestInstallTemplate installs the templates on a stand-in that answers as
// Elasticsearch documents for PUT _component_template/<name> and PUT
// _index_template/<name>: {"acknowledged": true}, or the error envelope.
// Documented example, no real peer here produces it: VictoriaLogs answers
// {} to _index_template and has no _component_template.
func TestInstallTemplate(t *testing.T) {
	type put struct {
		method, path, query, contentType, auth string
		body                                   []byte
	}
	serve := func(answers map[string]string, status int) (*httptest.Server, func() []put) {
		var mu sync.Mutex
		var puts []put
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			b, _ := io.ReadAll(r.Body)
			puts = append(puts, put{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), b})
			w.Header().Set("Content-Type", "application/json")
			file := answers[r.URL.Path]
			if file == "" {
				file = "ack.json"
			}
			if strings.HasPrefix(file, "error") {
				w.WriteHeader(status)
			}
			_, _ = w.Write([]byte(readFile(t, "testdata/responses/"+file)))
		}))
		t.Cleanup(srv.Close)
		return srv, func() []put { mu.Lock(); defer mu.Unlock(); return slices.Clone(puts) }
	}

	t.Run("acknowledged", func(t *testing.T) {
		srv, puts := serve(nil, 0)
		err := InstallTemplate(t.Context(), Config{URL: srv.URL + "/base?pipeline=x", DataStream: "logs-audittrail-orders", APIKey: sinks.StaticSecret("a2V5")})
		if err != nil {
			t.Fatal(err)
		}
		p := puts()
		if len(p) != 2 {
			t.Fatalf("%d requests", len(p))
		}
		comp, idx := p[0], p[1]
		if comp.method != http.MethodPut || comp.path != "/base/_component_template/"+ComponentTemplate || comp.query != "" ||
			comp.contentType != "application/json" || comp.auth != "ApiKey a2V5" || string(comp.body) != string(mappings) {
			t.Errorf("component template request: %+v", comp)
		}
		if idx.method != http.MethodPut || idx.path != "/base/_index_template/logs-audittrail-orders" || idx.query != "" {
			t.Errorf("index template request: %+v", idx)
		}
		var tmpl struct {
			IndexPatterns []string        `json:"index_patterns"`
			DataStream    json.RawMessage `json:"data_stream"`
			ComposedOf    []string        `json:"composed_of"`
			Priority      int             `json:"priority"`
		}
		if err := json.Unmarshal(idx.body, &tmpl); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(tmpl.IndexPatterns, []string{"logs-audittrail-orders"}) || string(tmpl.DataStream) != "{}" ||
			!slices.Equal(tmpl.ComposedOf, []string{ComponentTemplate}) || tmpl.Priority <= 100 {
			t.Errorf("index template %s", idx.body)
		}
	})
	t.Run("not acknowledged", func(t *testing.T) {
		srv, _ := serve(map[string]string{"/_index_template/" + DefaultDataStream: "ack_false.json"}, 0)
		if err := InstallTemplate(t.Context(), Config{URL: srv.URL}); err == nil || !strings.Contains(err.Error(), "acknowledge") {
			t.Errorf("InstallTemplate: %v", err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		srv, puts := serve(map[string]string{"/_component_template/" + ComponentTemplate: "error_index_template_invalid.json"}, 400)
		err := InstallTemplate(t.Context(), Config{URL: srv.URL})
		if !sinks.IsPermanent(err) || !strings.Contains(err.Error(), "is invalid") {
			t.Errorf("InstallTemplate: %v", err)
		}
		if len(puts()) != 1 {
			t.Error("the index template was put after the component template failed")
		}
	})
	t.Run("bad config", func(t *testing.T) {
		if err := InstallTemplate(t.Context(), Config{}); err == nil {
			t.Error("no URL accepted")
		}
	})
}

// TestTemplateCoversTheSchema checks template.json against
// schema/record.schema.json: every field of the record is mapped, with a
// type that takes its values, and nothing else is.
func TestTemplateCoversTheSchema(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal([]byte(readFile(t, "../../schema/record.schema.json")), &schema); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{} // field -> JSON Schema type
	var walkSchema func(prefix string, props map[string]any)
	walkSchema = func(prefix string, props map[string]any) {
		for name, p := range props {
			p := p.(map[string]any)
			typ, _ := p["type"].(string)
			if f, _ := p["format"].(string); f == "date-time" {
				typ = "date-time"
			}
			if typ == "array" {
				p = p["items"].(map[string]any) // an array maps as its items do
				typ, _ = p["type"].(string)
			}
			if sub, ok := p["properties"].(map[string]any); ok {
				walkSchema(prefix+name+".", sub)
				continue
			}
			want[prefix+name] = typ
		}
	}
	walkSchema("", schema["properties"].(map[string]any))

	var tmpl struct {
		Template struct {
			Mappings struct {
				Properties map[string]any `json:"properties"`
			} `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal(mappings, &tmpl); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{} // field -> mapping type
	var walkMapping func(prefix string, props map[string]any)
	walkMapping = func(prefix string, props map[string]any) {
		for name, p := range props {
			p := p.(map[string]any)
			if sub, ok := p["properties"].(map[string]any); ok {
				walkMapping(prefix+name+".", sub)
				continue
			}
			got[prefix+name], _ = p["type"].(string)
		}
	}
	walkMapping("", tmpl.Template.Mappings.Properties)

	takes := map[string][]string{
		"string":    {"keyword", "text", "ip"},
		"date-time": {"date", "date_nanos"},
		"integer":   {"long"},
		"number":    {"double"},
		"boolean":   {"boolean"},
		"object":    {"object"}, // http.request.header: names the record chooses
	}
	var fields []string
	for f := range want {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		if m, ok := got[f]; !ok {
			t.Errorf("%s (%s) has no mapping", f, want[f])
		} else if !slices.Contains(takes[want[f]], m) {
			t.Errorf("%s is %s in the schema, mapped as %s", f, want[f], m)
		}
	}
	for f := range got {
		if _, ok := want[f]; !ok {
			t.Errorf("%s is mapped but not in the schema", f)
		}
	}
}
