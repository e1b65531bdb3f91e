package dashboards

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const (
	kibanaFile = "kibana/audittrail.ndjson"
	// esTemplateFile holds the mappings the elasticsearch sink installs
	// (`audittrail elasticsearch-template`); the Kibana assets rely on it.
	esTemplateFile = "../sinks/elasticsearch/template.json"
	// esDataStream is the elasticsearch sink's default data stream.
	esDataStream = "logs-audittrail-default"
)

// kibana names the record's fields by their dotted paths; Elasticsearch
// flattens arrays of objects (security.findings.type).
var kibana = siem{
	name: "Kibana",
	added: map[string]string{
		"_id":           "the document's id (the elasticsearch sink sets it to event.id)",
		"_index":        "the data stream's backing index",
		"___records___": "Lens's name for the count of documents",
	},
	path: func(name string) ([]string, bool) {
		if strings.HasPrefix(name, "_") {
			return nil, false
		}
		return strings.Split(name, "."), true
	},
	implicitArrays: true,
}

// savedObject is one line of a saved objects export.
type savedObject struct {
	Type                 string         `json:"type"`
	ID                   string         `json:"id"`
	Attributes           map[string]any `json:"attributes"`
	References           []reference    `json:"references"`
	CoreMigrationVersion string         `json:"coreMigrationVersion"`
	TypeMigrationVersion string         `json:"typeMigrationVersion"`
	// decoded are the attributes with their JSON strings (visState,
	// panelsJSON, searchSourceJSON...) decoded.
	decoded map[string]any
}

// reference is a saved object's reference to another.
type reference struct {
	Name string `json:"name"`
	Type string `json:"type"`
	ID   string `json:"id"`
}

func (o savedObject) String() string { return o.Type + " " + o.ID }

// jsonAttributes are the attributes Kibana stores as JSON in a string.
var jsonAttributes = []string{
	"visState", "uiStateJSON", "panelsJSON", "optionsJSON",
	"fieldAttrs", "fieldFormatMap", "fields", "runtimeFieldMap", "sourceFilters", "typeMeta",
}

// parseSavedObject reads one NDJSON line and decodes its JSON strings.
func parseSavedObject(line string) (savedObject, error) {
	var o savedObject
	if err := json.Unmarshal([]byte(line), &o); err != nil {
		return o, err
	}
	if o.Type == "" || o.ID == "" || o.Attributes == nil {
		return o, fmt.Errorf("a saved object needs a type, an id and attributes")
	}
	o.decoded = maps.Clone(o.Attributes)
	decode := func(m map[string]any, key string) error {
		s, ok := m[key].(string)
		if !ok {
			return nil
		}
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return fmt.Errorf("%s: attribute %s is not JSON: %w", o, key, err)
		}
		m[key] = v
		return nil
	}
	for _, key := range jsonAttributes {
		if err := decode(o.decoded, key); err != nil {
			return o, err
		}
	}
	if meta, ok := o.Attributes["kibanaSavedObjectMeta"].(map[string]any); ok {
		meta = maps.Clone(meta)
		if err := decode(meta, "searchSourceJSON"); err != nil {
			return o, err
		}
		o.decoded["kibanaSavedObjectMeta"] = meta
	}
	return o, nil
}

// kqlString is a double-quoted KQL string.
var kqlString = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// kqlField is a field name before a KQL operator: field:value,
// field >= value, field < value.
var kqlField = regexp.MustCompile(`(?:^|[\s(])([A-Za-z_@][\w.@*\-]*)\s*(?::|<=|>=|<|>)`)

// kqlFields returns the fields a KQL query names, in order. Values are
// after the operator, so they are never taken for fields; quoted strings
// are dropped first.
func kqlFields(q string) ([]string, error) {
	unquoted := kqlString.ReplaceAllString(q, `""`)
	if strings.Count(unquoted, `"`)%2 != 0 {
		return nil, fmt.Errorf("unterminated string in KQL %q", q)
	}
	var fields []string
	for _, m := range kqlField.FindAllStringSubmatch(unquoted, -1) {
		fields = append(fields, m[1])
	}
	return fields, nil
}

// kibanaField is a field a saved object uses; agg says it is aggregated
// (a bucket or metric field), so it must be aggregatable.
type kibanaField struct {
	name string
	agg  bool
}

// kibanaFields returns every field a saved object uses: in its queries
// (KQL), aggregations (field, sourceField), columns, sort, time field,
// field settings (fieldAttrs, fieldFormatMap) and a data view's field
// list.
func kibanaFields(o savedObject) ([]kibanaField, error) {
	var out []kibanaField
	var walk func(v any) error
	walk = func(v any) error {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				if err := walk(e); err != nil {
					return err
				}
			}
		case map[string]any:
			if q, ok := v["query"].(string); ok {
				if lang, _ := v["language"].(string); lang != "kuery" {
					return fmt.Errorf("%s: query %q in language %q: the queries are KQL (kuery)", o, q, lang)
				}
				fields, err := kqlFields(q)
				if err != nil {
					return fmt.Errorf("%s: %w", o, err)
				}
				for _, f := range fields {
					out = append(out, kibanaField{name: f})
				}
			}
			for _, k := range slices.Sorted(maps.Keys(v)) {
				switch e := v[k].(type) {
				case string:
					switch k {
					case "field", "sourceField":
						out = append(out, kibanaField{name: e, agg: true})
					case "timeFieldName":
						out = append(out, kibanaField{name: e})
					}
				case []any:
					switch k {
					case "columns":
						for _, c := range e {
							if c, ok := c.(string); ok {
								out = append(out, kibanaField{name: c})
							}
						}
					case "sort":
						for _, s := range e {
							if s, ok := s.([]any); ok && len(s) > 0 {
								if f, ok := s[0].(string); ok {
									out = append(out, kibanaField{name: f})
								}
							}
						}
					}
				case map[string]any:
					if k == "fieldAttrs" || k == "fieldFormatMap" {
						for _, f := range slices.Sorted(maps.Keys(e)) {
							out = append(out, kibanaField{name: f})
						}
					}
				}
				if err := walk(v[k]); err != nil {
					return err
				}
			}
		}
		return nil
	}
	// A data view's field list: [{"name": "event.outcome", ...}, ...].
	if fields, ok := o.decoded["fields"].([]any); ok && o.Type == "index-pattern" {
		for _, f := range fields {
			if f, ok := f.(map[string]any); ok {
				if name, ok := f["name"].(string); ok {
					out = append(out, kibanaField{name: name})
				}
			}
		}
	}
	err := walk(o.decoded)
	return out, err
}

func TestKibanaExtractor(t *testing.T) {
	runExtractorCases(t, kibana, []extractorCase{
		{
			name: "record fields",
			src:  "event.action:invocation and http.response.status_code:(401 or 403)",
			want: []string{"event.action", "http.response.status_code"},
		},
		{
			name:    "made up",
			src:     "event.outcom:failure or not faas.coldstrt:true",
			want:    []string{"event.outcom", "faas.coldstrt"},
			refused: []string{"event.outcom", "faas.coldstrt"},
		},
		{
			name: "ranges",
			src:  "http.response.status_code >= 500 and aws.lambda.duration_ms<100",
			want: []string{"http.response.status_code", "aws.lambda.duration_ms"},
		},
		{
			name: "quoted values are not fields",
			src:  `error.message:"a.b: c" and user.id:* and @timestamp < "2026-01-01T10:00:00Z"`,
			want: []string{"error.message", "user.id", "@timestamp"},
		},
		{
			name:    "Elasticsearch's own fields",
			src:     "_id:abc or _idx:x",
			want:    []string{"_id", "_idx"},
			refused: []string{"_idx"},
		},
		{
			name:    "flattened arrays",
			src:     "security.findings.type:injection_attempt and security.findings.typ:x",
			want:    []string{"security.findings.type", "security.findings.typ"},
			refused: []string{"security.findings.typ"},
		},
		{
			name:    "an unterminated string",
			src:     `http.route:"/users`,
			wantErr: "unterminated",
		},
	}, kqlFields)

	// Every place of a saved object that names a field.
	obj := func(attrs string) string {
		return `{"type":"visualization","id":"v","attributes":` + attrs + `,"references":[]}`
	}
	runExtractorCases(t, kibana, []extractorCase{
		{
			name: "aggregations, query, columns and sort",
			src: obj(`{"visState":"{\"aggs\":[{\"params\":{\"field\":\"faas.nmae\"}},{\"params\":{\"field\":\"faas.name\"}}]}",` +
				`"columns":["user.idd"],"sort":[["@timestamp","desc"]],` +
				`"kibanaSavedObjectMeta":{"searchSourceJSON":"{\"query\":{\"query\":\"event.acton:x\",\"language\":\"kuery\"}}"}}`),
			want:    []string{"user.idd", "event.acton", "@timestamp", "faas.nmae", "faas.name"},
			refused: []string{"user.idd", "event.acton", "faas.nmae"},
		},
		{
			name:    "data view settings",
			src:     obj(`{"timeFieldName":"@timestamp","fieldAttrs":"{\"user.id\":{},\"user.nam\":{}}","fieldFormatMap":"{\"event.duraton\":{}}"}`),
			want:    []string{"user.id", "user.nam", "event.duraton", "@timestamp"},
			refused: []string{"user.nam", "event.duraton"},
		},
		{
			name:    "a data view's field list",
			src:     `{"type":"index-pattern","id":"d","attributes":{"fields":"[{\"name\":\"faas.name\"},{\"name\":\"faas.nam\"}]"}}`,
			want:    []string{"faas.name", "faas.nam"},
			refused: []string{"faas.nam"},
		},
		{
			name:    "Lucene is not read",
			src:     obj(`{"kibanaSavedObjectMeta":{"searchSourceJSON":"{\"query\":{\"query\":\"a:b\",\"language\":\"lucene\"}}"}}`),
			wantErr: "KQL",
		},
		{
			name:    "a JSON attribute that is not JSON",
			src:     obj(`{"visState":"{not json"}`),
			wantErr: "not JSON",
		},
	}, func(src string) ([]string, error) {
		o, err := parseSavedObject(src)
		if err != nil {
			return nil, err
		}
		fields, err := kibanaFields(o)
		var names []string
		for _, f := range fields {
			names = append(names, f.name)
		}
		return names, err
	})
}

// loadKibana reads the saved objects.
func loadKibana(t *testing.T) []savedObject {
	t.Helper()
	var objs []savedObject
	sc := bufio.NewScanner(strings.NewReader(readFile(t, kibanaFile)))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			t.Fatalf("%s:%d: an empty line", kibanaFile, n)
		}
		o, err := parseSavedObject(sc.Text())
		if err != nil {
			t.Fatalf("%s:%d: %v", kibanaFile, n, err)
		}
		objs = append(objs, o)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return objs
}

// dashboardPanel is one entry of a dashboard's panelsJSON.
type dashboardPanel struct {
	Type         string `json:"type"`
	PanelIndex   string `json:"panelIndex"`
	PanelRefName string `json:"panelRefName"`
	GridData     struct {
		X, Y, W, H int
		I          string `json:"i"`
	} `json:"gridData"`
}

func TestKibanaSavedObjects(t *testing.T) {
	objs := loadKibana(t)
	byKey := map[string]savedObject{}
	for _, o := range objs {
		if _, dup := byKey[o.Type+"/"+o.ID]; dup {
			t.Errorf("%s twice", o)
		}
		byKey[o.Type+"/"+o.ID] = o
		switch o.Type {
		case "index-pattern", "search", "visualization", "lens", "dashboard":
		default:
			t.Errorf("%s: unexpected type", o)
		}
		if !strings.HasPrefix(o.CoreMigrationVersion, "8.") || o.TypeMigrationVersion == "" {
			t.Errorf("%s: want the 8.x export format (coreMigrationVersion 8.x and a typeMigrationVersion), got %q, %q",
				o, o.CoreMigrationVersion, o.TypeMigrationVersion)
		}
		if title, _ := o.Attributes["title"].(string); title == "" {
			t.Errorf("%s: no title", o)
		}
	}
	onDashboard := map[string]bool{}
	dashboards := 0
	for _, o := range objs {
		refs := map[string]reference{}
		for _, r := range o.References {
			refs[r.Name] = r
			if _, ok := byKey[r.Type+"/"+r.ID]; !ok {
				t.Errorf("%s: reference %s to %s %s, which is not in %s", o, r.Name, r.Type, r.ID, kibanaFile)
			}
		}
		if meta, ok := o.decoded["kibanaSavedObjectMeta"].(map[string]any); ok {
			src, _ := meta["searchSourceJSON"].(map[string]any)
			if name, ok := src["indexRefName"].(string); ok {
				if r, ok := refs[name]; !ok || r.Type != "index-pattern" {
					t.Errorf("%s: searchSourceJSON.indexRefName %q names no index-pattern reference", o, name)
				}
			} else if o.Type == "search" || o.Type == "visualization" {
				t.Errorf("%s: searchSourceJSON has no indexRefName: the object has no data view", o)
			}
		}
		switch o.Type {
		case "index-pattern":
			title, _ := o.Attributes["title"].(string)
			if ok, _ := path.Match(title, esDataStream); !ok {
				t.Errorf("%s: the data view %q does not match the sink's data stream %s", o, title, esDataStream)
			}
			if o.Attributes["timeFieldName"] != "@timestamp" {
				t.Errorf("%s: the time field must be @timestamp", o)
			}
		case "dashboard":
			dashboards++
			raw, _ := o.Attributes["panelsJSON"].(string)
			var panels []dashboardPanel
			if err := json.Unmarshal([]byte(raw), &panels); err != nil {
				t.Fatalf("%s: panelsJSON: %v", o, err)
			}
			if len(panels) == 0 {
				t.Errorf("%s: no panels", o)
			}
			seen := map[string]bool{}
			for _, p := range panels {
				if p.PanelIndex == "" || seen[p.PanelIndex] || p.GridData.I != p.PanelIndex {
					t.Errorf("%s: panel %q: want a unique panelIndex equal to gridData.i (%q)", o, p.PanelIndex, p.GridData.I)
				}
				seen[p.PanelIndex] = true
				if p.GridData.W <= 0 || p.GridData.H <= 0 || p.GridData.X+p.GridData.W > 48 {
					t.Errorf("%s: panel %s does not fit the 48-column grid: %+v", o, p.PanelIndex, p.GridData)
				}
				r, ok := refs[p.PanelIndex+":"+p.PanelRefName]
				if !ok {
					t.Errorf("%s: panel %s: no reference named %s:%s", o, p.PanelIndex, p.PanelIndex, p.PanelRefName)
					continue
				}
				if r.Type != p.Type {
					t.Errorf("%s: panel %s is a %s but its reference is to a %s", o, p.PanelIndex, p.Type, r.Type)
				}
				onDashboard[r.Type+"/"+r.ID] = true
			}
		}
	}
	if dashboards != 1 {
		t.Errorf("%d dashboards, want 1", dashboards)
	}
	for _, o := range objs {
		if (o.Type == "visualization" || o.Type == "lens") && !onDashboard[o.Type+"/"+o.ID] {
			t.Errorf("%s is on no dashboard", o)
		}
	}
}

// esType returns the type template.json maps path to: the leaf's type,
// "object" for an object, "keyword" below an object with dynamic mapping
// (the template maps new strings as keywords).
func esType(mappings map[string]any, p []string) (string, error) {
	node := mappings
	for i, seg := range p {
		props, _ := node["properties"].(map[string]any)
		child, ok := props[seg].(map[string]any)
		if !ok {
			if i > 0 && node["dynamic"] == true {
				return "keyword", nil
			}
			return "", fmt.Errorf("%s is not mapped", strings.Join(p[:i+1], "."))
		}
		node = child
	}
	if t, ok := node["type"].(string); ok {
		return t, nil
	}
	return "object", nil
}

// aggregatable are the mapping types Kibana can aggregate on.
var aggregatable = map[string]bool{
	"keyword": true, "long": true, "integer": true, "short": true, "double": true, "float": true,
	"date": true, "boolean": true, "ip": true,
}

func TestKibanaFields(t *testing.T) {
	schema := loadSchema(t)
	var tmpl struct {
		Template struct {
			Mappings map[string]any `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal([]byte(readFile(t, esTemplateFile)), &tmpl); err != nil {
		t.Fatalf("%s: %v", esTemplateFile, err)
	}
	var refs []fieldRef
	for _, o := range loadKibana(t) {
		fields, err := kibanaFields(o)
		if err != nil {
			t.Error(err)
		}
		for _, f := range fields {
			refs = append(refs, fieldRef{f.name, kibanaFile + ": " + o.String()})
			p, ok := kibana.path(f.name)
			if !f.agg || !ok {
				continue
			}
			switch typ, err := esType(tmpl.Template.Mappings, p); {
			case err != nil:
				t.Errorf("%s: %s is aggregated but %s: %v", o, f.name, esTemplateFile, err)
			case !aggregatable[typ]:
				t.Errorf("%s: %s is aggregated but mapped as %s in %s", o, f.name, typ, esTemplateFile)
			}
		}
	}
	kibana.checkRefs(t, schema, refs)
	kibana.checkRequired(t, refs)
}

func TestESType(t *testing.T) {
	var m map[string]any
	if err := json.Unmarshal([]byte(`{"dynamic":true,"properties":{"a":{"properties":{"b":{"type":"keyword"},"t":{"type":"text"}}},
		"h":{"type":"object","dynamic":true}}}`), &m); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, want, wantErr string }{
		{"a.b", "keyword", ""}, {"a.t", "text", ""}, {"a", "object", ""}, {"h.x-forwarded-for", "keyword", ""},
		{"a.c", "", "a.c is not mapped"}, {"z", "", "z is not mapped"},
	} {
		got, err := esType(m, strings.Split(tt.path, "."))
		if got != tt.want || (err == nil) != (tt.wantErr == "") || err != nil && err.Error() != tt.wantErr {
			t.Errorf("esType(%s) = %q, %v; want %q, %q", tt.path, got, err, tt.want, tt.wantErr)
		}
	}
}
