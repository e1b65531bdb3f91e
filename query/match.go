package query

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Match reports whether a decoded record (nested JSON objects, as
// encoding/json decodes them, numbers as float64 or json.Number) passes the
// query's time range and every condition. The time range is Since <=
// @timestamp < Until; a record without a readable @timestamp is outside any
// range that is set. Limit is not Match's concern.
//
// A dotted field walks nested objects (http.request.method is
// record["http"]["request"]["method"]); a key that itself holds dots is
// found too. Numbers compare numerically, times (> >= < <= with an RFC 3339
// value) chronologically, strings by equality or wildcard, booleans with
// true and false. A field that is an array matches when any element does.
// A missing field never matches = > >= < <=, and always matches !=; != is
// the negation of =.
func (q Query) Match(record map[string]any) bool {
	return newMatcher(q).match(record)
}

// matcher is a query with its values read once.
type matcher struct {
	since, until time.Time
	conds        []condMatcher
}

// condMatcher is one condition with its value decoded.
type condMatcher struct {
	Cond
	num    float64
	isNum  bool
	at     time.Time
	isTime bool
	parts  []string // the wildcard's literal pieces, split at *
}

func newMatcher(q Query) *matcher {
	m := &matcher{since: q.Since, until: q.Until}
	for _, c := range q.Conds {
		cm := condMatcher{Cond: c}
		cm.num, cm.isNum = parseFilterNumber(c.Value)
		if t, err := time.Parse(time.RFC3339Nano, c.Value); err == nil {
			cm.at, cm.isTime = t, true
		}
		if c.Wildcard {
			cm.parts = strings.Split(c.Value, "*")
		}
		m.conds = append(m.conds, cm)
	}
	return m
}

// selects reports whether the query can rule records out.
func (m *matcher) selects() bool {
	return len(m.conds) > 0 || !m.since.IsZero() || !m.until.IsZero()
}

// looksAt reports whether matching reads the top-level key k: @timestamp
// for a time range, a field, or an object holding one.
func (m *matcher) looksAt(k string) bool {
	if k == "@timestamp" && (!m.since.IsZero() || !m.until.IsZero()) {
		return true
	}
	for i := range m.conds {
		f := m.conds[i].Field
		if f == k || len(f) > len(k) && f[len(k)] == '.' && strings.HasPrefix(f, k) {
			return true
		}
	}
	return false
}

func (m *matcher) match(rec map[string]any) bool {
	if !m.since.IsZero() || !m.until.IsZero() {
		s, _ := rec["@timestamp"].(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !m.since.IsZero() && t.Before(m.since) || !m.until.IsZero() && !t.Before(m.until) {
			return false
		}
	}
	for i := range m.conds {
		if !m.conds[i].match(rec) {
			return false
		}
	}
	return true
}

func (c *condMatcher) match(rec map[string]any) bool {
	hit := false
	fieldValues(rec, c.Field, func(v any) bool {
		hit = c.matchOne(v)
		return !hit
	})
	if c.Op == Ne {
		return !hit
	}
	return hit
}

// matchOne reports whether v passes the condition, with != tested as =.
func (c *condMatcher) matchOne(v any) bool {
	switch c.Op {
	case Eq, Ne:
		text, num, isNum, ok := scalarText(v)
		if !ok {
			return false
		}
		if c.Wildcard {
			return wildcardMatch(c.parts, text)
		}
		if isNum && c.isNum {
			return num == c.num
		}
		return text == c.Value
	}
	if c.isNum {
		_, num, isNum, _ := scalarText(v)
		if !isNum {
			return false
		}
		return compareOrdered(c.Op, cmpFloat(num, c.num))
	}
	if c.isTime {
		s, ok := v.(string)
		if !ok {
			return false
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return false
		}
		return compareOrdered(c.Op, t.Compare(c.at))
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareOrdered(op Op, cmp int) bool {
	switch op {
	case Gt:
		return cmp > 0
	case Ge:
		return cmp >= 0
	case Lt:
		return cmp < 0
	case Le:
		return cmp <= 0
	}
	return false
}

// scalarText returns the text of a string, number or boolean, and the
// number's value; ok is false for null, objects and arrays.
func scalarText(v any) (text string, num float64, isNum, ok bool) {
	switch v := v.(type) {
	case string:
		return v, 0, false, true
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		return string(v), f, err == nil, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), v, true, true
	case bool:
		return strconv.FormatBool(v), 0, false, true
	}
	return "", 0, false, false
}

// fieldValues calls fn for every value the dotted field names in v, the
// elements of arrays one by one, until fn returns false.
func fieldValues(v any, field string, fn func(any) bool) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if !fieldValues(e, field, fn) {
				return false
			}
		}
		return true
	case map[string]any:
		if field == "" {
			return true // an object is no value
		}
		if e, ok := x[field]; ok {
			if !fieldValues(e, "", fn) {
				return false
			}
		}
		for i := 0; i < len(field); i++ {
			if field[i] != '.' {
				continue
			}
			if e, ok := x[field[:i]]; ok {
				if !fieldValues(e, field[i+1:], fn) {
					return false
				}
			}
		}
		return true
	}
	if field != "" {
		return true // a scalar has no children
	}
	return fn(v)
}

// wildcardMatch reports whether s is parts joined by runs of any
// characters (parts is a pattern split at *).
func wildcardMatch(parts []string, s string) bool {
	if len(parts) == 1 {
		return s == parts[0]
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}
