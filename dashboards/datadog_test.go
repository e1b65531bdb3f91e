package dashboards

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const (
	ddPipelineFile  = "datadog/pipeline.json"
	ddDashboardFile = "datadog/dashboard.json"
	ddFacetsFile    = "datadog/facets.json"
)

// ddStandard are the Datadog standard attributes that pipeline.json's
// remappers and parsers write (the record's attributes stay too).
var ddStandard = map[string]string{
	"@network.client.ip":     "from client.address",
	"@network.client.geoip":  "the GeoIP parser's output on network.client.ip",
	"@usr.id":                "from user.id",
	"@usr.name":              "from user.name",
	"@http.method":           "from http.request.method",
	"@http.status_code":      "from http.response.status_code",
	"@http.url_details.path": "from url.path",
	"@http.useragent":        "from user_agent.original",
	"@duration":              "from event.duration (both in nanoseconds)",
	"@evt.outcome":           "from event.outcome",
	"@error.kind":            "from error.type",
}

// ddReserved are Datadog's reserved attributes (written without @) that
// the datadog sink sets on each entry, and the list stream's columns.
var ddReserved = map[string]string{
	"source":      "the entry's ddsource: audittrail",
	"ddsource":    "the intake's name of source",
	"service":     "the entry's service: AUDITTRAIL_DATADOG_SERVICE, else faas.name",
	"status":      "the entry's status, set by the sink from the record",
	"host":        "the entry's hostname (AUDITTRAIL_DATADOG_HOSTNAME)",
	"timestamp":   "the entry's timestamp: the record's @timestamp in epoch milliseconds",
	"status_line": "the list stream's status column",
}

// datadog names a record field @ and its dotted path (Datadog parses the
// entry's message, the record's JSON, into attributes); arrays of objects
// are flattened (@security.findings.type).
var datadog = siem{
	name:  "Datadog",
	added: merged(ddReserved, ddStandard),
	path: func(name string) ([]string, bool) {
		a, ok := strings.CutPrefix(name, "@")
		if !ok {
			return nil, false
		}
		return strings.Split(a, "."), true
	},
	implicitArrays: true,
}

func merged(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

var (
	ddString      = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	ddTemplateVar = regexp.MustCompile(`\$([A-Za-z_]\w*)(?:\.value)?`)
	// ddTerm is an attribute or tag before its value: @http.route:/x,
	// -@user.id:*, source:audittrail.
	ddTerm = regexp.MustCompile(`(?:^|[\s(])-?(@?[A-Za-z_@][\w.@\-]*):`)
)

// ddQueryFields returns the attributes (@name) and reserved attributes or
// tags (name) a Datadog log query names, in order. Quoted values and
// template variables ($function) are dropped first.
func ddQueryFields(q string) ([]string, error) {
	unquoted := ddString.ReplaceAllString(q, `""`)
	if strings.Count(unquoted, `"`)%2 != 0 {
		return nil, fmt.Errorf("unterminated string in the Datadog query %q", q)
	}
	unquoted = ddTemplateVar.ReplaceAllString(unquoted, " ")
	var fields []string
	for _, m := range ddTerm.FindAllStringSubmatch(unquoted, -1) {
		fields = append(fields, m[1])
	}
	return fields, nil
}

// ddTemplateVars returns the template variables a query uses.
func ddTemplateVars(q string) []string {
	var vars []string
	for _, m := range ddTemplateVar.FindAllStringSubmatch(q, -1) {
		vars = append(vars, m[1])
	}
	return vars
}

// ddProcessorField names a pipeline processor's attribute the way queries
// do: attribute paths in processors have no @, reserved attributes none
// either.
func ddProcessorField(a string) string {
	if _, ok := ddReserved[a]; ok {
		return a
	}
	return "@" + a
}

func TestDatadogExtractor(t *testing.T) {
	runExtractorCases(t, datadog, []extractorCase{
		{
			name: "record attributes and the source",
			src:  "source:audittrail @event.action:invocation @http.response.status_code:(401 OR 403)",
			want: []string{"source", "@event.action", "@http.response.status_code"},
		},
		{
			name:    "made up",
			src:     "source:audittrail @http.rute:/users -@user.idd:* @faas.coldstart:true",
			want:    []string{"source", "@http.rute", "@user.idd", "@faas.coldstart"},
			refused: []string{"@http.rute", "@user.idd"},
		},
		{
			name:    "reserved attributes and tags",
			src:     "sorce:audittrail service:orders-api status:error",
			want:    []string{"sorce", "service", "status"},
			refused: []string{"sorce"},
		},
		{
			name: "ranges, values with colons, quotes, template variables",
			src:  `$function @http.response.status_code:>=500 @api.source_arns:arn:aws:sqs:x @error.message:"a @b:c" $env.value`,
			want: []string{"@http.response.status_code", "@api.source_arns", "@error.message"},
		},
		{
			name:    "flattened arrays",
			src:     "@security.findings.type:injection_attempt @security.findings.sevrity:high",
			want:    []string{"@security.findings.type", "@security.findings.sevrity"},
			refused: []string{"@security.findings.sevrity"},
		},
		{
			name:    "an unterminated string",
			src:     `@http.route:"/users`,
			wantErr: "unterminated",
		},
	}, ddQueryFields)
}

// ddFacet is one entry of facets.json.
type ddFacet struct {
	Path        string `json:"path"`
	Kind        string `json:"kind"` // facet or measure
	Type        string `json:"type"` // string, integer, double, boolean
	Group       string `json:"group"`
	Description string `json:"description"`
}

// loadFacets reads facets.json.
func loadFacets(t testing.TB) []ddFacet {
	t.Helper()
	var f struct {
		Facets []ddFacet `json:"facets"`
	}
	if err := json.Unmarshal([]byte(readFile(t, ddFacetsFile)), &f); err != nil {
		t.Fatalf("%s: %v", ddFacetsFile, err)
	}
	if len(f.Facets) == 0 {
		t.Fatalf("%s lists no facets", ddFacetsFile)
	}
	return f.Facets
}

// ddSchemaType is the facet type each JSON Schema type takes.
var ddSchemaType = map[string]string{"string": "string", "integer": "integer", "number": "double", "boolean": "boolean"}

func TestDatadogFacets(t *testing.T) {
	schema := loadSchema(t)
	seen := map[string]bool{}
	var refs []fieldRef
	for _, f := range loadFacets(t) {
		at := ddFacetsFile + ": " + f.Path
		refs = append(refs, fieldRef{f.Path, at})
		if seen[f.Path] {
			t.Errorf("%s: listed twice", at)
		}
		seen[f.Path] = true
		if f.Kind != "facet" && f.Kind != "measure" || f.Group == "" || f.Description == "" {
			t.Errorf("%s: want a kind (facet or measure), a group and a description: %+v", at, f)
		}
		p, ok := datadog.path(f.Path)
		if !ok {
			continue // checkRefs reports it
		}
		n, err := schema.lookup(p, true)
		if err != nil {
			continue // checkRefs reports it
		}
		if want := ddSchemaType[n.kind()]; f.Type != want {
			t.Errorf("%s: type %q, but the record's field is a %s (want %q)", at, f.Type, n.kind(), want)
		}
		if f.Kind == "measure" && f.Type != "integer" && f.Type != "double" {
			t.Errorf("%s: a measure must be a number", at)
		}
	}
	datadog.checkRefs(t, schema, refs)
}

// ddDashboard is the Dashboards API's dashboard, as far as the tests read it.
type ddDashboard struct {
	Title             string `json:"title"`
	LayoutType        string `json:"layout_type"`
	TemplateVariables []struct {
		Name   string `json:"name"`
		Prefix string `json:"prefix"`
	} `json:"template_variables"`
	Widgets []ddWidget `json:"widgets"`
}

type ddWidget struct {
	Definition struct {
		Title    string      `json:"title"`
		Type     string      `json:"type"`
		Requests []ddRequest `json:"requests"`
		Widgets  []ddWidget  `json:"widgets"` // of a group
	} `json:"definition"`
}

type ddRequest struct {
	ResponseFormat string    `json:"response_format"`
	Queries        []ddQuery `json:"queries"`
	Formulas       []struct {
		Formula string `json:"formula"`
	} `json:"formulas"`
	// Query and Columns are a list stream's.
	Query *struct {
		DataSource  string `json:"data_source"`
		QueryString string `json:"query_string"`
	} `json:"query"`
	Columns []struct {
		Field string `json:"field"`
	} `json:"columns"`
}

type ddQuery struct {
	DataSource string `json:"data_source"`
	Name       string `json:"name"`
	Search     struct {
		Query string `json:"query"`
	} `json:"search"`
	Compute struct {
		Aggregation string `json:"aggregation"`
		Metric      string `json:"metric"`
	} `json:"compute"`
	GroupBy []struct {
		Facet string `json:"facet"`
		Sort  struct {
			Metric string `json:"metric"`
		} `json:"sort"`
	} `json:"group_by"`
}

// ddFormulaName is a name in a formula: a query's, or a function's when
// an opening parenthesis follows.
var ddFormulaName = regexp.MustCompile(`[A-Za-z_]\w*\s*\(?`)

// ddDashboardFields checks the dashboard's structure and returns the
// fields it uses.
func ddDashboardFields(t *testing.T, d ddDashboard, facets map[string]string) []fieldRef {
	t.Helper()
	var refs []fieldRef
	declared := map[string]bool{}
	for _, v := range d.TemplateVariables {
		declared[v.Name] = true
		refs = append(refs, fieldRef{v.Prefix, ddDashboardFile + ": template variable " + v.Name})
	}
	used := map[string]bool{}
	query := func(at, q string) {
		if !strings.Contains(q, "source:audittrail") {
			t.Errorf("%s: the query %q does not keep to source:audittrail", at, q)
		}
		fields, err := ddQueryFields(q)
		if err != nil {
			t.Errorf("%s: %v", at, err)
		}
		for _, f := range fields {
			refs = append(refs, fieldRef{f, at})
		}
		for _, v := range ddTemplateVars(q) {
			used[v] = true
			if !declared[v] {
				t.Errorf("%s: the template variable $%s is not declared", at, v)
			}
		}
	}
	facet := func(at, name, kind string) {
		refs = append(refs, fieldRef{name, at})
		if _, ok := ddReserved[name]; ok {
			return
		}
		if got, ok := facets[name]; !ok || got != kind {
			t.Errorf("%s: %s must be listed in %s as a %s (it is %q)", at, name, ddFacetsFile, kind, got)
		}
	}
	var widgets func(ws []ddWidget)
	widgets = func(ws []ddWidget) {
		for _, w := range ws {
			def := w.Definition
			at := fmt.Sprintf("%s: widget %q", ddDashboardFile, def.Title)
			if def.Type == "group" {
				widgets(def.Widgets)
				continue
			}
			if def.Title == "" || def.Type == "" || len(def.Requests) == 0 {
				t.Errorf("%s: want a title, a type and requests", at)
			}
			for _, r := range def.Requests {
				if r.Query != nil { // a list stream
					if r.Query.DataSource != "logs_stream" || len(r.Columns) == 0 {
						t.Errorf("%s: a list stream of logs_stream with columns, please", at)
					}
					query(at, r.Query.QueryString)
					for _, c := range r.Columns {
						refs = append(refs, fieldRef{c.Field, at + " column"})
					}
					continue
				}
				if len(r.Queries) == 0 || len(r.Formulas) == 0 {
					t.Errorf("%s: a request without queries or formulas", at)
				}
				names := map[string]bool{}
				for _, q := range r.Queries {
					if q.DataSource != "logs" || q.Name == "" || q.Compute.Aggregation == "" {
						t.Errorf("%s: query %q: want data_source logs, a name and a compute", at, q.Name)
					}
					names[q.Name] = true
					query(at, q.Search.Query)
					if q.Compute.Metric != "" {
						facet(at+" compute", q.Compute.Metric, "measure")
					}
					for _, g := range q.GroupBy {
						facet(at+" group by", g.Facet, "facet")
						if g.Sort.Metric != "" {
							facet(at+" sort", g.Sort.Metric, "measure")
						}
					}
				}
				for _, f := range r.Formulas {
					for _, n := range ddFormulaName.FindAllString(f.Formula, -1) {
						if !strings.HasSuffix(n, "(") && !names[n] {
							t.Errorf("%s: the formula %q names no query %q", at, f.Formula, n)
						}
					}
				}
			}
		}
	}
	widgets(d.Widgets)
	for v := range declared {
		if !used[v] {
			t.Errorf("%s: the template variable $%s is used by no query", ddDashboardFile, v)
		}
	}
	return refs
}

func TestDatadogDashboard(t *testing.T) {
	schema := loadSchema(t)
	var d ddDashboard
	if err := json.Unmarshal([]byte(readFile(t, ddDashboardFile)), &d); err != nil {
		t.Fatalf("%s: %v", ddDashboardFile, err)
	}
	if d.Title == "" || d.LayoutType != "ordered" && d.LayoutType != "free" || len(d.Widgets) == 0 {
		t.Errorf("%s: want a title, a layout_type (ordered or free) and widgets", ddDashboardFile)
	}
	facets := map[string]string{}
	for _, f := range loadFacets(t) {
		facets[f.Path] = f.Kind
	}
	refs := ddDashboardFields(t, d, facets)
	datadog.checkRefs(t, schema, refs)
	datadog.checkRequired(t, refs)
	for _, r := range refs {
		if _, ok := ddStandard[r.name]; ok {
			t.Errorf("%s: use the record's attribute rather than the standard attribute %s, so that the dashboard works without the pipeline", r.at, r.name)
		}
	}
}

// ddPipeline is the Logs Pipelines API's pipeline.
type ddPipeline struct {
	Name      string `json:"name"`
	IsEnabled bool   `json:"is_enabled"`
	Filter    struct {
		Query string `json:"query"`
	} `json:"filter"`
	Processors []struct {
		Type               string   `json:"type"`
		Name               string   `json:"name"`
		IsEnabled          bool     `json:"is_enabled"`
		Sources            []string `json:"sources"`
		SourceType         string   `json:"source_type"`
		Target             string   `json:"target"`
		TargetType         string   `json:"target_type"`
		PreserveSource     *bool    `json:"preserve_source"`
		OverrideOnConflict *bool    `json:"override_on_conflict"`
		Categories         []struct {
			Filter struct {
				Query string `json:"query"`
			} `json:"filter"`
		} `json:"categories"`
	} `json:"processors"`
}

func TestDatadogPipeline(t *testing.T) {
	schema := loadSchema(t)
	var p ddPipeline
	if err := json.Unmarshal([]byte(readFile(t, ddPipelineFile)), &p); err != nil {
		t.Fatalf("%s: %v", ddPipelineFile, err)
	}
	if p.Name == "" || !p.IsEnabled || p.Filter.Query != "source:audittrail" {
		t.Errorf("%s: want a name, is_enabled and the filter source:audittrail, got %q %v %q", ddPipelineFile, p.Name, p.IsEnabled, p.Filter.Query)
	}
	refs := []fieldRef{}
	if fields, err := ddQueryFields(p.Filter.Query); err == nil {
		for _, f := range fields {
			refs = append(refs, fieldRef{f, ddPipelineFile + ": filter"})
		}
	}
	kinds := map[string]int{}
	targets := map[string]bool{}
	for i, pr := range p.Processors {
		at := fmt.Sprintf("%s: processor %d (%s)", ddPipelineFile, i, pr.Type)
		kinds[pr.Type]++
		if pr.Name == "" || !pr.IsEnabled || len(pr.Sources) == 0 {
			t.Errorf("%s: want a name, is_enabled and sources", at)
		}
		for _, s := range pr.Sources {
			refs = append(refs, fieldRef{ddProcessorField(s), at})
		}
		for _, c := range pr.Categories {
			fields, err := ddQueryFields(c.Filter.Query)
			if err != nil {
				t.Errorf("%s: %v", at, err)
			}
			for _, f := range fields {
				refs = append(refs, fieldRef{f, at})
			}
		}
		switch pr.Type {
		case "date-remapper", "status-remapper":
		case "attribute-remapper":
			if pr.SourceType != "attribute" || pr.TargetType != "attribute" || pr.PreserveSource == nil || !*pr.PreserveSource ||
				pr.OverrideOnConflict == nil || *pr.OverrideOnConflict {
				t.Errorf("%s: remap attribute to attribute, preserve the source (the dashboard reads it) and override nothing", at)
			}
			targets["@"+pr.Target] = true
		case "geo-ip-parser":
			targets["@"+pr.Target] = true
		default:
			t.Errorf("%s: a processor type the tests do not know", at)
		}
	}
	if kinds["date-remapper"] != 1 || kinds["status-remapper"] != 1 {
		t.Errorf("%s: want one date remapper and one status remapper, got %v", ddPipelineFile, kinds)
	}
	for _, pr := range p.Processors {
		if pr.Type == "date-remapper" && !slices.Contains(pr.Sources, "@timestamp") {
			t.Errorf("%s: the date remapper must read the record's @timestamp", ddPipelineFile)
		}
	}
	if want := slices.Sorted(maps.Keys(ddStandard)); !slices.Equal(slices.Sorted(maps.Keys(targets)), want) {
		t.Errorf("%s: the standard attributes written are %q; the allow-list ddStandard says %q", ddPipelineFile, slices.Sorted(maps.Keys(targets)), want)
	}
	datadog.checkRefs(t, schema, refs)
}
