package query

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		expr string
		want []Cond
		err  string // a part of the error; "" for none
	}{
		{"", nil, ""},
		{"   ", nil, ""},
		{"http.request.method=DELETE", []Cond{{Field: "http.request.method", Op: Eq, Value: "DELETE"}}, ""},
		{"a=1 b!=2 c>3 d>=4 e<5 f<=6", []Cond{
			{Field: "a", Op: Eq, Value: "1"}, {Field: "b", Op: Ne, Value: "2"}, {Field: "c", Op: Gt, Value: "3"},
			{Field: "d", Op: Ge, Value: "4"}, {Field: "e", Op: Lt, Value: "5"}, {Field: "f", Op: Le, Value: "6"},
		}, ""},
		{"\tx=y\n  z=w ", []Cond{{Field: "x", Op: Eq, Value: "y"}, {Field: "z", Op: Eq, Value: "w"}}, ""},
		{"http.route=/users/*", []Cond{{Field: "http.route", Op: Eq, Value: "/users/*", Wildcard: true}}, ""},
		{"user.id!=*", []Cond{{Field: "user.id", Op: Ne, Value: "*", Wildcard: true}}, ""},
		{`error.message="order 42 not found"`, []Cond{{Field: "error.message", Op: Eq, Value: "order 42 not found"}}, ""},
		{`a="say \"hi\" \\o/" b=""`, []Cond{{Field: "a", Op: Eq, Value: `say "hi" \o/`}, {Field: "b", Op: Eq, Value: ""}}, ""},
		{"a==b", []Cond{{Field: "a", Op: Eq, Value: "=b"}}, ""}, // the value starts with =
		{"a=b=c", []Cond{{Field: "a", Op: Eq, Value: "b=c"}}, ""},
		{"@timestamp>=2026-11-22T10:00:00Z", []Cond{{Field: "@timestamp", Op: Ge, Value: "2026-11-22T10:00:00Z"}}, ""},
		{"event.duration<-1.5e3", []Cond{{Field: "event.duration", Op: Lt, Value: "-1.5e3"}}, ""},
		{"x-y_z.@w=é", []Cond{{Field: "x-y_z.@w", Op: Eq, Value: "é"}}, ""},

		{"=x", nil, "position 1: want a field name"},
		{"a=1 B=2", nil, "position 5: want a field name"},
		{"abc", nil, "position 4: want an operator"},
		{"a~1", nil, `position 2: want an operator (= != > >= < <=) after "a", found '~'`},
		{"a!x", nil, "position 2: want an operator"},
		{"a=", nil, "position 3: want a value, found end of filter"},
		{"a= b", nil, "position 3: want a value"},
		{`a="open`, nil, "position 3: quote not closed"},
		{`a="x"y`, nil, "position 6: want a space after the closing quote"},
		{`a="\n"`, nil, `position 4: only \" and \\ are escapes`},
		{`a=x"y"`, nil, "position 4: a quote inside a value"},
		{"a>4*", nil, "position 3: a wildcard (*) works with = and != only, not >"},
		{"a<=abc", nil, `position 4: <= needs a number or an RFC 3339 time, not "abc"`},
		{"a>NaN", nil, "needs a number"},
		{"a>inf", nil, "needs a number"},
		{"a>0x10", nil, "needs a number"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := Parse(tt.expr)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse(%q) error %v, want one with %q", tt.expr, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.expr, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q) = %#v, want %#v", tt.expr, got, tt.want)
			}
			again, err := Parse(FormatFilter(got))
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("FormatFilter = %q parses to %#v, %v", FormatFilter(got), again, err)
			}
		})
	}
}

func TestFormatFilter(t *testing.T) {
	conds := []Cond{
		{Field: "a", Op: Eq, Value: "plain"},
		{Field: "b", Op: Ne, Value: `two words "quoted" \`},
		{Field: "c", Op: Eq, Value: ""},
		{Field: "d", Op: Ge, Value: "10"},
	}
	want := `a=plain b!="two words \"quoted\" \\" c="" d>=10`
	if got := FormatFilter(conds); got != want {
		t.Errorf("FormatFilter = %q, want %q", got, want)
	}
}

// FuzzParse: Parse never panics, and what it parses, written back by
// FormatFilter, parses to the same conditions.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"http.request.method=DELETE http.route=/users/* http.response.status_code>=200",
		`a="x \"y\" \\" b!=* c<=-1e9 @timestamp>2026-11-22T10:00:00.5+01:00`,
		`a="`, "a=x\"", "=", "a", "a>>=b", "a= \t", "a=\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		conds, err := Parse(expr)
		if err != nil {
			return
		}
		for _, c := range conds {
			if c.Field == "" || c.Wildcard != strings.Contains(c.Value, "*") {
				t.Fatalf("Parse(%q) gave %#v", expr, c)
			}
		}
		text := FormatFilter(conds)
		again, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q) = %#v, written back as %q: %v", expr, conds, text, err)
		}
		if !reflect.DeepEqual(again, conds) {
			t.Fatalf("Parse(%q) = %#v, but its form %q parses to %#v", expr, conds, text, again)
		}
	})
}
