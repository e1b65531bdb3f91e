package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The record's JSON Schema, generated from schema/record.go.
const schemaFile = "../schema/record.schema.json"

// schemaNode is one node of the record's JSON Schema: an object with
// properties (or additionalProperties), an array with items, or a scalar.
type schemaNode struct {
	Type       any                    `json:"type"`
	Format     string                 `json:"format"`
	Properties map[string]*schemaNode `json:"properties"`
	Items      *schemaNode            `json:"items"`
	// Additional is additionalProperties when it is a schema (an object of
	// free keys, such as http.request.header); nil otherwise.
	Additional *schemaNode `json:"-"`
}

// UnmarshalJSON reads a node, taking additionalProperties only when it is
// a schema (it may also be a boolean).
func (n *schemaNode) UnmarshalJSON(b []byte) error {
	type plain schemaNode
	var raw struct {
		plain
		Additional json.RawMessage `json:"additionalProperties"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*n = schemaNode(raw.plain)
	if a := strings.TrimSpace(string(raw.Additional)); strings.HasPrefix(a, "{") {
		n.Additional = new(schemaNode)
		return json.Unmarshal(raw.Additional, n.Additional)
	}
	return nil
}

// kind is the node's JSON type: object, array, string, integer, number or
// boolean ("null" left out of a list of types).
func (n *schemaNode) kind() string {
	switch t := n.Type.(type) {
	case string:
		return t
	case []any:
		for _, v := range t {
			if s, ok := v.(string); ok && s != "null" {
				return s
			}
		}
	}
	return ""
}

// arrayStep is the path step into an array's items.
const arrayStep = "[]"

// lookup walks path (field names, and arrayStep for an array's items)
// from n. With implicitArrays, a name after an array steps into its items
// first, as Elasticsearch and Datadog flatten arrays of objects; without,
// only arrayStep does (Splunk's {} and SQL's UNNEST).
func (n *schemaNode) lookup(path []string, implicitArrays bool) (*schemaNode, error) {
	cur := n
	for i, seg := range path {
		at := strings.Join(path[:i], ".")
		if at == "" {
			at = "the record"
		}
		if seg == arrayStep {
			if cur.kind() != "array" || cur.Items == nil {
				return nil, fmt.Errorf("%s is not an array", at)
			}
			cur = cur.Items
			continue
		}
		if implicitArrays {
			for cur.kind() == "array" && cur.Items != nil {
				cur = cur.Items
			}
		}
		switch next, ok := cur.Properties[seg]; {
		case ok:
			cur = next
		case cur.Additional != nil:
			cur = cur.Additional
		case cur.kind() == "array":
			return nil, fmt.Errorf("%s is an array: name its items' fields through it (%s)", at, arrayHint(implicitArrays))
		default:
			return nil, fmt.Errorf("no field %q in %s", seg, at)
		}
	}
	return cur, nil
}

func arrayHint(implicit bool) string {
	if implicit {
		return "the SIEM flattens it"
	}
	return "{} in Splunk, UNNEST in SQL"
}

// loadSchema reads the record's schema.
func loadSchema(t testing.TB) *schemaNode {
	t.Helper()
	b, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("read the record schema: %v", err)
	}
	var n schemaNode
	if err := json.Unmarshal(b, &n); err != nil {
		t.Fatalf("parse %s: %v", schemaFile, err)
	}
	if len(n.Properties) == 0 {
		t.Fatalf("%s has no properties", schemaFile)
	}
	return &n
}

// fieldRef is one field an asset uses, as the asset writes it.
type fieldRef struct {
	name string // as written: user.id, @user.id, security.findings{}.type
	at   string // where: file and object, for messages
}

// siem says how one SIEM names the record's fields.
type siem struct {
	name string
	// added are the fields outside the record that the SIEM itself (or its
	// ingestion: the sink's envelope, a pipeline) adds and that the assets
	// may use, with why. Nothing else outside the schema is accepted.
	added map[string]string
	// path turns a name into a path in the record, or returns ok false when
	// the name cannot be a record field (a Datadog tag or reserved
	// attribute, say).
	path func(name string) (p []string, ok bool)
	// implicitArrays: the SIEM flattens arrays of objects
	// (security.findings.type), instead of naming the step into them.
	implicitArrays bool
}

// check reports why name is neither a record field nor one the SIEM adds.
func (s siem) check(schema *schemaNode, name string) error {
	if _, ok := s.added[name]; ok {
		return nil
	}
	p, ok := s.path(name)
	if !ok {
		return fmt.Errorf("%s: %q is not a record field, nor one %s adds (the allow-list in the tests)", s.name, name, s.name)
	}
	if _, err := schema.lookup(p, s.implicitArrays); err != nil {
		return fmt.Errorf("%s: %q is not in %s: %w", s.name, name, filepath.Base(schemaFile), err)
	}
	return nil
}

// checkRefs fails t for every ref that check refuses.
func (s siem) checkRefs(t *testing.T, schema *schemaNode, refs []fieldRef) {
	t.Helper()
	if len(refs) == 0 {
		t.Errorf("%s: no field extracted from the assets at all: the extraction is broken", s.name)
	}
	for _, r := range refs {
		if err := s.check(schema, r.name); err != nil {
			t.Errorf("%s: %v", r.at, err)
		}
	}
}

// canonical is a record path written with dots and without array steps,
// the way the required fields below are named.
func canonical(p []string) string {
	return strings.Join(slices.DeleteFunc(slices.Clone(p), func(s string) bool { return s == arrayStep }), ".")
}

// requiredFields are the fields the panels every SIEM must have rest on:
// requests over time by outcome; 401/403 by principal and source; top
// routes; cold starts; errors and timeouts; coverage gaps; security
// findings.
var requiredFields = []string{
	"event.action", "event.outcome",
	"http.response.status_code", "user.id", "client.address",
	"http.route",
	"faas.coldstart",
	"aws.lambda.status", "error.type",
	"coverage_gap.reason", "coverage_gap.records",
	"security.findings.type", "security.findings.severity",
}

// checkRequired fails t when the refs of one SIEM leave out a required
// field: a panel is missing.
func (s siem) checkRequired(t *testing.T, refs []fieldRef) {
	t.Helper()
	used := map[string]bool{}
	for _, r := range refs {
		if p, ok := s.path(r.name); ok {
			used[canonical(p)] = true
		}
	}
	for _, f := range requiredFields {
		if !used[f] {
			t.Errorf("%s: no asset uses %s: a required panel is missing", s.name, f)
		}
	}
}

// readFile reads an asset, failing t if it cannot.
func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

func TestSchemaLookup(t *testing.T) {
	schema := loadSchema(t)
	tests := []struct {
		path     string
		implicit bool
		wantErr  string
	}{
		{"@timestamp", false, ""},
		{"event.outcome", false, ""},
		{"cloud.account.id", false, ""},
		{"http.request.header.x-forwarded-for", false, ""}, // additionalProperties
		{"security.findings.[].type", false, ""},
		{"security.findings.[].evidence.rule", false, ""},
		{"security.findings.type", true, ""},
		{"security.findings.type", false, "is an array"},
		{"event.[]", false, "not an array"},
		{"event.outcom", false, `no field "outcom" in event`},
		{"nosuch", false, `no field "nosuch" in the record`},
		{"event.outcome.deeper", false, `no field "deeper"`},
	}
	for _, tt := range tests {
		_, err := schema.lookup(strings.Split(tt.path, "."), tt.implicit)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("lookup(%s, implicit %v): %v", tt.path, tt.implicit, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("lookup(%s, implicit %v) = %v, want an error with %q", tt.path, tt.implicit, err, tt.wantErr)
		}
	}
}

// extractorCase is one case of the extractors' table tests: the fields
// extracted from src, in order, and those the check refuses.
type extractorCase struct {
	name    string
	src     string
	want    []string // extracted names
	refused []string // names check refuses: made up, or misspelled
	wantErr string   // an extraction error
}

// runExtractorCases runs cases through extract and s.check.
func runExtractorCases(t *testing.T, s siem, cases []extractorCase, extract func(string) ([]string, error)) {
	t.Helper()
	schema := loadSchema(t)
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := extract(tt.src)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("extract(%q) error = %v, want %q", tt.src, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("extract(%q): %v", tt.src, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("extract(%q)\n got %q\nwant %q", tt.src, got, tt.want)
			}
			var refused []string
			for _, name := range got {
				if s.check(schema, name) != nil {
					refused = append(refused, name)
				}
			}
			if !slices.Equal(refused, tt.refused) {
				t.Errorf("refused %q, want %q", refused, tt.refused)
			}
		})
	}
}

// TestREADME checks that the README names every asset, every Datadog
// facet, and the index template the Kibana assets rely on.
func TestREADME(t *testing.T) {
	readme := readFile(t, "README.md")
	var assets []string
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ext := filepath.Ext(path)
		if d.IsDir() || ext == ".go" || path == "README.md" {
			return nil
		}
		// The Splunk app is named as a whole, its files by their name.
		if strings.HasPrefix(path, filepath.Join("splunk", "audittrail")) {
			path = filepath.Base(path)
		}
		assets = append(assets, filepath.ToSlash(path))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(assets) < 10 {
		t.Fatalf("found %d assets, want at least 10: %q", len(assets), assets)
	}
	for _, a := range assets {
		if !strings.Contains(readme, a) {
			t.Errorf("README.md does not mention %s", a)
		}
	}
	for _, f := range loadFacets(t) {
		if !strings.Contains(readme, "`"+f.Path+"`") {
			t.Errorf("README.md does not list the Datadog facet `%s`", f.Path)
		}
	}
	// The Kibana assets need the sink's index template; the README points
	// to it rather than keeping a copy that could drift.
	for _, s := range []string{"sinks/elasticsearch/template.json", "audittrail elasticsearch-template"} {
		if !strings.Contains(readme, s) {
			t.Errorf("README.md does not mention %s", s)
		}
	}
	if _, err := os.Stat(esTemplateFile); err != nil {
		t.Errorf("the index template the README points to: %v", err)
	}
}

// FuzzExtract feeds every extractor arbitrary text: each must return
// fields or an error, never panic.
func FuzzExtract(f *testing.F) {
	for _, s := range []string{
		"`audittrail` event.action=invocation | stats count BY user.id",
		`eval x='security.findings{}.type' | where y="a.b`,
		`event.outcome:failure and http.response.status_code >= 500`,
		`source:audittrail @http.route:"/a b" -@user.id:* $function`,
		`SELECT "user".id FROM audittrail CROSS JOIN UNNEST(security.findings) AS t (f) WHERE f.type = 'x'`,
		`struct<a:array<struct<b:map<string,int>>>>`,
		"CREATE EXTERNAL TABLE t (`a` struct<`b`:string>) LOCATION 'x'",
		`'unterminated`, "`", `"`, `((((`, `<<<>`,
	} {
		f.Add(s)
	}
	table, err := parseDDL("CREATE EXTERNAL TABLE t (`event` struct<`outcome`:string>, `security` struct<`findings`:array<struct<`type`:string>>>) PARTITIONED BY (`dt` string)")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _, _ = splFields(s)
		_, _ = kqlFields(s)
		_, _ = ddQueryFields(s)
		_, _ = sqlRefs(s, table)
		_, _ = parseDDL(s)
		_, _ = parseDDLType(s)
		_, _ = parseConf(s)
	})
}
