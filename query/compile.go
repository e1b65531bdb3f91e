package query

// Compilers from a Query to the query languages of the SIEMs the trail is
// sent to, for `audittrail query --explain`: each returns text a user can
// paste into that SIEM. They are pure functions: no network, no state.
//
// Every value is quoted or escaped by the target language's own rules, so
// that no value can end its condition early and add syntax of its own.
//
// Conditions are expected to be valid (as Parse returns them): a known Op,
// Wildcard only with = and !=. ElasticsearchDSL reports an invalid
// condition as an error; the text compilers, which cannot, compile it to a
// condition that matches nothing, so that a bad query never widens into
// one that matches everything.
//
// Documents relied on (checked in the docs corpus):
//   - LogsQL: https://docs.victoriametrics.com/victorialogs/logsql/
//   - Elasticsearch Query DSL: https://www.elastic.co/docs/reference/query-languages/query-dsl/
//     (bool, term, wildcard, range; search_after paging needs a unique sort)
//   - Splunk SPL: https://help.splunk.com/splunk-enterprise/search/search-manual/9.3/search-primer
//     and the where / eval command references (field names with
//     non-alphanumeric characters in single quotes, strings in double quotes)
//   - Datadog Log Search Syntax: https://docs.datadoghq.com/logs/explorer/search_syntax/
//     (attributes as @name, escaping of special characters with \)

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// timestampField is the record's time in the schema.
const timestampField = "@timestamp"

// numberRE accepts the plain decimal numbers every target parses alike
// (no Inf, NaN, hex or digit separators, which strconv.ParseFloat allows).
var numberRE = regexp.MustCompile(`^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// number reports whether v is a plain decimal number, returning it in a
// canonical form that LogsQL, JSON, SPL and Datadog all read: integers in
// decimal, other numbers in positional notation ("1e3" is "1000", ".5" is
// "0.5").
func number(v string) (string, bool) {
	if !numberRE.MatchString(strings.TrimPrefix(v, "+")) {
		return "", false
	}
	if i, err := strconv.ParseInt(v, 10, 64); err == nil {
		return strconv.FormatInt(i, 10), true
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(f, 0) {
		return "", false
	}
	return strconv.FormatFloat(f, 'f', -1, 64), true
}

// checkCond reports why c cannot be compiled, or nil.
func checkCond(c Cond) error {
	if c.Field == "" {
		return fmt.Errorf("query: condition %s%q: empty field name", c.Op, c.Value)
	}
	switch c.Op {
	case Eq, Ne:
	case Gt, Ge, Lt, Le:
		if c.Wildcard {
			return fmt.Errorf("query: condition %s%s%q: wildcards only go with = and !=", c.Field, c.Op, c.Value)
		}
	default:
		return fmt.Errorf("query: condition %s %q %q: unknown comparison", c.Field, c.Op, c.Value)
	}
	return nil
}

// wildcardParts splits a wildcard value at its *s: "/users/*" gives
// ["/users/", ""].
func wildcardParts(v string) []string { return strings.Split(v, "*") }

// trailingStarOnly reports whether the wildcard value v has a single *, at
// its end, returning the prefix before it.
func trailingStarOnly(v string) (string, bool) {
	i := strings.IndexByte(v, '*')
	if i != len(v)-1 {
		return "", false
	}
	return v[:i], true
}

// ---------------------------------------------------------------- LogsQL

// LogsQL compiles q to a VictoriaLogs LogsQL query, for records ingested
// with @timestamp as the log time (_time_field=@timestamp) and nested
// objects flattened into dotted field names:
//
//	"http.request.method":="DELETE" "http.route":="/users/"* "http.response.status_code":>=500 _time:[2026-01-02T03:04:05Z, 2026-01-03T00:00:00Z) | sort by (_time desc) limit 10
//
// = is the exact filter (field:="v"), != its negation (-field:="v", which
// also holds when the field is missing), a value with * an exact-prefix
// filter when its only * ends it and an anchored regexp filter (~"...")
// otherwise, > >= < <= range comparison filters (numbers bare, other
// values as quoted strings), Since/Until the _time filter (since
// inclusive, until exclusive) and Limit a sort pipe with a limit, newest
// first (a bare limit pipe would return any N matches). Conditions on
// @timestamp become _time filters. Field names and values are double-quoted
// strings with Go escapes, which LogsQL reads back (strconv.Unquote).
// The empty query is "*".
func LogsQL(q Query) string {
	var parts []string
	for _, c := range q.Conds {
		parts = append(parts, logsqlCond(c))
	}
	if t := logsqlTimeRange(q.Since, q.Until); t != "" {
		parts = append(parts, t)
	}
	out := strings.Join(parts, " ")
	if out == "" {
		out = "*"
	}
	if q.Limit > 0 {
		out += " | sort by (_time desc) limit " + strconv.Itoa(q.Limit)
	}
	return out
}

// logsqlNever is a filter that no record passes: the _msg field is always
// present (VictoriaLogs fills it in), so "any value" negated holds nowhere.
const logsqlNever = `-_msg:*`

// logsqlTime formats t for a _time filter.
func logsqlTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func logsqlTimeRange(since, until time.Time) string {
	switch {
	case !since.IsZero() && !until.IsZero():
		return "_time:[" + logsqlTime(since) + ", " + logsqlTime(until) + ")"
	case !since.IsZero():
		return "_time:>=" + logsqlTime(since)
	case !until.IsZero():
		return "_time:<" + logsqlTime(until)
	}
	return ""
}

func logsqlCond(c Cond) string {
	if checkCond(c) != nil {
		return logsqlNever
	}
	if c.Field == timestampField && !c.Wildcard {
		if t, err := time.Parse(time.RFC3339Nano, c.Value); err == nil {
			return logsqlTimeCond(c.Op, t)
		}
	}
	field := strconv.Quote(c.Field)
	switch c.Op {
	case Eq, Ne:
		var f string
		switch {
		case !c.Wildcard:
			f = field + ":=" + strconv.Quote(c.Value)
		default:
			if prefix, ok := trailingStarOnly(c.Value); ok {
				f = field + ":=" + strconv.Quote(prefix) + "*"
			} else {
				f = field + ":~" + strconv.Quote(wildcardRegexp(c.Value))
			}
		}
		if c.Op == Ne {
			return "-" + f
		}
		return f
	default: // Gt, Ge, Lt, Le
		v, ok := number(c.Value)
		if !ok {
			v = strconv.Quote(c.Value)
		}
		return field + ":" + string(c.Op) + v
	}
}

// logsqlTimeCond compiles a comparison of @timestamp with t to a _time
// filter.
func logsqlTimeCond(op Op, t time.Time) string {
	ts := logsqlTime(t)
	switch op {
	case Eq:
		return "_time:[" + ts + ", " + ts + "]"
	case Ne:
		return "-_time:[" + ts + ", " + ts + "]"
	}
	return "_time:" + string(op) + ts
}

// wildcardRegexp is an RE2 expression matching exactly the values the
// wildcard value v matches: * is any run of characters, newlines included.
// RE2 takes only UTF-8: a byte that is not becomes \x{FFFD}, which is how
// RE2 reads such a byte in the text it matches.
func wildcardRegexp(v string) string {
	parts := wildcardParts(v)
	for i, p := range parts {
		var b strings.Builder
		for p != "" {
			r, n := utf8.DecodeRuneInString(p)
			if r == utf8.RuneError && n == 1 {
				b.WriteString(`\x{FFFD}`)
			} else {
				b.WriteString(regexp.QuoteMeta(p[:n]))
			}
			p = p[n:]
		}
		parts[i] = b.String()
	}
	return "(?s)^" + strings.Join(parts, ".*") + "$"
}

// -------------------------------------------------------- Elasticsearch

// ElasticsearchDSL compiles q to the body of an Elasticsearch (or
// OpenSearch) _search request over the index template of
// sinks/elasticsearch/template.json, where strings are keyword fields:
//
//	{"query":{"bool":{"filter":[{"term":{"http.request.method":"DELETE"}}, ...],
//	 "must_not":[...]}},"size":10,"sort":[{"@timestamp":"desc"},{"event.id":"asc"}]}
//
// = is a term query, a value with * a wildcard query (with ? and \
// escaped, so that only * is special), != the same under must_not,
// > >= < <= a range query (numbers as JSON numbers, other values, such as
// RFC 3339 times, as strings), Since/Until a range on @timestamp (gte,
// lt), Limit the size (absent when 0, so Elasticsearch's default of 10
// applies: page with search_after over the sort). The sort, newest first
// and then by event.id, is unique per record, as search_after needs.
// An invalid condition is an error.
func ElasticsearchDSL(q Query) ([]byte, error) {
	filter := []any{}
	var mustNot []any
	for _, c := range q.Conds {
		if err := checkCond(c); err != nil {
			return nil, err
		}
		clause := esClause(c)
		if c.Op == Ne {
			mustNot = append(mustNot, clause)
		} else {
			filter = append(filter, clause)
		}
	}
	if !q.Since.IsZero() || !q.Until.IsZero() {
		r := map[string]any{}
		if !q.Since.IsZero() {
			r["gte"] = q.Since.UTC().Format(time.RFC3339Nano)
		}
		if !q.Until.IsZero() {
			r["lt"] = q.Until.UTC().Format(time.RFC3339Nano)
		}
		filter = append(filter, map[string]any{"range": map[string]any{timestampField: r}})
	}
	b := map[string]any{"filter": filter}
	if len(mustNot) > 0 {
		b["must_not"] = mustNot
	}
	body := map[string]any{
		"query": map[string]any{"bool": b},
		"sort": []any{
			map[string]any{timestampField: "desc"},
			map[string]any{"event.id": "asc"},
		},
	}
	if q.Limit > 0 {
		body["size"] = q.Limit
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return nil, fmt.Errorf("query: encode Elasticsearch body: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// esTextFields are the fields the index template maps as text (analyzed
// into words) rather than keyword: a term query on them would match one
// lower-cased word only. A test keeps the list in step with the template.
func esTextFields() []string {
	return []string{"coverage_gap.detail", "error.message", "event.reason", "log.message", "security.findings.reason"}
}

// esClause is the query clause of a valid condition, before negation. On
// a text field, = is a phrase match (the words in order, not the whole
// value), and a value whose only * ends it a phrase prefix match.
func esClause(c Cond) map[string]any {
	switch c.Op {
	case Eq, Ne:
		if slices.Contains(esTextFields(), c.Field) && c.Value != "" {
			if !c.Wildcard {
				return map[string]any{"match_phrase": map[string]any{c.Field: c.Value}}
			}
			if prefix, ok := trailingStarOnly(c.Value); ok {
				return map[string]any{"match_phrase_prefix": map[string]any{c.Field: prefix}}
			}
		}
		if c.Wildcard {
			return map[string]any{"wildcard": map[string]any{c.Field: map[string]any{"value": esWildcard(c.Value)}}}
		}
		return map[string]any{"term": map[string]any{c.Field: c.Value}}
	}
	var v any = c.Value
	if n, ok := number(c.Value); ok {
		v = json.Number(n)
	}
	var key string
	switch c.Op {
	case Gt:
		key = "gt"
	case Ge:
		key = "gte"
	case Lt:
		key = "lt"
	default: // Le
		key = "lte"
	}
	return map[string]any{"range": map[string]any{c.Field: map[string]any{key: v}}}
}

// esWildcard escapes the wildcard query's other specials (? and \) in the
// literal parts of v, keeping its *s.
func esWildcard(v string) string {
	parts := wildcardParts(v)
	for i, p := range parts {
		parts[i] = strings.NewReplacer(`\`, `\\`, `?`, `\?`).Replace(p)
	}
	return strings.Join(parts, "*")
}

// ---------------------------------------------------------------- Splunk

// splunkPlainField matches the field names the search command takes bare:
// letters, digits, _ and the dots of the HEC events' extracted
// JSON paths (event.action, http.request.method).
var splunkPlainField = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// SPL compiles q to the part of a Splunk search that follows the caller's
// `search index=... sourcetype=audittrail`, for HEC events whose JSON
// fields Splunk extracts under their dotted paths:
//
//	earliest=1767323045 latest=1767398400 http.request.method="DELETE" NOT http.route="/users/*" | where tonumber('http.response.status_code')>=500 | head 10
//
// = and != are search-time comparisons, field="v" and NOT field="v" (NOT
// also holds when the field is missing), with * as the wildcard; a value
// that holds a literal * (no wildcard) is compared in a where clause
// instead, since search treats every * as a wildcard. > >= < <= are where
// clauses on tonumber('field') for numbers and string comparisons
// otherwise. Since/Until are earliest= (inclusive) and latest=
// (exclusive), in epoch seconds; Limit is | head N. Field names outside
// letters, digits, _ and . are only used in where clauses, single-quoted.
// Note: search-time = ignores case in values, where does not.
// The empty query is "".
func SPL(q Query) string {
	var search, where []string
	if !q.Since.IsZero() {
		search = append(search, "earliest="+splunkEpoch(q.Since))
	}
	if !q.Until.IsZero() {
		search = append(search, "latest="+splunkEpoch(q.Until))
	}
	for _, c := range q.Conds {
		if checkCond(c) != nil {
			where = append(where, "false()")
			continue
		}
		plain := splunkPlainField.MatchString(c.Field)
		switch {
		case (c.Op == Eq || c.Op == Ne) && plain && (c.Wildcard || !strings.Contains(c.Value, "*")):
			s := c.Field + "=" + splunkString(c.Value)
			if c.Op == Ne {
				s = "NOT " + s
			}
			search = append(search, s)
		case c.Op == Eq || c.Op == Ne:
			where = append(where, splunkWhereEq(c))
		default:
			f := splunkEvalField(c.Field)
			if n, ok := number(c.Value); ok {
				where = append(where, "tonumber("+f+")"+string(c.Op)+n)
			} else {
				where = append(where, f+string(c.Op)+splunkString(c.Value))
			}
		}
	}
	var out []string
	if len(search) > 0 {
		out = append(out, strings.Join(search, " "))
	}
	if len(where) > 0 {
		out = append(out, "| where "+strings.Join(where, " AND "))
	}
	if q.Limit > 0 {
		out = append(out, "| head "+strconv.Itoa(q.Limit))
	}
	return strings.Join(out, " ")
}

// splunkWhereEq is the where form of an = or != condition: == for an exact
// value, match() on an anchored regexp for a wildcard value.
func splunkWhereEq(c Cond) string {
	f := splunkEvalField(c.Field)
	var s string
	switch {
	case !c.Wildcard:
		s = f + "==" + splunkString(c.Value)
	default:
		s = "match(" + f + ", " + splunkString(wildcardRegexp(c.Value)) + ")"
	}
	if c.Op == Ne {
		return "NOT (" + s + ")"
	}
	return s
}

// splunkEpoch formats t as epoch seconds, with microseconds (Splunk's
// time resolution) when t has a fraction of a second.
func splunkEpoch(t time.Time) string {
	us := t.UnixMicro()
	if us%1_000_000 == 0 {
		return strconv.FormatInt(us/1_000_000, 10)
	}
	sec, frac := us/1_000_000, us%1_000_000
	if frac < 0 {
		sec, frac = sec-1, frac+1_000_000
	}
	return fmt.Sprintf("%d.%06d", sec, frac)
}

// splunkString double-quotes v, for the search command and for eval
// expressions alike, escaping " and \ with \.
func splunkString(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// splunkEvalField single-quotes a field name for eval and where, escaping
// ' and \ with \.
func splunkEvalField(f string) string {
	return `'` + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(f) + `'`
}

// --------------------------------------------------------------- Datadog

// datadogSpecial are the characters the Log Search Syntax asks to escape
// with \ (besides white space): = - ! & | > < ( ) { } [ ] " * ? : \ #,
// and @ (reserved for attributes), ~ and ^ (Lucene's, to be safe). / is
// documented as not special.
const datadogSpecial = `=-!&|><(){}[]"*?:\#@~^`

// datadogNever is a query term no log matches: the exclusion of all.
const datadogNever = `-*`

// DatadogQuery compiles q to a Datadog Logs Search query and the time
// range for the search API's filter.from and filter.to (RFC 3339 with
// milliseconds; empty when open):
//
//	@http.request.method:DELETE @http.route:/users/* @http.response.status_code:>=500
//
// Fields are attributes (@field); = is @field:value, != -@field:value,
// * is the wildcard, > >= < <= are numeric range searches (which need a
// measure facet on the attribute). Every special character and white space
// in values and field names is escaped with \. Datadog has no limit in
// the query: the caller sets page[limit]. The empty query is "*".
func DatadogQuery(q Query) (query string, from, to string) {
	var parts []string
	for _, c := range q.Conds {
		if checkCond(c) != nil {
			parts = append(parts, datadogNever)
			continue
		}
		field := "@" + datadogEscape(c.Field, true)
		switch c.Op {
		case Eq, Ne:
			s := field + ":" + datadogValue(c.Value, c.Wildcard)
			if c.Op == Ne {
				s = "-" + s
			}
			parts = append(parts, s)
		default:
			v, ok := number(c.Value)
			if !ok {
				v = datadogEscape(c.Value, false)
			}
			parts = append(parts, field+":"+string(c.Op)+v)
		}
	}
	query = strings.Join(parts, " ")
	if query == "" {
		query = "*"
	}
	const ms = "2006-01-02T15:04:05.000Z07:00"
	if !q.Since.IsZero() {
		from = q.Since.UTC().Format(ms)
	}
	if !q.Until.IsZero() {
		to = q.Until.UTC().Format(ms)
	}
	return query, from, to
}

// datadogValue escapes v, keeping its *s as wildcards when wildcard is set.
// The empty value is "" (a quoted empty sequence).
func datadogValue(v string, wildcard bool) string {
	if v == "" {
		return `""`
	}
	if !wildcard {
		return datadogEscape(v, false)
	}
	parts := wildcardParts(v)
	for i, p := range parts {
		parts[i] = datadogEscape(p, false)
	}
	return strings.Join(parts, "*")
}

// datadogEscape puts \ before every special or white-space character of
// s. In a field name, . separates path segments and stays bare.
func datadogEscape(s string, field bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case field && r == '.':
		case strings.ContainsRune(datadogSpecial, r), unicode.IsSpace(r):
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
