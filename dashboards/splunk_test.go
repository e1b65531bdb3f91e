package dashboards

import (
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The Splunk app.
var (
	splunkDefault   = filepath.Join("splunk", "audittrail", "default")
	splunkDashboard = filepath.Join(splunkDefault, "data", "ui", "views", "audittrail_overview.xml")
	splunkNav       = filepath.Join(splunkDefault, "data", "ui", "nav", "default.xml")
	splunkMeta      = filepath.Join("splunk", "audittrail", "metadata", "default.meta")
)

// savedSearchPrefix starts the name of every report; the rest is the
// title of its dashboard panel.
const savedSearchPrefix = "audittrail - "

// splunk names the record's fields as Splunk's JSON extraction does: the
// dotted path, with {} for each step into an array (spath's notation).
var splunk = siem{
	name: "Splunk",
	added: map[string]string{
		"_time":      "the event's time, from the HEC envelope's time (the record's @timestamp)",
		"_raw":       "the event as indexed: the record's JSON",
		"index":      "the HEC envelope's index (AUDITTRAIL_SPLUNK_INDEX)",
		"sourcetype": "the HEC envelope's sourcetype (AUDITTRAIL_SPLUNK_SOURCETYPE)",
		"source":     "the HEC envelope's source (AUDITTRAIL_SPLUNK_SOURCE)",
		"host":       "the HEC envelope's host (the function's name)",
	},
	path: splunkPath,
}

// splunkPath turns security.findings{}.type into security, findings,
// [], type. Splunk's own fields (_time, _raw) are not record fields.
func splunkPath(name string) ([]string, bool) {
	if strings.HasPrefix(name, "_") || !strings.ContainsAny(name, ".{@") {
		return nil, false
	}
	var p []string
	for _, part := range strings.Split(name, ".") {
		steps := 0
		for strings.HasSuffix(part, "{}") {
			part = strings.TrimSuffix(part, "{}")
			steps++
		}
		p = append(p, part)
		for range steps {
			p = append(p, arrayStep)
		}
	}
	return p, true
}

// conf is a Splunk .conf file: its stanzas in order.
type conf []stanza

// stanza is one [name] of a .conf file and its settings.
type stanza struct {
	name     string
	settings map[string]string
}

// get returns the stanza named name.
func (c conf) get(name string) (stanza, bool) {
	for _, s := range c {
		if s.name == name {
			return s, true
		}
	}
	return stanza{}, false
}

// parseConf reads a .conf file: comment lines (#), [stanza] lines, and
// key = value settings, a value ending with \ going on on the next line.
// Settings before the first stanza belong to the stanza named "".
func parseConf(src string) (conf, error) {
	var c conf
	cur := -1
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			if !strings.HasSuffix(line, "]") || len(line) < 2 {
				return nil, fmt.Errorf("line %d: unterminated stanza name %q", i+1, line)
			}
			name := line[1 : len(line)-1]
			if _, dup := c.get(name); dup {
				return nil, fmt.Errorf("line %d: stanza [%s] again", i+1, name)
			}
			c = append(c, stanza{name: name, settings: map[string]string{}})
			cur = len(c) - 1
		default:
			key, value, ok := strings.Cut(line, "=")
			key = strings.TrimSpace(key)
			if !ok || key == "" {
				return nil, fmt.Errorf("line %d: %q is not a stanza, a setting or a comment", i+1, line)
			}
			value = strings.TrimSpace(value)
			for strings.HasSuffix(value, `\`) {
				value = strings.TrimSuffix(value, `\`)
				if i+1 >= len(lines) {
					return nil, fmt.Errorf("line %d: the value of %s goes on past the end of the file", i+1, key)
				}
				i++
				value += "\n" + strings.TrimSpace(lines[i])
			}
			if cur < 0 {
				c = append(c, stanza{settings: map[string]string{}})
				cur = 0
			}
			if _, dup := c[cur].settings[key]; dup {
				return nil, fmt.Errorf("line %d: %s set twice in [%s]", i+1, key, c[cur].name)
			}
			c[cur].settings[key] = value
		}
	}
	return c, nil
}

// splTokens splits SPL into tokens: quoted strings and macros (kept with
// their quotes), operators and punctuation, and words. A word runs until
// white space or one of |()[],=<>!*; dots, braces and dashes stay in it
// (security.findings{}.type, http.request.header.x-forwarded-for).
func splTokens(spl string) ([]string, error) {
	var toks []string
	for i := 0; i < len(spl); {
		c := spl[i]
		switch {
		case strings.IndexByte(" \t\r\n", c) >= 0:
			i++
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(spl) && spl[j] != c {
				if spl[j] == '\\' && c == '"' {
					j++
				}
				j++
			}
			if j >= len(spl) {
				return nil, fmt.Errorf("unterminated %c at byte %d of %q", c, i, spl)
			}
			toks = append(toks, spl[i:j+1])
			i = j + 1
		case strings.IndexByte("|()[],=<>!*", c) >= 0:
			toks = append(toks, spl[i:i+1])
			i++
		default:
			j := i
			for j < len(spl) && strings.IndexByte(" \t\r\n|()[],=<>!*\"'`", spl[j]) < 0 {
				j++
			}
			toks = append(toks, spl[i:j])
			i = j
		}
	}
	return toks, nil
}

// searchModifiers are the words of a base search that look like field
// comparisons but set the time range.
var searchModifiers = map[string]bool{"earliest": true, "latest": true, "index_earliest": true, "index_latest": true}

// splFields returns the fields an SPL search names, and the macros it
// calls. A field is a single-quoted name (eval's way of writing a field
// with dots), a word that can only be a field: one with a dot, a {} or a
// leading @ (every record field has one of them), or Splunk's own, with a
// leading _; or, in the base search (before the first |), any word
// compared with a value (index=main, sourcetype=audittrail): after a |,
// such words are also a command's options (span=1h) or eval's new fields.
// Double-quoted text is a string, not a field; a value with a dot must be
// quoted (numbers aside). Words with $ are dashboard tokens.
func splFields(spl string) (fields, macros []string, err error) {
	toks, err := splTokens(spl)
	if err != nil {
		return nil, nil, err
	}
	base := true
	for i, tok := range toks {
		compared := i+1 < len(toks) && len(toks[i+1]) == 1 && strings.Contains("=!<>", toks[i+1])
		switch c := tok[0]; {
		case c == '|':
			base = false
		case c == '"':
		case c == '`':
			name, _, _ := strings.Cut(strings.Trim(tok, "`"), "(")
			macros = append(macros, name)
		case c == '\'':
			fields = append(fields, strings.Trim(tok, "'"))
		case strings.Contains(tok, "$"):
		case isLetter(c) || c == '_' || c == '@':
			switch {
			case c == '_' || c == '@' || strings.ContainsAny(tok, ".{"):
				fields = append(fields, tok)
			case base && compared && !searchModifiers[strings.ToLower(tok)]:
				fields = append(fields, tok)
			}
		}
	}
	return fields, macros, nil
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func TestSplunkExtractor(t *testing.T) {
	runExtractorCases(t, splunk, []extractorCase{
		{
			name: "record fields",
			src:  "`audittrail` event.action=invocation | stats count BY user.id, client.address",
			want: []string{"event.action", "user.id", "client.address"},
		},
		{
			name:    "made up",
			src:     "`audittrail` | stats count BY user.idd, faas.nmae",
			want:    []string{"user.idd", "faas.nmae"},
			refused: []string{"user.idd", "faas.nmae"},
		},
		{
			name:    "arrays need {}",
			src:     "| eval t='security.findings{}.type' | stats count BY security.findings.type, security.findings{}.typo",
			want:    []string{"security.findings{}.type", "security.findings.type", "security.findings{}.typo"},
			refused: []string{"security.findings.type", "security.findings{}.typo"},
		},
		{
			name: "strings and numbers are not fields",
			src:  `| eval x="not.a.field", y=0.95 | where 'http.route'="/a.b" AND http.response.status_code>=500`,
			want: []string{"http.route", "http.response.status_code"},
		},
		{
			name:    "Splunk's own fields",
			src:     "| timechart span=1h count BY _time, _tmie | table index sourcetype",
			want:    []string{"_time", "_tmie"},
			refused: []string{"_tmie"},
		},
		{
			name: "free keys of an object",
			src:  "http.request.header.x-forwarded-for{}=203.0.113.9 $tok.en$",
			want: []string{"http.request.header.x-forwarded-for{}"},
		},
		{
			name:    "a leading @",
			src:     "| table @timestamp, @tmestamp",
			want:    []string{"@timestamp", "@tmestamp"},
			refused: []string{"@tmestamp"},
		},
		{
			name:    "the base search's fields",
			src:     "sourcetyp=audittrail index=main earliest=-24h event.action=x | eval y=1 | timechart span=1h count",
			want:    []string{"sourcetyp", "index", "event.action"},
			refused: []string{"sourcetyp"},
		},
		{
			name:    "an unterminated string",
			src:     `| eval x="abc`,
			wantErr: "unterminated",
		},
	}, func(src string) ([]string, error) {
		fields, _, err := splFields(src)
		return fields, err
	})
}

func TestParseConf(t *testing.T) {
	c, err := parseConf("# comment\n[a]\nsearch = x \\\n| y\nk=v\n\n[b - c (d)]\nk = \n")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.get("a")
	b, ok := c.get("b - c (d)")
	if len(c) != 2 || a.settings["search"] != "x \n| y" || a.settings["k"] != "v" || !ok || b.settings["k"] != "" {
		t.Errorf("parseConf = %+v", c)
	}
	for _, bad := range []string{"[a\nk=v", "[a]\nnot a setting", "[a]\n[a]", "[a]\nk=1\nk=2", "[a]\nk = v \\"} {
		if _, err := parseConf(bad); err == nil {
			t.Errorf("parseConf(%q) = nil error", bad)
		}
	}
}

// splunkView is the Simple XML dashboard, as far as the tests read it.
type splunkView struct {
	XMLName xml.Name
	Label   string `xml:"label"`
	Rows    []struct {
		Panels []struct {
			Title string `xml:"title"`
			// Viz are the panel's visualizations (chart, table, single...).
			Viz []struct {
				XMLName xml.Name
				Search  struct {
					Query    string `xml:"query"`
					Earliest string `xml:"earliest"`
					Latest   string `xml:"latest"`
				} `xml:"search"`
			} `xml:",any"`
		} `xml:"panel"`
	} `xml:"row"`
}

// wellFormed reads every token of an XML document.
func wellFormed(doc string) error {
	d := xml.NewDecoder(strings.NewReader(doc))
	d.Strict = true
	for {
		_, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// splunkQuery is one search of the app, with where it is.
type splunkQuery struct{ at, spl string }

// loadSplunk reads the app and returns its searches: the reports, the
// dashboard's panels and the macros' definitions.
func loadSplunk(t *testing.T) []splunkQuery {
	t.Helper()
	confs := map[string]conf{}
	for _, name := range []string{"app.conf", "macros.conf", "props.conf", "savedsearches.conf"} {
		c, err := parseConf(readFile(t, filepath.Join(splunkDefault, name)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		confs[name] = c
	}
	if _, err := parseConf(readFile(t, splunkMeta)); err != nil {
		t.Fatalf("%s: %v", splunkMeta, err)
	}
	if props, ok := confs["props.conf"].get("audittrail"); !ok || props.settings["KV_MODE"] != "json" {
		t.Errorf("props.conf: [audittrail] must set KV_MODE = json, so that the record's fields are extracted")
	}
	if app, ok := confs["app.conf"].get("package"); !ok || app.settings["id"] != "audittrail" {
		t.Errorf("app.conf: [package] id must be audittrail, the app's directory")
	}
	var queries []splunkQuery
	macros := map[string]bool{}
	for _, m := range confs["macros.conf"] {
		def, ok := m.settings["definition"]
		if !ok {
			t.Errorf("macros.conf: [%s] has no definition", m.name)
		}
		macros[m.name] = true
		queries = append(queries, splunkQuery{"macros.conf [" + m.name + "]", def})
	}
	if def := confs["macros.conf"]; len(def) == 0 || !strings.Contains(def[0].settings["definition"], "sourcetype=audittrail") {
		t.Errorf("macros.conf: the audittrail macro must search sourcetype=audittrail, the sink's default")
	}

	reports := map[string]string{}
	for _, s := range confs["savedsearches.conf"] {
		title, ok := strings.CutPrefix(s.name, savedSearchPrefix)
		if !ok {
			t.Errorf("savedsearches.conf: [%s] does not start with %q", s.name, savedSearchPrefix)
		}
		spl := s.settings["search"]
		if spl == "" || s.settings["description"] == "" {
			t.Errorf("savedsearches.conf: [%s] needs a search and a description", s.name)
		}
		reports[title] = spl
		queries = append(queries, splunkQuery{"savedsearches.conf [" + s.name + "]", spl})
	}

	for _, f := range []string{splunkDashboard, splunkNav} {
		if err := wellFormed(readFile(t, f)); err != nil {
			t.Fatalf("%s is not well-formed XML: %v", f, err)
		}
	}
	if nav := readFile(t, splunkNav); !strings.Contains(nav, `name="audittrail_overview"`) {
		t.Errorf("%s does not show the dashboard", splunkNav)
	}
	var view splunkView
	if err := xml.Unmarshal([]byte(readFile(t, splunkDashboard)), &view); err != nil {
		t.Fatalf("%s: %v", splunkDashboard, err)
	}
	if view.XMLName.Local != "form" && view.XMLName.Local != "dashboard" || view.Label == "" {
		t.Errorf("%s: want a <form> or <dashboard> with a <label>, got <%s>", splunkDashboard, view.XMLName.Local)
	}
	onDashboard := map[string]bool{}
	for _, row := range view.Rows {
		for _, p := range row.Panels {
			at := fmt.Sprintf("%s panel %q", filepath.Base(splunkDashboard), p.Title)
			if len(p.Viz) != 1 {
				t.Errorf("%s: want one visualization, got %d", at, len(p.Viz))
				continue
			}
			s := p.Viz[0].Search
			if strings.TrimSpace(s.Query) == "" {
				t.Errorf("%s: no query", at)
				continue
			}
			if s.Earliest != "$time.earliest$" || s.Latest != "$time.latest$" {
				t.Errorf("%s: the search must follow the time picker", at)
			}
			report, ok := reports[p.Title]
			switch {
			case !ok:
				t.Errorf("%s: no report [%s%s] in savedsearches.conf", at, savedSearchPrefix, p.Title)
			case squeeze(report) != squeeze(s.Query):
				t.Errorf("%s: the query differs from the report's\npanel:  %s\nreport: %s", at, squeeze(s.Query), squeeze(report))
			}
			onDashboard[p.Title] = true
			queries = append(queries, splunkQuery{at, s.Query})
		}
	}
	for title := range reports {
		if !onDashboard[title] {
			t.Errorf("the report [%s%s] has no panel on the dashboard", savedSearchPrefix, title)
		}
	}
	for _, q := range queries {
		_, used, err := splFields(q.spl)
		if err != nil {
			t.Errorf("%s: %v", q.at, err)
		}
		for _, m := range used {
			if !macros[m] {
				t.Errorf("%s: the macro `%s` is not in macros.conf", q.at, m)
			}
		}
	}
	return queries
}

// squeeze collapses white space, for comparing searches.
func squeeze(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestSplunkFields(t *testing.T) {
	schema := loadSchema(t)
	var refs []fieldRef
	for _, q := range loadSplunk(t) {
		fields, _, err := splFields(q.spl)
		if err != nil {
			t.Errorf("%s: %v", q.at, err)
		}
		for _, f := range fields {
			refs = append(refs, fieldRef{f, q.at})
		}
	}
	splunk.checkRefs(t, schema, refs)
	splunk.checkRequired(t, refs)
	if !slices.ContainsFunc(refs, func(r fieldRef) bool { return r.name == "security.findings{}.type" }) {
		t.Errorf("no search names security.findings{}.type, spath's name of the findings' types")
	}
}
