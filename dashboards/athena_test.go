package dashboards

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const (
	athenaDDLFile    = "athena/create_table.sql"
	athenaQueriesDir = "athena/queries"
)

// athena: query fields are resolved through the table's columns (the
// DDL's structs, arrays through UNNEST) into record paths; those, and the
// DDL itself, are checked against the schema.
var athena = siem{
	name: "Athena",
	added: map[string]string{
		"dt": "the partition column: the UTC date of the batch's first record, from the object's key (dt=YYYY-MM-DD)",
	},
	path: func(name string) ([]string, bool) { return strings.Split(name, "."), true },
}

// ddlType is a column type of the DDL.
type ddlType struct {
	kind   string     // struct, array, map, or a primitive: string, bigint...
	fields []ddlField // a struct's, in order
	elem   *ddlType   // an array's elements; a map's values
	key    *ddlType   // a map's keys
}

// ddlField is a column, or a field of a struct.
type ddlField struct {
	name string
	typ  *ddlType
}

// ddlTable is what CREATE EXTERNAL TABLE says.
type ddlTable struct {
	name       string
	columns    []ddlField
	partitions []ddlField
	serde      string
	serdeProps map[string]string
	location   string
	props      map[string]string
}

// token is one token of SQL: an identifier (backticks or double quotes
// removed), a string (quotes removed) or punctuation.
type token struct {
	kind byte // 'i' identifier or word, 's' string, 'p' punctuation
	text string
}

// sqlTokens splits SQL into tokens, skipping comments (-- to the end of
// the line, /* to */). Strings take ” for a quote.
func sqlTokens(src string) ([]token, error) {
	var toks []token
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case strings.HasPrefix(src[i:], "--"):
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				end = len(src) - i
			}
			i += end
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated comment at byte %d", i)
			}
			i += end + 4
		case strings.IndexByte(" \t\r\n", c) >= 0:
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for ; ; j++ {
				if j >= len(src) {
					return nil, fmt.Errorf("unterminated string at byte %d", i)
				}
				if src[j] == '\'' {
					if j+1 < len(src) && src[j+1] == '\'' {
						b.WriteByte('\'')
						j++
						continue
					}
					break
				}
				b.WriteByte(src[j])
			}
			toks = append(toks, token{'s', b.String()})
			i = j + 1
		case c == '`' || c == '"':
			end := strings.IndexByte(src[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("unterminated %c at byte %d", c, i)
			}
			toks = append(toks, token{'i', src[i+1 : i+1+end]})
			i += end + 2
		case isLetter(c) || c == '_' || '0' <= c && c <= '9':
			j := i
			for j < len(src) && (isLetter(src[j]) || src[j] == '_' || src[j] == '.' || '0' <= src[j] && src[j] <= '9') {
				j++
			}
			toks = append(toks, token{'i', src[i:j]})
			i = j
		default:
			toks = append(toks, token{'p', src[i : i+1]})
			i++
		}
	}
	return toks, nil
}

// ddlParser reads DDL tokens.
type ddlParser struct {
	toks  []token
	i     int
	depth int
}

func (p *ddlParser) peek() token {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return token{}
}

// is reports whether the next tokens are the words or punctuation ws
// (words in any case), and takes them if so.
func (p *ddlParser) is(ws ...string) bool {
	if p.i+len(ws) > len(p.toks) {
		return false
	}
	for k, w := range ws {
		if t := p.toks[p.i+k]; t.kind == 's' || !strings.EqualFold(t.text, w) {
			return false
		}
	}
	p.i += len(ws)
	return true
}

func (p *ddlParser) expect(ws ...string) error {
	if !p.is(ws...) {
		return fmt.Errorf("want %s at %q", strings.Join(ws, " "), p.peek().text)
	}
	return nil
}

func (p *ddlParser) take(kind byte, what string) (string, error) {
	t := p.peek()
	if t.kind != kind {
		return "", fmt.Errorf("want %s at %q", what, t.text)
	}
	p.i++
	return t.text, nil
}

// primitives are the Hive types a column may have besides struct, array
// and map.
var primitives = map[string]bool{
	"string": true, "varchar": true, "char": true, "boolean": true, "binary": true,
	"tinyint": true, "smallint": true, "int": true, "integer": true, "bigint": true,
	"float": true, "double": true, "decimal": true, "date": true, "timestamp": true,
}

// typ reads a type: struct<name:type,...>, array<type>, map<key,value>, or
// a primitive.
func (p *ddlParser) typ() (*ddlType, error) {
	if p.depth++; p.depth > 64 {
		return nil, fmt.Errorf("types nested too deep")
	}
	defer func() { p.depth-- }()
	name, err := p.take('i', "a type")
	if err != nil {
		return nil, err
	}
	t := &ddlType{kind: strings.ToLower(name)}
	switch t.kind {
	case "struct":
		if err := p.expect("<"); err != nil {
			return nil, err
		}
		for {
			f, err := p.take('i', "a field name")
			if err != nil {
				return nil, err
			}
			if err := p.expect(":"); err != nil {
				return nil, err
			}
			ft, err := p.typ()
			if err != nil {
				return nil, err
			}
			t.fields = append(t.fields, ddlField{f, ft})
			if !p.is(",") {
				break
			}
		}
		return t, p.expect(">")
	case "array":
		if err := p.expect("<"); err != nil {
			return nil, err
		}
		if t.elem, err = p.typ(); err != nil {
			return nil, err
		}
		return t, p.expect(">")
	case "map":
		if err := p.expect("<"); err != nil {
			return nil, err
		}
		if t.key, err = p.typ(); err != nil {
			return nil, err
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
		if t.elem, err = p.typ(); err != nil {
			return nil, err
		}
		return t, p.expect(">")
	}
	if !primitives[t.kind] {
		return nil, fmt.Errorf("unknown type %q", name)
	}
	if p.is("(") { // decimal(10,2), varchar(64)
		for !p.is(")") {
			if p.i >= len(p.toks) {
				return nil, fmt.Errorf("unterminated %s(", name)
			}
			p.i++
		}
	}
	return t, nil
}

// columns reads ( name type, ... ).
func (p *ddlParser) columns() ([]ddlField, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	var cols []ddlField
	for {
		name, err := p.take('i', "a column name")
		if err != nil {
			return nil, err
		}
		t, err := p.typ()
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", name, err)
		}
		cols = append(cols, ddlField{name, t})
		if !p.is(",") {
			return cols, p.expect(")")
		}
	}
}

// properties reads ( 'key' = 'value', ... ).
func (p *ddlParser) properties() (map[string]string, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	props := map[string]string{}
	for {
		k, err := p.take('s', "a property name")
		if err != nil {
			return nil, err
		}
		if err := p.expect("="); err != nil {
			return nil, err
		}
		v, err := p.take('s', "a property value")
		if err != nil {
			return nil, err
		}
		props[k] = v
		if !p.is(",") {
			return props, p.expect(")")
		}
	}
}

// parseDDL reads CREATE EXTERNAL TABLE: the columns, PARTITIONED BY,
// ROW FORMAT SERDE, WITH SERDEPROPERTIES, STORED AS, LOCATION and
// TBLPROPERTIES.
func parseDDL(src string) (*ddlTable, error) {
	toks, err := sqlTokens(src)
	if err != nil {
		return nil, err
	}
	p := &ddlParser{toks: toks}
	if !p.is("CREATE", "EXTERNAL", "TABLE") && !p.is("CREATE", "TABLE") {
		return nil, fmt.Errorf("want CREATE EXTERNAL TABLE at %q", p.peek().text)
	}
	p.is("IF", "NOT", "EXISTS")
	tb := &ddlTable{serdeProps: map[string]string{}, props: map[string]string{}}
	if tb.name, err = p.take('i', "the table's name"); err != nil {
		return nil, err
	}
	if tb.columns, err = p.columns(); err != nil {
		return nil, err
	}
	for p.i < len(p.toks) {
		switch {
		case p.is("PARTITIONED", "BY"):
			tb.partitions, err = p.columns()
		case p.is("ROW", "FORMAT", "SERDE"):
			tb.serde, err = p.take('s', "a SerDe class")
		case p.is("WITH", "SERDEPROPERTIES"):
			tb.serdeProps, err = p.properties()
		case p.is("STORED", "AS"):
			_, err = p.take('i', "a file format")
		case p.is("LOCATION"):
			tb.location, err = p.take('s', "a location")
		case p.is("TBLPROPERTIES"):
			tb.props, err = p.properties()
		case p.is(";"):
			if p.i < len(p.toks) {
				return nil, fmt.Errorf("text after the statement: %q", p.peek().text)
			}
		default:
			return nil, fmt.Errorf("unexpected %q after the columns", p.peek().text)
		}
		if err != nil {
			return nil, err
		}
	}
	return tb, nil
}

// parseDDLType reads one column type.
func parseDDLType(src string) (*ddlType, error) {
	toks, err := sqlTokens(src)
	if err != nil {
		return nil, err
	}
	p := &ddlParser{toks: toks}
	t, err := p.typ()
	if err == nil && p.i < len(p.toks) {
		err = fmt.Errorf("text after the type: %q", p.peek().text)
	}
	return t, err
}

// schemaName is the record's name of a column: the JSON SerDe's
// mapping.<column>, else the column's name.
func (tb *ddlTable) schemaName(column string) string {
	if m, ok := tb.serdeProps["mapping."+strings.ToLower(column)]; ok {
		return m
	}
	return column
}

// column returns the column or partition named name (any case).
func (tb *ddlTable) column(name string) (ddlField, bool) {
	for _, c := range slices.Concat(tb.columns, tb.partitions) {
		if strings.EqualFold(c.name, name) {
			return c, true
		}
	}
	return ddlField{}, false
}

// resolve walks segs from a value of type t at the record path at: struct
// fields by name, a map by any key. An array must be UNNESTed first.
func resolve(t *ddlType, at, segs []string) (*ddlType, []string, error) {
	at = slices.Clone(at)
	for _, s := range segs {
		where := canonical(at)
		switch t.kind {
		case "struct":
			i := slices.IndexFunc(t.fields, func(f ddlField) bool { return strings.EqualFold(f.name, s) })
			if i < 0 {
				return nil, nil, fmt.Errorf("no field %q in %s", s, where)
			}
			at = append(at, t.fields[i].name)
			t = t.fields[i].typ
		case "map":
			t = t.elem
			at = append(at, s)
		case "array":
			return nil, nil, fmt.Errorf("%s is an array: UNNEST it to reach %q", where, s)
		default:
			return nil, nil, fmt.Errorf("%s is a %s: it has no field %q", where, t.kind, s)
		}
	}
	return t, at, nil
}

// sqlRef is a field a query uses: as written, and its record path.
type sqlRef struct {
	text string
	path string // dotted, with [] for the steps into arrays; or "dt"
}

var (
	sqlIdent = `(?:"[^"]*"|[A-Za-z_]\w*)`
	sqlChain = sqlIdent + `(?:\s*\.\s*` + sqlIdent + `)*`
	// sqlTable is a table read by FROM or JOIN.
	sqlTable = regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+(` + sqlChain + `)`)
	// sqlUnnest is UNNEST(array) AS alias (column).
	sqlUnnest  = regexp.MustCompile(`(?i)\bUNNEST\s*\(\s*(` + sqlChain + `)\s*\)\s*(?:AS\s+)?([A-Za-z_]\w*)\s*\(\s*([A-Za-z_]\w*)\s*\)`)
	sqlName    = regexp.MustCompile(sqlChain)
	sqlIdentRe = regexp.MustCompile(sqlIdent)
	// sqlWord is a name or number that needs no quotes.
	sqlWord = regexp.MustCompile(`^[\w.]+$`)
)

// splitChain splits a.b."c" into its names, unquoted.
func splitChain(chain string) []string {
	var segs []string
	for _, m := range sqlIdentRe.FindAllString(chain, -1) {
		segs = append(segs, strings.Trim(m, `"`))
	}
	return segs
}

// sqlRefs returns the fields a query over tb uses, resolved through tb's
// columns: every name with a dot must be a column's field (or an UNNEST
// alias's), and every bare name that is a column counts. Comments and
// strings are dropped first.
func sqlRefs(sql string, tb *ddlTable) ([]sqlRef, error) {
	toks, err := sqlTokens(sql)
	if err != nil {
		return nil, err
	}
	// Rebuild the query from its tokens: no comments, strings empty,
	// identifiers double-quoted when they were.
	var b strings.Builder
	for _, t := range toks {
		switch t.kind {
		case 's':
			b.WriteString(" '' ")
		case 'i':
			if sqlWord.MatchString(t.text) {
				b.WriteString(" " + t.text + " ")
			} else {
				b.WriteString(` "` + t.text + `" `)
			}
		default:
			b.WriteString(t.text)
		}
	}
	text := b.String()
	for _, m := range sqlTable.FindAllStringSubmatchIndex(text, -1) {
		chain := text[m[2]:m[3]]
		segs := splitChain(chain)
		if _, isColumn := tb.column(segs[0]); isColumn || strings.HasPrefix(strings.TrimLeft(text[m[3]:], " "), "(") {
			continue // UNNEST(, or FROM inside extract(hour FROM ts), trim(BOTH FROM f(x))
		}
		if !strings.EqualFold(segs[len(segs)-1], tb.name) {
			return nil, fmt.Errorf("the query reads %s, not the table %s", chain, tb.name)
		}
		text = text[:m[2]] + strings.Repeat(" ", m[3]-m[2]) + text[m[3]:]
	}
	type alias struct {
		typ  *ddlType
		path []string
	}
	unnested := map[string]alias{} // column alias → element
	tables := map[string]bool{}    // table aliases of UNNEST
	var refs []sqlRef
	ref := func(chain string) error {
		segs := splitChain(chain)
		if tables[strings.ToLower(segs[0])] && len(segs) > 1 {
			segs = segs[1:]
		}
		if a, ok := unnested[strings.ToLower(segs[0])]; ok {
			_, p, err := resolve(a.typ, a.path, segs[1:])
			if err != nil {
				return fmt.Errorf("%s: %w", chain, err)
			}
			refs = append(refs, sqlRef{chain, strings.Join(p, ".")})
			return nil
		}
		col, ok := tb.column(segs[0])
		if !ok {
			if len(segs) == 1 {
				return nil // a keyword, a function, an alias
			}
			return fmt.Errorf("%s: %q is not a column of %s", chain, segs[0], tb.name)
		}
		_, p, err := resolve(col.typ, []string{tb.schemaName(col.name)}, segs[1:])
		if err != nil {
			return fmt.Errorf("%s: %w", chain, err)
		}
		refs = append(refs, sqlRef{chain, strings.Join(p, ".")})
		return nil
	}
	for _, loc := range sqlUnnest.FindAllStringSubmatchIndex(text, -1) {
		m := []string{"", text[loc[2]:loc[3]], text[loc[4]:loc[5]], text[loc[6]:loc[7]]}
		// The aliases are declared here, not used.
		text = text[:loc[4]] + strings.Repeat(" ", loc[5]-loc[4]) + text[loc[5]:loc[6]] + strings.Repeat(" ", loc[7]-loc[6]) + text[loc[7]:]
		segs := splitChain(m[1])
		col, ok := tb.column(segs[0])
		if !ok {
			return nil, fmt.Errorf("UNNEST(%s): %q is not a column of %s", m[1], segs[0], tb.name)
		}
		t, p, err := resolve(col.typ, []string{tb.schemaName(col.name)}, segs[1:])
		if err != nil {
			return nil, fmt.Errorf("UNNEST(%s): %w", m[1], err)
		}
		if t.kind != "array" {
			return nil, fmt.Errorf("UNNEST(%s): not an array but a %s", m[1], t.kind)
		}
		tables[strings.ToLower(m[2])] = true
		unnested[strings.ToLower(m[3])] = alias{t.elem, append(p, arrayStep)}
	}
	for _, loc := range sqlName.FindAllStringIndex(text, -1) {
		chain := text[loc[0]:loc[1]]
		if rest := strings.TrimLeft(text[loc[1]:], " "); strings.HasPrefix(rest, "(") && !strings.Contains(chain, ".") {
			continue // a function: count(, date_trunc(, UNNEST(
		}
		if err := ref(chain); err != nil {
			return nil, err
		}
	}
	return refs, nil
}

// schemaKinds are the DDL types each JSON Schema type may take.
var schemaKinds = map[string][]string{
	"string":  {"string", "varchar", "char", "timestamp", "date"},
	"integer": {"bigint", "int", "integer", "smallint", "tinyint"},
	"number":  {"double", "float", "decimal"},
	"boolean": {"boolean"},
}

// checkDDL compares the table with the schema: every column and field
// must be the record's, with a type that holds it, and every record field
// must have a column or field (else the table silently drops it).
func checkDDL(tb *ddlTable, schema *schemaNode) (errs []error, missing []string) {
	var walk func(t *ddlType, n *schemaNode, at string)
	walk = func(t *ddlType, n *schemaNode, at string) {
		switch t.kind {
		case "struct":
			if n.kind() != "object" || n.Properties == nil {
				errs = append(errs, fmt.Errorf("%s is a struct, but the record's is a %s", at, n.kind()))
				return
			}
			have := map[string]bool{}
			for _, f := range t.fields {
				have[strings.ToLower(f.name)] = true
				sub, ok := n.Properties[f.name]
				if !ok {
					errs = append(errs, fmt.Errorf("%s.%s is not in the record", at, f.name))
					continue
				}
				walk(f.typ, sub, at+"."+f.name)
			}
			for _, name := range slices.Sorted(maps.Keys(n.Properties)) {
				if !have[strings.ToLower(name)] {
					missing = append(missing, at+"."+name)
				}
			}
		case "map":
			if n.kind() != "object" || n.Additional == nil || t.key.kind != "string" {
				errs = append(errs, fmt.Errorf("%s is a map, but the record's is not an object of free keys", at))
				return
			}
			walk(t.elem, n.Additional, at+".*")
		case "array":
			if n.kind() != "array" || n.Items == nil {
				errs = append(errs, fmt.Errorf("%s is an array, but the record's is a %s", at, n.kind()))
				return
			}
			walk(t.elem, n.Items, at+".[]")
		default:
			if !slices.Contains(schemaKinds[n.kind()], t.kind) {
				errs = append(errs, fmt.Errorf("%s is a %s, but the record's is a %s", at, t.kind, n.kind()))
			}
		}
	}
	root := &ddlType{kind: "struct"}
	for _, c := range tb.columns {
		root.fields = append(root.fields, ddlField{tb.schemaName(c.name), c.typ})
	}
	walk(root, schema, "")
	for i, m := range missing {
		missing[i] = strings.TrimPrefix(m, ".")
	}
	for i, e := range errs {
		errs[i] = fmt.Errorf("%s", strings.TrimPrefix(e.Error(), "."))
	}
	return errs, missing
}

// loadDDL reads the table.
func loadDDL(t *testing.T) *ddlTable {
	t.Helper()
	tb, err := parseDDL(readFile(t, athenaDDLFile))
	if err != nil {
		t.Fatalf("%s: %v", athenaDDLFile, err)
	}
	return tb
}

func TestAthenaTable(t *testing.T) {
	schema := loadSchema(t)
	tb := loadDDL(t)
	if tb.name != "audittrail" {
		t.Errorf("the table is %q; the queries read audittrail", tb.name)
	}
	if tb.serde != "org.openx.data.jsonserde.JsonSerDe" {
		t.Errorf("SerDe %q, want the OpenX JSON SerDe", tb.serde)
	}
	if len(tb.partitions) != 1 || tb.partitions[0].name != "dt" || tb.partitions[0].typ.kind != "string" {
		t.Errorf("want one partition, dt string, got %+v", tb.partitions)
	}
	if tb.schemaName("ts") != "@timestamp" {
		t.Errorf("want 'mapping.ts' = '@timestamp', got %q", tb.schemaName("ts"))
	}
	if tb.location != "s3://BUCKET/PREFIX/" {
		t.Errorf("LOCATION %q, want the placeholder s3://BUCKET/PREFIX/ the README tells to replace", tb.location)
	}
	for k, want := range map[string]string{
		"projection.enabled":          "true",
		"projection.dt.type":          "date",
		"projection.dt.format":        "yyyy-MM-dd",
		"projection.dt.interval.unit": "DAYS",
		"storage.location.template":   tb.location + "dt=${dt}/",
	} {
		if tb.props[k] != want {
			t.Errorf("TBLPROPERTIES %s = %q, want %q", k, tb.props[k], want)
		}
	}
	if r := tb.props["projection.dt.range"]; !strings.HasSuffix(r, ",NOW") {
		t.Errorf("projection.dt.range %q must end at NOW", r)
	}
	errs, missing := checkDDL(tb, schema)
	for _, err := range errs {
		t.Errorf("%s: %v", athenaDDLFile, err)
	}
	for _, m := range missing {
		t.Errorf("%s: the record's %s has no column or field: add it", athenaDDLFile, m)
	}
}

func TestCheckDDL(t *testing.T) {
	schema := loadSchema(t)
	full := readFile(t, athenaDDLFile)
	tests := []struct {
		name        string
		from, to    string // a change to the real DDL
		wantErr     string
		wantMissing string
	}{
		{name: "as it is"},
		{name: "a made-up field", from: "`outcome`:string", to: "`outcom`:string", wantErr: "event.outcom is not in the record", wantMissing: "event.outcome"},
		{name: "a wrong type", from: "`duration`:bigint", to: "`duration`:string", wantErr: "event.duration is a string, but the record's is a integer"},
		{name: "an array as a struct", from: "`findings`:array<struct<", to: "`findings`:struct<`x`:struct<", wantErr: "security.findings is a struct"},
		{name: "a left-out column", from: "`log` struct<`origin`:string, `level`:string, `message`:string, `truncated`:boolean>\n", to: "`dt2` string\n", wantErr: "dt2 is not in the record", wantMissing: "log"},
		{name: "a map that is not", from: "`url` struct<", to: "`url` map<string,string>, `url2` struct<", wantErr: "url is a map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(full, tt.from, tt.to, 1)
			if tt.from != "" && src == full {
				t.Fatalf("%q is not in %s", tt.from, athenaDDLFile)
			}
			tb, err := parseDDL(src)
			if err != nil {
				t.Fatal(err)
			}
			errs, missing := checkDDL(tb, schema)
			joined := fmt.Sprint(errs)
			if tt.wantErr == "" && len(errs) > 0 || tt.wantErr != "" && !strings.Contains(joined, tt.wantErr) {
				t.Errorf("errors %s, want %q", joined, tt.wantErr)
			}
			if tt.wantMissing == "" && len(missing) > 0 || tt.wantMissing != "" && !slices.Contains(missing, tt.wantMissing) {
				t.Errorf("missing %q, want %q", missing, tt.wantMissing)
			}
		})
	}
}

func TestParseDDLType(t *testing.T) {
	for _, tt := range []struct{ src, wantErr string }{
		{"struct<`a`:string, b:array<struct<c:map<string,array<int>>>>>", ""},
		{"decimal(10, 2)", ""},
		{"struct<a string>", "want :"},
		{"array<string", "want >"},
		{"strin", `unknown type "strin"`},
		{"map<string>", "want ,"},
		{"string extra", "text after the type"},
		{"struct<`a:string>", "unterminated"},
	} {
		_, err := parseDDLType(tt.src)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("parseDDLType(%q) = %v, want %q", tt.src, err, tt.wantErr)
		}
	}
}

func TestAthenaExtractor(t *testing.T) {
	tb := loadDDL(t)
	runExtractorCases(t, athena, []extractorCase{
		{
			name: "columns and the partition",
			src:  "SELECT event.outcome, count(*) FROM audittrail WHERE dt >= '2026-12-01' GROUP BY 1",
			want: []string{"event.outcome", "dt"},
		},
		{
			name:    "made up",
			src:     "SELECT event.outcom FROM audittrail",
			wantErr: `no field "outcom" in event`,
		},
		{
			name: "UNNEST",
			src:  "SELECT f.type, t.f.severity FROM audittrail CROSS JOIN UNNEST(security.findings) AS t (f)",
			want: []string{"security.findings.[].type", "security.findings.[].severity", "security.findings"},
		},
		{
			name:    "made up behind UNNEST",
			src:     "SELECT f.typ FROM audittrail CROSS JOIN UNNEST(security.findings) AS t (f)",
			wantErr: `no field "typ" in security.findings`,
		},
		{
			name:    "an array without UNNEST",
			src:     "SELECT security.findings.type FROM audittrail",
			wantErr: "security.findings is an array",
		},
		{
			name: "comments, strings, quoted names, @timestamp, free keys",
			src:  "SELECT \"user\".id, ts, http.request.header['x-forwarded-for'] -- user.nope\nFROM audittrail WHERE http.route = 'a.b.c' /* x.y */",
			want: []string{"user.id", "@timestamp", "http.request.header", "http.route"},
		},
		{
			name: "FROM in a function",
			src:  "SELECT extract(day FROM ts), extract(hour FROM from_iso8601_timestamp(ts)) FROM audittrail",
			want: []string{"@timestamp", "@timestamp"},
		},
		{
			name:    "another table",
			src:     "SELECT 1 FROM db.other",
			wantErr: "reads db.other",
		},
		{
			name:    "an unknown qualifier",
			src:     "SELECT x.outcome FROM audittrail",
			wantErr: `"x" is not a column`,
		},
		{
			name:    "an unterminated string",
			src:     "SELECT 1 FROM audittrail WHERE dt = '2026",
			wantErr: "unterminated",
		},
	}, func(src string) ([]string, error) {
		refs, err := sqlRefs(src, tb)
		var paths []string
		for _, r := range refs {
			paths = append(paths, r.path)
		}
		return paths, err
	})
}

func TestAthenaQueries(t *testing.T) {
	schema := loadSchema(t)
	tb := loadDDL(t)
	files, err := filepath.Glob(filepath.Join(athenaQueriesDir, "*.sql"))
	if err != nil || len(files) < 7 {
		t.Fatalf("want at least 7 queries in %s, got %d (%v)", athenaQueriesDir, len(files), err)
	}
	var refs []fieldRef
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), "-- ") {
			t.Errorf("%s: start with a comment saying what the query answers", f)
		}
		rs, err := sqlRefs(string(b), tb)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		usesDT := false
		for _, r := range rs {
			refs = append(refs, fieldRef{r.path, f + ": " + r.text})
			usesDT = usesDT || r.path == "dt"
		}
		if !usesDT {
			t.Errorf("%s: no condition on dt: the query would read the whole archive", f)
		}
	}
	athena.checkRefs(t, schema, refs)
	athena.checkRequired(t, refs)
}
