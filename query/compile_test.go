package query

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// The expected outputs below are written by hand from each language's
// documentation, not from the compilers' output:
//
//   - LogsQL: https://docs.victoriametrics.com/victorialogs/logsql/
//     (exact filter field:="v", exact-prefix filter field:="v"*, regexp
//     filter field:~"re", range comparison filter field:>N, _time filter
//     _time:[a, b), negation -f, sort pipe "| sort by (_time desc) limit N", quoted strings
//     with Go escapes). These are also run on a real VictoriaLogs in
//     peer_test.go.
//   - Elasticsearch: Query DSL pages for bool (filter, must_not), term,
//     wildcard (* and ?, escaped with \), range (gt gte lt lte) and
//     "Paginate search results" (search_after needs a tiebreaker sort).
//     No real Elasticsearch peer exists here: the body is checked for
//     shape and JSON validity only.
//   - Splunk: Search Manual, "Search command primer" (field="value",
//     NOT, * wildcards, \ escapes in quoted strings, earliest/latest),
//     SPL reference for where/eval (field names with characters other
//     than letters, digits and _ in single quotes, strings in double
//     quotes, tonumber), head. No Splunk search peer exists here (the HEC
//     peer ingests only).
//   - Datadog: Log Search Syntax, https://docs.datadoghq.com/logs/explorer/search_syntax/
//     (@attribute:value, -exclusion, * wildcard, numerical ranges
//     @attr:>=N, escaping of = - ! && || > >= < <= ( ) { } [ ] " * ? : \ #
//     and spaces with \; / is not special). No Datadog search peer exists
//     here (the peer only ingests).

var (
	compileSince = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	compileUntil = time.Date(2026, 1, 3, 0, 0, 0, 500_000_000, time.UTC)
)

// compileCase is one query with the expected text in every language.
type compileCase struct {
	name   string
	q      Query
	logsql string
	es     string
	spl    string
	dd     string
	ddFrom string
	ddTo   string
}

const esSort = `"sort":[{"@timestamp":"desc"},{"event.id":"asc"}]`

var compileCases = []compileCase{
	{
		name:   "empty",
		q:      Query{},
		logsql: `*`,
		es:     `{"query":{"bool":{"filter":[]}},` + esSort + `}`,
		spl:    ``,
		dd:     `*`,
	},
	{
		name: "the package example, with time range and limit",
		q: Query{Conds: []Cond{
			{Field: "http.request.method", Op: Eq, Value: "DELETE"},
			{Field: "http.route", Op: Eq, Value: "/users/*", Wildcard: true},
			{Field: "http.response.status_code", Op: Ge, Value: "200"},
		}, Since: compileSince, Until: compileUntil, Limit: 10},
		logsql: `"http.request.method":="DELETE" "http.route":="/users/"* "http.response.status_code":>=200 _time:[2026-01-02T03:04:05Z, 2026-01-03T00:00:00.5Z) | sort by (_time desc) limit 10`,
		es: `{"query":{"bool":{"filter":[` +
			`{"term":{"http.request.method":"DELETE"}},` +
			`{"wildcard":{"http.route":{"value":"/users/*"}}},` +
			`{"range":{"http.response.status_code":{"gte":200}}},` +
			`{"range":{"@timestamp":{"gte":"2026-01-02T03:04:05Z","lt":"2026-01-03T00:00:00.5Z"}}}]}},` +
			`"size":10,` + esSort + `}`,
		spl:    `earliest=1767323045 latest=1767398400.500000 http.request.method="DELETE" http.route="/users/*" | where tonumber('http.response.status_code')>=200 | head 10`,
		dd:     `@http.request.method:DELETE @http.route:/users/* @http.response.status_code:>=200`,
		ddFrom: "2026-01-02T03:04:05.000Z",
		ddTo:   "2026-01-03T00:00:00.500Z",
	},
	{
		name: "not equal and negated inner wildcard",
		q: Query{Conds: []Cond{
			{Field: "event.outcome", Op: Ne, Value: "success"},
			{Field: "url.path", Op: Ne, Value: "/a/*/b?", Wildcard: true},
		}},
		logsql: `-"event.outcome":="success" -"url.path":~"(?s)^/a/.*/b\\?$"`,
		es:     `{"query":{"bool":{"filter":[],"must_not":[{"term":{"event.outcome":"success"}},{"wildcard":{"url.path":{"value":"/a/*/b\\?"}}}]}},` + esSort + `}`,
		spl:    `NOT event.outcome="success" NOT url.path="/a/*/b?"`,
		dd:     `-@event.outcome:success -@url.path:/a/*/b\?`,
	},
	{
		name:   "value with quotes, spaces, colon, parentheses, backslash and a literal star",
		q:      Query{Conds: []Cond{{Field: "url.path", Op: Eq, Value: `a "b" c:d (e) \f *g`}}},
		logsql: `"url.path":="a \"b\" c:d (e) \\f *g"`,
		es:     `{"query":{"bool":{"filter":[{"term":{"url.path":"a \"b\" c:d (e) \\f *g"}}]}},` + esSort + `}`,
		// search would read the * as a wildcard: where compares exactly.
		spl: `| where 'url.path'=="a \"b\" c:d (e) \\f *g"`,
		dd:  `@url.path:a\ \"b\"\ c\:d\ \(e\)\ \\f\ \*g`,
	},
	{
		name:   "wildcard value with specials around the star",
		q:      Query{Conds: []Cond{{Field: "user_agent.original", Op: Eq, Value: `curl "x" (y)*`, Wildcard: true}}},
		logsql: `"user_agent.original":="curl \"x\" (y)"*`,
		es:     `{"query":{"bool":{"filter":[{"wildcard":{"user_agent.original":{"value":"curl \"x\" (y)*"}}}]}},` + esSort + `}`,
		spl:    `user_agent.original="curl \"x\" (y)*"`,
		dd:     `@user_agent.original:curl\ \"x\"\ \(y\)*`,
	},
	{
		name: "ranges: RFC 3339 string and a number in another notation",
		q: Query{Conds: []Cond{
			{Field: "event.start", Op: Lt, Value: "2026-01-02T03:04:05Z"},
			{Field: "event.duration", Op: Gt, Value: "+1e3"},
			{Field: "aws.lambda.duration_ms", Op: Le, Value: ".5"},
		}},
		logsql: `"event.start":<"2026-01-02T03:04:05Z" "event.duration":>1000 "aws.lambda.duration_ms":<=0.5`,
		es:     `{"query":{"bool":{"filter":[{"range":{"event.start":{"lt":"2026-01-02T03:04:05Z"}}},{"range":{"event.duration":{"gt":1000}}},{"range":{"aws.lambda.duration_ms":{"lte":0.5}}}]}},` + esSort + `}`,
		spl:    `| where 'event.start'<"2026-01-02T03:04:05Z" AND tonumber('event.duration')>1000 AND tonumber('aws.lambda.duration_ms')<=0.5`,
		dd:     `@event.start:<2026\-01\-02T03\:04\:05Z @event.duration:>1000 @aws.lambda.duration_ms:<=0.5`,
	},
	{
		name:   "field name with a dash",
		q:      Query{Conds: []Cond{{Field: "http.request.header.x-forwarded-for", Op: Eq, Value: "203.0.113.7"}}},
		logsql: `"http.request.header.x-forwarded-for":="203.0.113.7"`,
		es:     `{"query":{"bool":{"filter":[{"term":{"http.request.header.x-forwarded-for":"203.0.113.7"}}]}},` + esSort + `}`,
		spl:    `| where 'http.request.header.x-forwarded-for'=="203.0.113.7"`,
		dd:     `@http.request.header.x\-forwarded\-for:203.0.113.7`,
	},
	{
		name:   "@timestamp condition",
		q:      Query{Conds: []Cond{{Field: "@timestamp", Op: Ge, Value: "2026-01-02T03:04:05Z"}}},
		logsql: `_time:>=2026-01-02T03:04:05Z`,
		es:     `{"query":{"bool":{"filter":[{"range":{"@timestamp":{"gte":"2026-01-02T03:04:05Z"}}}]}},` + esSort + `}`,
		spl:    `| where '@timestamp'>="2026-01-02T03:04:05Z"`,
		dd:     `@\@timestamp:>=2026\-01\-02T03\:04\:05Z`,
	},
	{
		name:   "since only",
		q:      Query{Since: compileSince},
		logsql: `_time:>=2026-01-02T03:04:05Z`,
		es:     `{"query":{"bool":{"filter":[{"range":{"@timestamp":{"gte":"2026-01-02T03:04:05Z"}}}]}},` + esSort + `}`,
		spl:    `earliest=1767323045`,
		dd:     `*`,
		ddFrom: "2026-01-02T03:04:05.000Z",
	},
	{
		name:   "until and limit",
		q:      Query{Until: compileUntil, Limit: 5},
		logsql: `_time:<2026-01-03T00:00:00.5Z | sort by (_time desc) limit 5`,
		es:     `{"query":{"bool":{"filter":[{"range":{"@timestamp":{"lt":"2026-01-03T00:00:00.5Z"}}}]}},"size":5,` + esSort + `}`,
		spl:    `latest=1767398400.500000 | head 5`,
		dd:     `*`,
		ddTo:   "2026-01-03T00:00:00.500Z",
	},
	{
		name:   "empty value",
		q:      Query{Conds: []Cond{{Field: "event.reason", Op: Eq, Value: ""}}},
		logsql: `"event.reason":=""`,
		es:     `{"query":{"bool":{"filter":[{"term":{"event.reason":""}}]}},` + esSort + `}`,
		spl:    `event.reason=""`,
		dd:     `@event.reason:""`,
	},
	{
		name:   "invalid comparison matches nothing",
		q:      Query{Conds: []Cond{{Field: "faas.name", Op: "~", Value: "x"}}},
		logsql: `-_msg:*`,
		es:     "", // an error
		spl:    `| where false()`,
		dd:     `-*`,
	},
}

func TestLogsQL(t *testing.T) {
	for _, tt := range compileCases {
		if got := LogsQL(tt.q); got != tt.logsql {
			t.Errorf("%s: LogsQL\n got %s\nwant %s", tt.name, got, tt.logsql)
		}
	}
}

func TestElasticsearchDSL(t *testing.T) {
	for _, tt := range compileCases {
		got, err := ElasticsearchDSL(tt.q)
		if tt.es == "" {
			if err == nil {
				t.Errorf("%s: ElasticsearchDSL = %s, want an error", tt.name, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: ElasticsearchDSL: %v", tt.name, err)
			continue
		}
		if string(got) != tt.es {
			t.Errorf("%s: ElasticsearchDSL\n got %s\nwant %s", tt.name, got, tt.es)
		}
		if !json.Valid(got) {
			t.Errorf("%s: ElasticsearchDSL gave invalid JSON %s", tt.name, got)
		}
	}
}

func TestElasticsearchDSLErrors(t *testing.T) {
	for _, c := range []Cond{
		{Field: "", Op: Eq, Value: "x"},
		{Field: "a", Op: "=~", Value: "x"},
		{Field: "a", Op: Gt, Value: "1*", Wildcard: true},
	} {
		if b, err := ElasticsearchDSL(Query{Conds: []Cond{c}}); err == nil {
			t.Errorf("ElasticsearchDSL(%+v) = %s, want an error", c, b)
		}
	}
}

func TestSPL(t *testing.T) {
	for _, tt := range compileCases {
		if got := SPL(tt.q); got != tt.spl {
			t.Errorf("%s: SPL\n got %s\nwant %s", tt.name, got, tt.spl)
		}
	}
}

func TestDatadogQuery(t *testing.T) {
	for _, tt := range compileCases {
		q, from, to := DatadogQuery(tt.q)
		if q != tt.dd || from != tt.ddFrom || to != tt.ddTo {
			t.Errorf("%s: DatadogQuery\n got %s [%q, %q]\nwant %s [%q, %q]", tt.name, q, from, to, tt.dd, tt.ddFrom, tt.ddTo)
		}
	}
}

func TestNumber(t *testing.T) {
	for in, want := range map[string]string{
		"200": "200", "+5": "5", "-7": "-7", "007": "7", "1.": "1", ".5": "0.5",
		"1e3": "1000", "2.50": "2.5", "-0": "0",
		"Inf": "", "NaN": "", "0x10": "", "1_000": "", "1e999": "", "": "", "2026-01-02T03:04:05Z": "", "1 ": "",
	} {
		got, ok := number(in)
		if got != want || ok != (want != "") {
			t.Errorf("number(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// compileFuzzCond builds a condition from fuzz input, op selecting one of the
// comparisons (or an invalid one).
func compileFuzzCond(field, value string, op uint8, wildcard bool) Cond {
	ops := []Op{Eq, Ne, Gt, Ge, Lt, Le, "?"}
	o := ops[int(op)%len(ops)]
	if o != Eq && o != Ne {
		wildcard = false
	}
	if !wildcard {
		// A Cond without Wildcard may still hold a literal *.
		return Cond{Field: field, Op: o, Value: value}
	}
	return Cond{Field: field, Op: o, Value: value, Wildcard: strings.Contains(value, "*")}
}

func addCompileFuzzSeeds(f *testing.F) {
	f.Add("http.request.method", "DELETE", uint8(0), false)
	f.Add("url.path", "/users/*", uint8(0), true)
	f.Add("url.path", `a "b" \c: (d) *`, uint8(1), true)
	f.Add("x-y z", `"' | head 1`, uint8(2), false)
	f.Add("n", "1e3", uint8(3), false)
	f.Add("@timestamp", "2026-01-02T03:04:05Z", uint8(4), false)
	f.Add("a", "\xff\x00\n", uint8(6), false)
	f.Add("\xd6\xe1\xe4\xe20", "*00\xd3", uint8(0), true) // invalid UTF-8 in a regexp
}

// logsqlStrings splits a LogsQL text into its double-quoted strings
// (unquoted) and the syntax between them, failing on a quote left open.
func logsqlStrings(t *testing.T, s string) (strs []string, syntax string) {
	t.Helper()
	var b strings.Builder
	for s != "" {
		if s[0] != '"' {
			b.WriteByte(s[0])
			s = s[1:]
			continue
		}
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			t.Fatalf("unterminated string in %q: %v", s, err)
		}
		u, err := strconv.Unquote(q)
		if err != nil {
			t.Fatalf("bad string %s: %v", q, err)
		}
		strs = append(strs, u)
		b.WriteString(`""`)
		s = s[len(q):]
	}
	return strs, b.String()
}

// logsqlSyntax matches the syntax LogsQL emits around its strings for one
// condition: everything a value could add outside quotes is a number or
// an RFC 3339 time.
var logsqlSyntax = regexp.MustCompile(`^(-?""(:=""\*?|:~""|:(>=|>|<=|<)("")?[-0-9.]*)|-?_time:(\[[-0-9T:.Z]+, [-0-9T:.Z]+\]|(>=|>|<=|<)[-0-9T:.Z]+)|-_msg:\*)$`)

func FuzzLogsQL(f *testing.F) {
	addCompileFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, field, value string, op uint8, wildcard bool) {
		c := compileFuzzCond(field, value, op, wildcard)
		out := LogsQL(Query{Conds: []Cond{c}})
		strs, syntax := logsqlStrings(t, out)
		if !logsqlSyntax.MatchString(syntax) {
			t.Fatalf("LogsQL(%+v) = %s: syntax %q outside strings is not one condition", c, out, syntax)
		}
		if checkCond(c) != nil || strings.HasPrefix(syntax, "-?_time") || strings.Contains(syntax, "_time") {
			return
		}
		if len(strs) == 0 || strs[0] != c.Field {
			t.Fatalf("LogsQL(%+v) = %s: field does not read back", c, out)
		}
		switch {
		case strings.Contains(syntax, ":~"):
			re, err := regexp.Compile(strs[1])
			if err != nil {
				t.Fatalf("LogsQL(%+v) = %s: bad regexp: %v", c, out, err)
			}
			sample := strings.ReplaceAll(c.Value, "*", "any\nthing")
			if !re.MatchString(sample) {
				t.Fatalf("LogsQL(%+v) = %s: regexp does not match %q", c, out, sample)
			}
		case c.Op == Eq || c.Op == Ne:
			want := c.Value
			if c.Wildcard {
				want = strings.TrimSuffix(want, "*")
			}
			if strs[1] != want {
				t.Fatalf("LogsQL(%+v) = %s: value reads back as %q", c, out, strs[1])
			}
		}
	})
}

func FuzzElasticsearchDSL(f *testing.F) {
	addCompileFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, field, value string, op uint8, wildcard bool) {
		c := compileFuzzCond(field, value, op, wildcard)
		b, err := ElasticsearchDSL(Query{Conds: []Cond{c}, Limit: int(op)})
		if err != nil {
			if checkCond(c) == nil {
				t.Fatalf("ElasticsearchDSL(%+v): %v", c, err)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("ElasticsearchDSL(%+v) = %s: invalid JSON", c, b)
		}
		var body struct {
			Query struct {
				Bool map[string][]map[string]map[string]any `json:"bool"`
			} `json:"query"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("ElasticsearchDSL(%+v) = %s: %v", c, b, err)
		}
		clauses := len(body.Query.Bool["filter"]) + len(body.Query.Bool["must_not"])
		if clauses != 1 {
			t.Fatalf("ElasticsearchDSL(%+v) = %s: %d clauses, want 1", c, b, clauses)
		}
		if c.Op == Eq && !c.Wildcard && utf8.ValidString(c.Value) && utf8.ValidString(c.Field) {
			if got := body.Query.Bool["filter"][0]["term"][c.Field]; got != c.Value {
				t.Fatalf("ElasticsearchDSL(%+v) = %s: term value %v", c, b, got)
			}
		}
	})
}

// splunkSyntax removes SPL's double-quoted strings and single-quoted field
// names (both with \ escapes), failing on one left open.
func splunkSyntax(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		q := s[i]
		if q != '"' && q != '\'' {
			b.WriteByte(q)
			continue
		}
		j := i + 1
		for ; j < len(s) && s[j] != q; j++ {
			if s[j] == '\\' {
				j++
			}
		}
		if j >= len(s) {
			t.Fatalf("unterminated %c in %q", q, s)
		}
		b.WriteString(string([]byte{q, q}))
		i = j
	}
	return b.String()
}

var splunkShape = regexp.MustCompile(`^((NOT )?[A-Za-z_][A-Za-z0-9_.]*=""|\| where (false\(\)|(NOT \()?(''==""|match\('', ""\))\)?|tonumber\(''\)(>=|>|<=|<)[-0-9.]+|''(>=|>|<=|<)""))$`)

func FuzzSPL(f *testing.F) {
	addCompileFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, field, value string, op uint8, wildcard bool) {
		c := compileFuzzCond(field, value, op, wildcard)
		out := SPL(Query{Conds: []Cond{c}})
		if syntax := splunkSyntax(t, out); !splunkShape.MatchString(syntax) {
			t.Fatalf("SPL(%+v) = %s: syntax %q is not one condition", c, out, syntax)
		}
	})
}

func FuzzDatadogQuery(f *testing.F) {
	addCompileFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, field, value string, op uint8, wildcard bool) {
		c := compileFuzzCond(field, value, op, wildcard)
		out, _, _ := DatadogQuery(Query{Conds: []Cond{c}})
		if checkCond(c) != nil {
			if out != datadogNever {
				t.Fatalf("DatadogQuery(%+v) = %s, want %s", c, out, datadogNever)
			}
			return
		}
		// Read the term back: unescaped specials and spaces may only be
		// the syntax's own (-@, the first :, the range operator, wildcards).
		s := strings.TrimPrefix(strings.TrimPrefix(out, "-"), "@")
		var name, val strings.Builder
		cur, sep := &name, false
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == '\\' && i+1 < len(s) {
				r2, n2 := utf8.DecodeRuneInString(s[i+1:])
				cur.WriteRune(r2)
				i += 1 + n2
				continue
			}
			switch {
			case r == ':' && !sep:
				cur, sep = &val, true
				i += n
				if c.Op != Eq && c.Op != Ne {
					i += len(c.Op)
				}
				continue
			case unicode.IsSpace(r) || (strings.ContainsRune(datadogSpecial, r) && !(r == '*' && c.Wildcard) && !(r == '"' && out[len(out)-2:] == `""`)):
				t.Fatalf("DatadogQuery(%+v) = %s: unescaped %q", c, out, r)
			}
			cur.WriteRune(r)
			i += n
		}
		if !utf8.ValidString(c.Field) || !utf8.ValidString(c.Value) {
			return
		}
		if name.String() != c.Field {
			t.Fatalf("DatadogQuery(%+v) = %s: field reads back as %q", c, out, name.String())
		}
		if (c.Op == Eq || c.Op == Ne) && c.Value != "" && val.String() != c.Value {
			t.Fatalf("DatadogQuery(%+v) = %s: value reads back as %q", c, out, val.String())
		}
	})
}

func BenchmarkCompile(b *testing.B) {
	q := compileCases[1].q
	for b.Loop() {
		_ = LogsQL(q)
		_, _ = ElasticsearchDSL(q)
		_ = SPL(q)
		_, _, _ = DatadogQuery(q)
	}
}

// TestElasticsearchTextFields: = on a field the template maps as text is a
// phrase match (a term query would match one lower-cased word only).
func TestElasticsearchTextFields(t *testing.T) {
	for _, tt := range []struct {
		c    Cond
		want string
	}{
		{Cond{Field: "event.reason", Op: Eq, Value: "the environment was reset"}, `{"match_phrase":{"event.reason":"the environment was reset"}}`},
		{Cond{Field: "error.message", Op: Eq, Value: "order 42*", Wildcard: true}, `{"match_phrase_prefix":{"error.message":"order 42"}}`},
		{Cond{Field: "error.message", Op: Eq, Value: "*42*", Wildcard: true}, `{"wildcard":{"error.message":{"value":"*42*"}}}`},
		{Cond{Field: "event.outcome", Op: Eq, Value: "failure"}, `{"term":{"event.outcome":"failure"}}`},
	} {
		b, err := ElasticsearchDSL(Query{Conds: []Cond{tt.c}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"filter":[`+tt.want) {
			t.Errorf("%+v: %s, want %s", tt.c, b, tt.want)
		}
	}
}

// TestESTextFieldsAreTheTemplates: esTextFields lists exactly the fields
// the index template maps as text.
func TestESTextFieldsAreTheTemplates(t *testing.T) {
	data, err := os.ReadFile("../sinks/elasticsearch/template.json")
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Template struct {
			Mappings struct {
				Properties map[string]any `json:"properties"`
			} `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal(data, &tmpl); err != nil {
		t.Fatal(err)
	}
	var text []string
	var walk func(prefix string, props map[string]any)
	walk = func(prefix string, props map[string]any) {
		for name, p := range props {
			p := p.(map[string]any)
			if sub, ok := p["properties"].(map[string]any); ok {
				walk(prefix+name+".", sub)
			} else if p["type"] == "text" {
				text = append(text, prefix+name)
			}
		}
	}
	walk("", tmpl.Template.Mappings.Properties)
	slices.Sort(text)
	if !slices.Equal(text, esTextFields()) {
		t.Errorf("the template maps %v as text; esTextFields says %v", text, esTextFields())
	}
}
