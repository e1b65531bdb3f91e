package detect

// The SQL injection signatures of Injection (see signatures.md).

import (
	"strings"
)

// sqlInjection returns the rule of the first SQL injection signature s
// matches, or "".
func sqlInjection(s string, f feature) string {
	if f&(fQuote|fStar) != 0 {
		if r := sqlComment(s, f); r != "" {
			return r
		}
	}
	n := s
	if f&(fStar|fNewline|fCtrl) != 0 {
		n = sqlNorm(s)
	}
	switch {
	case f&fUnion != 0 && unionSelect(n):
		return "sqli.union_select"
	case f&fSemi != 0 && stackedQuery(n):
		return "sqli.stacked_query"
	case f&fParen != 0 && timeBased(n):
		return "sqli.time_based"
	case f&fDigit != 0 && orderBy(n):
		return "sqli.order_by"
	}
	if f&fQuote != 0 || f&fDigit != 0 && f&(fEq|fLT|fGT|fParen) != 0 {
		if r := booleanCondition(n); r != "" {
			return r
		}
	}
	if f&(fParen|fAt|fUnderscore|fSpace) != 0 && schemaProbe(n, f) {
		return "sqli.schema_probe"
	}
	return ""
}

// sqlNorm turns comments and every kind of white space into one space
// (UNION/**/SELECT, UNION%0aSELECT), keeps the content of MySQL's
// executable comments (/*!50000UNION*/) and collapses runs of spaces.
func sqlNorm(s string) string {
	if !strings.Contains(s, "/*") && !strings.Contains(s, "*/") && !strings.Contains(s, "  ") &&
		!strings.ContainsAny(s, "\t\n\r\f\v\x00") {
		return s
	}
	b := make([]byte, 0, len(s))
	space := func() {
		if len(b) > 0 && b[len(b)-1] != ' ' {
			b = append(b, ' ')
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			if i+2 < len(s) && s[i+2] == '!' {
				i += 2
				for i+1 < len(s) && isDigit(s[i+1]) {
					i++
				}
				space()
				continue
			}
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				i = len(s)
			} else {
				i += 2 + end + 1
			}
			space()
		case c == '*' && i+1 < len(s) && s[i+1] == '/':
			i++
			space()
		case c <= ' ':
			space()
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// sqlComment: a quote (and closing parentheses) followed by a comment that
// ends the value: admin'--, 1')#, ' -- -, '/*; or a MySQL executable
// comment with a version or a keyword (/*!50000, /*!union).
func sqlComment(s string, f feature) string {
	if f&fStar != 0 && indexes(s, "/*!", func(i int) bool {
		r := s[i+3:]
		if r != "" && isDigit(r[0]) {
			return true
		}
		for _, k := range []string{"union", "select", "and", "or ", "or(", "sleep", "from", "where", "concat"} {
			if strings.HasPrefix(r, k) {
				return true
			}
		}
		return false
	}) {
		return "sqli.mysql_comment"
	}
	if f&fQuote == 0 || f&(fDash|fHash|fStar) == 0 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '\'' && c != '"' {
			continue
		}
		j := i + 1
		for n := 0; j < len(s) && n < 8 && (s[j] == ')' || s[j] == ' ' || s[j] == ';'); n++ {
			j++
		}
		r := s[j:]
		switch {
		case strings.HasPrefix(r, "--"):
			if terminal(r[2:], "-+ ") {
				return "sqli.comment_terminator"
			}
		case strings.HasPrefix(r, "#"), strings.HasPrefix(r, "/*"):
			k := 1
			if r[0] == '/' {
				k = 2
			}
			if terminal(r[k:], " ") {
				return "sqli.comment_terminator"
			}
		}
	}
	return ""
}

// terminal reports whether r is nothing but filler: the characters in
// fill, then the end of the value or of a line.
func terminal(r, fill string) bool {
	for i := 0; i < len(r); i++ {
		switch {
		case r[i] == '\n' || r[i] == '\r':
			return true
		case strings.IndexByte(fill, r[i]) < 0:
			return false
		}
	}
	return true
}

// unionSelect: UNION [ALL|DISTINCT] SELECT followed by what a column list
// starts with (NULL, a number or a list, @@version, a function, a quoted
// string, a column and FROM); "European Union select committee" has none.
func unionSelect(n string) bool {
	return indexes(n, "union", func(i int) bool {
		if i > 0 && isWord(n[i-1]) {
			return false
		}
		j := skipSpaceParen(n, i+5)
		for _, w := range []string{"all", "distinct"} {
			if j > i+5 && wordAt(n, j, w) {
				j = skipSpaceParen(n, j+len(w))
			}
		}
		if j == i+5 || !wordAt(n, j, "select") {
			return false
		}
		return selectList(n, j+6)
	})
}

func skipSpaceParen(s string, i int) int {
	for n := 0; i < len(s) && n < 16 && (s[i] == ' ' || s[i] == '('); n++ {
		i++
	}
	return i
}

// selectList reports whether n at i looks like the column list of an
// injected SELECT.
func selectList(n string, i int) bool {
	i = skipSpaceParen(n, i)
	r := n[i:]
	for _, p := range []string{"null", "*", "@@", "0x", "'", "\"", "char(", "chr(", "concat", "group_concat(", "version(", "database(", "user(", "current_user", "system_user", "table_name", "column_name", "schema_name", "load_file(", "sleep(", "md5(", "if(", "cast(", "convert(", "-1", "-0"} {
		if strings.HasPrefix(r, p) {
			return true
		}
	}
	tok := token(r)
	if tok == "" {
		return false
	}
	numeric := isNumber(tok)
	rest := r[len(tok):]
	k := skipSpaces(rest, 0, 4)
	switch {
	case strings.HasPrefix(rest[k:], "from "):
		return true
	case strings.HasPrefix(rest[k:], ","):
		if numeric {
			return true
		}
		// A list of columns: the next item is followed by a comma, FROM
		// or the end.
		rest = rest[k+1:]
		rest = rest[skipSpaces(rest, 0, 4):]
		t2 := token(rest)
		if t2 == "" {
			return false
		}
		rest = rest[len(t2):]
		rest = rest[skipSpaces(rest, 0, 4):]
		return rest == "" || strings.HasPrefix(rest, ",") || strings.HasPrefix(rest, "from ") || sqlEnd(rest)
	case numeric:
		return rest[k:] == "" || sqlEnd(rest[k:])
	}
	return false
}

// sqlEnd: what ends an injected statement: a comment or a semicolon.
func sqlEnd(r string) bool {
	return strings.HasPrefix(r, "--") || strings.HasPrefix(r, "#") || strings.HasPrefix(r, "/*") ||
		strings.HasPrefix(r, ";") || strings.HasPrefix(r, ")")
}

// token is the identifier or number n starts with (dots and $ included).
func token(n string) string {
	j := 0
	for j < len(n) && j < 64 && (isWord(n[j]) || n[j] == '.' || n[j] == '$') {
		j++
	}
	return n[:j]
}

func isNumber(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		if !isDigit(t[i]) && t[i] != '.' {
			return false
		}
	}
	return true
}

// stackedQuery: a quote, number or parenthesis, a semicolon and a second
// statement: 1; DROP TABLE users, '); EXEC xp_cmdshell, '; WAITFOR DELAY.
func stackedQuery(n string) bool {
	if strings.IndexByte(n, ';') < 0 {
		return false
	}
	return indexes(n, ";", func(i int) bool {
		if !literalBefore(n, i) {
			return false
		}
		r := n[skipSpaces(n, i+1, 4):]
		w := token(r)
		rest := strings.TrimPrefix(r[len(w):], " ")
		switch w {
		case "drop", "create", "alter", "truncate":
			next := token(rest)
			switch next {
			case "table", "database", "view", "procedure", "function", "user", "schema", "login", "trigger":
				return true
			}
		case "insert":
			return strings.HasPrefix(rest, "into ")
		case "delete":
			return strings.HasPrefix(rest, "from ")
		case "update":
			t := token(rest)
			return t != "" && strings.HasPrefix(rest[len(t):], " set ")
		case "shutdown":
			return rest == "" || sqlEnd(rest)
		case "exec", "execute":
			return strings.HasPrefix(rest, "xp_") || strings.HasPrefix(rest, "sp_") ||
				strings.HasPrefix(rest, "master") || strings.HasPrefix(rest, "(") ||
				strings.HasPrefix(rest, "@") || strings.HasPrefix(rest, "'")
		case "declare":
			return strings.HasPrefix(rest, "@")
		case "waitfor":
			return strings.HasPrefix(rest, "delay") || strings.HasPrefix(rest, "time")
		case "select":
			win := rest[:min(len(rest), 120)]
			return strings.Contains(win, " from ") || strings.HasPrefix(rest, "pg_sleep") ||
				strings.HasPrefix(rest, "sleep(") || strings.HasPrefix(rest, "@@") ||
				strings.HasPrefix(rest, "version(") || strings.HasPrefix(rest, "load_file(")
		case "copy":
			win := rest[:min(len(rest), 120)]
			return strings.Contains(win, " program ")
		}
		return false
	})
}

// orderBy: the column count probe, a quote or number, ORDER BY and a
// number, and nothing after but a comment: 1' ORDER BY 10--.
func orderBy(n string) bool {
	return indexes(n, "order by ", func(i int) bool {
		if !literalBefore(n, i) {
			return false
		}
		r := n[i+9:]
		return sqlEndAfterNumber(r) || quoteBefore(n, i) && numberThenEnd(r)
	})
}

// sqlEndAfterNumber: a number, then a comment or semicolon.
func sqlEndAfterNumber(r string) bool {
	d := 0
	for d < len(r) && isDigit(r[d]) {
		d++
	}
	r = strings.TrimLeft(r[d:], " ")
	return d > 0 && sqlEnd(r)
}

// numberThenEnd: a number, then the end of the value.
func numberThenEnd(r string) bool {
	r = strings.TrimRight(r, " ")
	return r != "" && isNumber(r) && !strings.Contains(r, ".")
}

// literalBefore reports whether a quote, a parenthesis or a standalone
// number ends n before i (spaces skipped): the end of the value an
// injection breaks out of.
func literalBefore(n string, i int) bool {
	j := i - 1
	for k := 0; j >= 0 && k < 4 && n[j] == ' '; k++ {
		j--
	}
	if j < 0 {
		return false
	}
	switch c := n[j]; {
	case c == '\'' || c == '"':
		// A quote that opens a phrase (why "or 1=1" shows up) does not
		// end a value: it follows a space and touches the word.
		return !(j == i-1 && j > 0 && n[j-1] == ' ' && isWord(n[i]))
	case c == ')' || c == '`':
		return true
	case isDigit(c):
		for j >= 0 && (isDigit(n[j]) || n[j] == '.') {
			j--
		}
		return j < 0 || !isWord(n[j]) && n[j] != '-'
	}
	return false
}

// timeBased: the delay functions of blind injection, called where SQL
// calls them: ' AND SLEEP(5), '||pg_sleep(10)--, WAITFOR DELAY '0:0:5',
// BENCHMARK(5000000,MD5(1)), DBMS_PIPE.RECEIVE_MESSAGE(...).
func timeBased(n string) bool {
	if sqlCalls(n, func(name string, i, open int) bool {
		r := n[open+1:]
		r = r[skipSpaces(r, 0, 2):]
		switch name {
		case "pg_sleep", "dbms_lock.sleep", "dbms_pipe.receive_message":
			return true // nothing else is called that
		case "sleep":
			// sleep(5), not time.sleep( or usleep( (the name would be
			// longer) nor sleep(ms) in code.
			return r != "" && (isDigit(r[0]) || r[0] == '(' || r[0] == '\'') && sqlContextBefore(n, i)
		case "benchmark":
			d := 0
			for d < len(r) && isDigit(r[d]) {
				d++
			}
			return d >= 4 && d < len(r) && r[d] == ','
		case "randomblob":
			return sqlContextBefore(n, i)
		}
		return false
	}) {
		return true
	}
	return strings.Contains(n, "waitfor delay") && indexes(n, "waitfor delay", func(i int) bool {
		r := strings.TrimPrefix(n[i+13:], " ")
		return strings.HasPrefix(r, "'") || strings.HasPrefix(r, "\"") || strings.HasPrefix(r, "@")
	})
}

// sqlCalls calls fn with each function call of n, until fn returns true:
// the name before a "(" (dots included: dbms_lock.sleep), where it starts
// and where the "(" is.
func sqlCalls(n string, fn func(name string, start, open int) bool) bool {
	for off := 0; off < len(n); {
		k := strings.IndexByte(n[off:], '(')
		if k < 0 {
			return false
		}
		open := off + k
		off = open + 1
		e := open
		if e > 0 && n[e-1] == ' ' {
			e-- // sleep (5), SLEEP/**/(5)
		}
		b := e
		for b > 0 && e-b < 32 && (isWord(n[b-1]) || n[b-1] == '.') {
			b--
		}
		if b < e && fn(n[b:e], b, open) {
			return true
		}
	}
	return false
}

// sqlContextBefore reports whether what precedes i is where SQL calls a
// function: a quote, an operator, a comma or parenthesis, a keyword.
func sqlContextBefore(n string, i int) bool {
	j := i - 1
	for k := 0; j >= 0 && k < 8 && (n[j] == ' ' || n[j] == '('); k++ {
		j--
	}
	if j < 0 {
		// The value is the call (id=sleep(5)): nothing but SQL may follow.
		r := n[i:]
		if e := strings.IndexByte(r, ')'); e >= 0 {
			r = strings.TrimLeft(r[e+1:], " )")
			return r == "" || sqlEnd(r)
		}
		return false
	}
	switch n[j] {
	case '\'', '"', '|', '&', ',', ';', '=', '+':
		return true
	}
	e := j + 1
	for j >= 0 && isWord(n[j]) {
		j--
	}
	switch n[j+1 : e] {
	case "and", "or", "xor", "select", "if", "then", "else", "when", "not", "where", "having", "rlike":
		return true
	}
	return false
}

// booleanCondition: a quote, parenthesis or number, then OR/AND/XOR/||/&&
// and a condition of literals (' OR '1'='1, 1 AND 1=1, " or ""=", ' OR 1--)
// or a subquery or function ( AND (SELECT ..., ' AND SUBSTRING(...).
func booleanCondition(n string) string {
	for i := 0; i < len(n); i++ {
		var end int
		switch n[i] {
		case 'o':
			if !wordAt(n, i, "or") {
				continue
			}
			end = i + 2
		case 'a':
			if !wordAt(n, i, "and") {
				continue
			}
			end = i + 3
		case 'x':
			if !wordAt(n, i, "xor") {
				continue
			}
			end = i + 3
		case 'r':
			// RLIKE and REGEXP compare too: 1' RLIKE (SELECT ...).
			switch {
			case wordAt(n, i, "rlike"):
				end = i + 5
			case wordAt(n, i, "regexp"):
				end = i + 6
			default:
				continue
			}
		case 'h':
			// HAVING 1=1: SQL's own word, after whatever precedes it.
			if wordAt(n, i, "having") && condition(n, i+6, false) == "sqli.tautology" {
				return "sqli.tautology"
			}
			continue
		case '|', '&':
			if i+1 >= len(n) || n[i+1] != n[i] {
				continue
			}
			end = i + 2
		default:
			continue
		}
		if !literalBefore(n, i) {
			continue
		}
		if r := condition(n, end, quoteBefore(n, i)); r != "" {
			return r
		}
	}
	return ""
}

func quoteBefore(n string, i int) bool {
	j := i - 1
	for j >= 0 && (n[j] == ' ' || n[j] == ')') {
		j--
	}
	return j >= 0 && (n[j] == '\'' || n[j] == '"')
}

// condition parses what follows a boolean operator at i.
func condition(n string, i int, quoted bool) string {
	j := skipSpaceParen(n, i)
	r := n[j:]
	if strings.HasPrefix(r, "select ") || strings.HasPrefix(r, "exists") {
		return "sqli.boolean_function"
	}
	if f := token(r); f != "" && strings.HasPrefix(r[len(f):], "(") {
		if sqlFunction(f) {
			return "sqli.boolean_function"
		}
		return ""
	}
	a, ok := literal(r, false)
	if !ok {
		return ""
	}
	r = r[a:]
	r = r[skipSpaces(r, 0, 4):]
	op := 0
	for _, o := range []string{"==", "!=", "<>", "<=", ">=", "=", "<", ">", "like ", "rlike ", "regexp "} {
		if strings.HasPrefix(r, o) {
			op = len(o)
			break
		}
	}
	if op == 0 {
		// ' OR 1--, ' or true: a literal that is the whole condition. A
		// quoted one needs the comment ("shoes" OR "boots" is a search).
		if quoted && (sqlEnd(r) || r == "" && n[j] != '\'' && n[j] != '"') {
			return "sqli.tautology"
		}
		return ""
	}
	r = r[op:]
	r = r[skipSpaces(r, 0, 4):]
	if strings.HasPrefix(r, "(select") || strings.HasPrefix(r, "( select") {
		return "sqli.boolean_function"
	}
	if f := token(r); f != "" && strings.HasPrefix(r[len(f):], "(") && sqlFunction(f) {
		return "sqli.boolean_function"
	}
	if _, ok := literal(r, true); ok {
		return "sqli.tautology"
	}
	return ""
}

// sqlFunction reports whether f is a function blind and error-based
// injections call in a condition.
func sqlFunction(f string) bool {
	switch f {
	case "substring", "substr", "mid", "ascii", "ord", "length", "len", "char", "chr", "if", "ifnull",
		"exists", "updatexml", "extractvalue", "sleep", "benchmark", "pg_sleep", "user", "database",
		"version", "convert", "cast", "count", "concat", "current_user", "db_name", "system_user":
		return true
	}
	return false
}

// literal returns the length of the SQL literal r starts with: a number,
// a quoted string, TRUE, FALSE or NULL. With open, a quoted string may be
// left open (the application closes it: '1'='1).
func literal(r string, open bool) (int, bool) {
	if r == "" {
		return 0, false
	}
	switch c := r[0]; {
	case c == '\'' || c == '"':
		end := strings.IndexByte(r[1:min(len(r), 66)], c)
		if end >= 0 {
			return end + 2, true
		}
		return len(r), open && len(r) <= 65
	case strings.HasPrefix(r, "0x"):
		j := 2
		for j < len(r) && isHex(r[j]) {
			j++
		}
		if j < len(r) && isWord(r[j]) {
			return 0, false
		}
		return j, j > 2
	case isDigit(c) || c == '-' && len(r) > 1 && isDigit(r[1]):
		j := 1
		for j < len(r) && (isDigit(r[j]) || r[j] == '.') {
			j++
		}
		if j < len(r) && isWord(r[j]) {
			return 0, false
		}
		return j, true
	}
	for _, w := range []string{"true", "false", "null"} {
		if wordAt(r, 0, w) {
			return len(w), true
		}
	}
	return 0, false
}

// schemaProbe: reads of the catalog and functions only an injected query
// calls: FROM information_schema.tables, @@version, xp_cmdshell,
// LOAD_FILE(, INTO OUTFILE, EXTRACTVALUE/UPDATEXML with CONCAT.
func schemaProbe(n string, f feature) bool {
	if strings.Contains(n, "from ") {
		for _, k := range []string{"from information_schema.", "from sqlite_master", "from pg_catalog.", "from sys.", "from sysobjects"} {
			if strings.Contains(n, k) {
				return true
			}
		}
	}
	if f&fUnderscore != 0 {
		for _, k := range []string{"xp_cmdshell", "utl_inaddr.", "dbms_xmlgen."} {
			if strings.Contains(n, k) {
				return true
			}
		}
	}
	if f&fAt != 0 && indexes(n, "@@version", func(i int) bool { return i == 0 || !isWord(n[i-1]) }) {
		return true
	}
	if f&fParen == 0 {
		return false
	}
	if strings.Contains(n, "into ") && indexes(n, "into ", func(i int) bool {
		r := n[i+5:]
		return (strings.HasPrefix(r, "outfile ") || strings.HasPrefix(r, "dumpfile ")) && strings.ContainsAny(r[:min(len(r), 12)], "'\"")
	}) {
		return true
	}
	return sqlCalls(n, func(name string, i, open int) bool {
		switch name {
		case "load_file", "utl_http.request":
			return true
		case "extractvalue", "updatexml":
			w := n[open:min(len(n), open+60)]
			return strings.Contains(w, "concat") || strings.Contains(w, "0x")
		}
		return false
	})
}
