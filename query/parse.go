package query

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Parse reads a filter: whitespace-separated conditions FIELD OP VALUE, all
// of which must hold (see the package doc). FIELD is made of a-z, 0-9 and
// _ . @ -; OP is one of = != > >= < <= (the longest that fits); VALUE runs
// to the next whitespace, or is "double quoted" with \" and \\ as the only
// escapes. A * in a value makes it a wildcard, allowed with = and != only;
// > >= < <= need a number or an RFC 3339 time. An empty filter is no
// condition. Errors name the 1-based byte position of the problem.
func Parse(expr string) ([]Cond, error) {
	p := filterParser{s: expr}
	var conds []Cond
	for {
		p.skipSpace()
		if p.i == len(p.s) {
			return conds, nil
		}
		c, err := p.cond()
		if err != nil {
			return nil, err
		}
		conds = append(conds, c)
	}
}

// FormatFilter writes conditions back as a filter that Parse reads as the
// same conditions: values are quoted when they must be.
func FormatFilter(conds []Cond) string {
	var b strings.Builder
	for i, c := range conds {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(c.Field)
		b.WriteString(string(c.Op))
		b.WriteString(formatFilterValue(c.Value))
	}
	return b.String()
}

// formatFilterValue quotes v when it is empty or holds a space, a quote or
// a backslash.
func formatFilterValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r\v\f\"\\") {
		return v
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
	return b.String()
}

// filterParser reads a filter left to right; i is the byte offset.
type filterParser struct {
	s string
	i int
}

func isFilterSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

func isFieldByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '@' || c == '-'
}

func (p *filterParser) skipSpace() {
	for p.i < len(p.s) && isFilterSpace(p.s[p.i]) {
		p.i++
	}
}

// errorf returns an error naming the 1-based position pos.
func (p *filterParser) errorf(pos int, format string, args ...any) error {
	return fmt.Errorf("filter: position %d: %s", pos+1, fmt.Sprintf(format, args...))
}

// describe names what is at offset i, for errors.
func (p *filterParser) describe(i int) string {
	if i >= len(p.s) {
		return "end of filter"
	}
	return strconv.QuoteRune(rune(p.s[i]))
}

// cond reads one FIELD OP VALUE.
func (p *filterParser) cond() (Cond, error) {
	start := p.i
	for p.i < len(p.s) && isFieldByte(p.s[p.i]) {
		p.i++
	}
	if p.i == start {
		return Cond{}, p.errorf(p.i, "want a field name (a-z 0-9 _ . @ -), found %s", p.describe(p.i))
	}
	c := Cond{Field: p.s[start:p.i]}
	opPos := p.i
	c.Op = p.op()
	if c.Op == "" {
		return Cond{}, p.errorf(opPos, "want an operator (= != > >= < <=) after %q, found %s", c.Field, p.describe(opPos))
	}
	valPos := p.i
	v, err := p.value()
	if err != nil {
		return Cond{}, err
	}
	c.Value = v
	c.Wildcard = strings.Contains(v, "*")
	switch c.Op {
	case Eq, Ne:
	default:
		if c.Wildcard {
			return Cond{}, p.errorf(valPos, "a wildcard (*) works with = and != only, not %s", c.Op)
		}
		if !isOrderedValue(v) {
			return Cond{}, p.errorf(valPos, "%s needs a number or an RFC 3339 time, not %q", c.Op, v)
		}
	}
	return c, nil
}

// op reads the longest operator at the current position, or returns "".
func (p *filterParser) op() Op {
	for _, op := range []Op{Ne, Ge, Le, Eq, Gt, Lt} {
		if strings.HasPrefix(p.s[p.i:], string(op)) {
			p.i += len(op)
			return op
		}
	}
	return ""
}

// value reads a bare or a quoted value.
func (p *filterParser) value() (string, error) {
	if p.i < len(p.s) && p.s[p.i] == '"' {
		return p.quoted()
	}
	start := p.i
	for p.i < len(p.s) && !isFilterSpace(p.s[p.i]) {
		if p.s[p.i] == '"' {
			return "", p.errorf(p.i, "a quote inside a value: quote the whole value")
		}
		p.i++
	}
	if p.i == start {
		return "", p.errorf(p.i, "want a value, found %s (quote an empty value: \"\")", p.describe(p.i))
	}
	return p.s[start:p.i], nil
}

// quoted reads a "double quoted" value with \" and \\ escapes.
func (p *filterParser) quoted() (string, error) {
	open := p.i
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case '"':
			p.i++
			if p.i < len(p.s) && !isFilterSpace(p.s[p.i]) {
				return "", p.errorf(p.i, "want a space after the closing quote, found %s", p.describe(p.i))
			}
			return b.String(), nil
		case '\\':
			if p.i+1 < len(p.s) && (p.s[p.i+1] == '"' || p.s[p.i+1] == '\\') {
				b.WriteByte(p.s[p.i+1])
				p.i += 2
				continue
			}
			return "", p.errorf(p.i, "only \\\" and \\\\ are escapes in a quoted value")
		}
		b.WriteByte(c)
		p.i++
	}
	return "", p.errorf(open, "quote not closed")
}

// isOrderedValue reports whether v can be ordered: a number or an RFC 3339
// time.
func isOrderedValue(v string) bool {
	if _, ok := parseFilterNumber(v); ok {
		return true
	}
	_, err := time.Parse(time.RFC3339Nano, v)
	return err == nil
}

// parseFilterNumber reads a finite decimal number.
func parseFilterNumber(v string) (float64, bool) {
	if v == "" || strings.ContainsAny(v, "xXpP_") { // no hex floats or digit separators
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}
