package detect

import (
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/audittrail/audittrail/internal/jsontext"
	"github.com/audittrail/audittrail/schema"
)

// Injection looks for injection payloads in req: SQL injection, cross-site
// scripting, path traversal, command injection and SSRF towards a cloud
// instance metadata service. It returns at most one injection_attempt
// finding per attack class, in that order, and nil when nothing matched
// (or req is nil).
//
// It reads the path, the query string (percent-encoding and + undone, up
// to two rounds), the headers that carry what a client chose (see
// scannedHeaders) and the body (a JSON body's strings, a form's values,
// any other text as it is; binary types are skipped). Each signature needs
// structure, not a keyword, so that searches, prose and product names are
// not reported; signatures.md lists them. A finding names the attack
// class, the location and the rule, never the payload.
//
// Every scan is linear in the input, and bounded: maxFieldBytes per value,
// maxQueryBytes of the query string, maxBodyScan of the body.
func Injection(req *Request) []schema.Finding {
	if req == nil {
		return nil
	}
	var sc injScanner
	sc.scan(decodePath(truncate(req.Path, maxFieldBytes)), inPath, "request.path")
	sc.form(truncate(req.RawQuery, maxQueryBytes), inQuery, "request.query")
	for _, h := range scannedHeaders() {
		values := req.Headers[h.name]
		if len(values) == 0 {
			continue
		}
		loc := h.loc
		for _, v := range values {
			v = truncate(v, maxFieldBytes)
			switch h.name {
			case "cookie":
				if shellshock(v) {
					sc.scan(v, inHeader, loc) // the whole header is the function definition
				}
				for c := range strings.SplitSeq(v, ";") {
					_, val, _ := strings.Cut(c, "=")
					sc.scan(decodeForm(val), inHeader, loc)
				}
			case "x-forwarded-for":
				// A list of addresses: a metadata address there is
				// spoofing, not a request the function would make.
				sc.scanExcept(decodeForm(v), inHeader, loc, classSSRF)
			default:
				sc.scan(decodeForm(v), inHeader, loc)
			}
		}
	}
	var ctype string
	if v := req.Headers["content-type"]; len(v) > 0 {
		ctype = v[0]
	}
	sc.body(req.Body, ctype)
	return sc.findings()
}

// Bounds of what Injection reads.
const (
	// maxFieldBytes bounds one value: the path, a parameter, a header
	// value, a string of a JSON body.
	maxFieldBytes = 16 << 10
	// maxQueryBytes bounds the query string.
	maxQueryBytes = 32 << 10
	// maxBodyScan bounds the body (ParseRequest has usually bounded it
	// already).
	maxBodyScan = 64 << 10
)

// scannedHeaders are the request headers whose values a client (or a
// browser on an attacker's page) chooses freely and that applications
// commonly log, store or use: the ones where payloads are found in
// practice. Authorization and other credentials are never read.
func scannedHeaders() [7]scannedHeader {
	return [...]scannedHeader{
		{"cookie", "request.header.cookie"},
		{"referer", "request.header.referer"},
		{"user-agent", "request.header.user-agent"},
		{"x-forwarded-for", "request.header.x-forwarded-for"},
		{"x-forwarded-host", "request.header.x-forwarded-host"},
		{"x-original-url", "request.header.x-original-url"},
		{"x-rewrite-url", "request.header.x-rewrite-url"},
	}
}

// scannedHeader is a header Injection reads: its lower-case name and the
// location its findings give (written out, not joined per request).
type scannedHeader struct{ name, loc string }

// attackClass is one kind of injection; a request gets at most one finding
// per class.
type attackClass uint8

const (
	classSQLi attackClass = iota
	classXSS
	classTraversal
	classCommand
	classSSRF
	numClasses
)

// name is the class as a Reason names it.
func (c attackClass) name() string {
	switch c {
	case classSQLi:
		return "SQL injection"
	case classXSS:
		return "Cross-site scripting"
	case classTraversal:
		return "Path traversal"
	case classCommand:
		return "Command injection"
	default:
		return "SSRF towards instance metadata"
	}
}

// severity: what a successful attack gives. SQL and command injection and
// metadata SSRF give data, code execution or the function's credentials;
// XSS and traversal are serious but narrower (a victim's browser, files
// the function can read).
func (c attackClass) severity() string {
	switch c {
	case classXSS, classTraversal:
		return schema.SeverityMedium
	default:
		return schema.SeverityHigh
	}
}

// place is the kind of field a value comes from: some signatures are
// stricter in bodies (prose, Markdown) than in paths and parameters.
type place uint8

const (
	inPath place = iota
	inQuery
	inHeader
	inBody
)

// injScanner collects the first match of each class over a request's
// values.
type injScanner struct {
	rule  [numClasses]string
	loc   [numClasses]string
	found int
}

func (sc *injScanner) done() bool { return sc.found == int(numClasses) }

func (sc *injScanner) scan(v string, p place, loc string) {
	sc.scanExcept(v, p, loc, numClasses)
}

// scanExcept checks one decoded value for every class not yet found but
// skip.
func (sc *injScanner) scanExcept(v string, p place, loc string, skip attackClass) {
	if v == "" || sc.done() {
		return
	}
	sc.scanFeatures(v, features(v), p, loc, skip)
}

// scanFeatures is scanExcept with the features of v known.
func (sc *injScanner) scanFeatures(v string, f feature, p place, loc string, skip attackClass) {
	if !worthScanning(f, v[0]) {
		return
	}
	if f&fFold != 0 {
		v = fold(v)
	}
	sc.scanFolded(v, f, p, loc, skip)
}

// scanFolded is scanFeatures with v worth scanning and folded already (f
// are the features of v before folding).
func (sc *injScanner) scanFolded(v string, f feature, p place, loc string, skip attackClass) {
	for c := range numClasses {
		if sc.rule[c] != "" || c == skip {
			continue
		}
		var rule string
		switch c {
		case classSQLi:
			rule = sqlInjection(v, f)
		case classXSS:
			rule = crossSiteScripting(v, p, f)
		case classTraversal:
			rule = pathTraversal(v, p, f)
		case classCommand:
			rule = commandInjection(v, p, f)
		case classSSRF:
			rule = metadataSSRF(v, f)
		}
		if rule != "" {
			sc.rule[c], sc.loc[c] = rule, loc
			sc.found++
		}
	}
}

// form scans the names and values of a query string or a form body.
func (sc *injScanner) form(q string, p place, loc string) {
	for q != "" && !sc.done() {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(kv, "=")
		sc.scan(decodeForm(k), p, loc)
		sc.scan(decodeForm(v), p, loc)
	}
}

// body scans a request body according to its content type.
func (sc *injScanner) body(b []byte, ctype string) {
	if len(b) == 0 {
		return
	}
	b = b[:min(len(b), maxBodyScan)]
	media, _, _ := strings.Cut(strings.ToLower(ctype), ";")
	media = strings.TrimSpace(media)
	const loc = "request.body"
	switch {
	case isBinaryMedia(media):
	case media == "application/x-www-form-urlencoded":
		sc.form(string(b), inBody, loc)
	case strings.HasSuffix(media, "json") || media == "" && looksJSON(b):
		sc.jsonBody(b)
	default:
		sc.scan(string(b), inBody, loc)
	}
}

// jsonBody scans the strings of a JSON body, names and values, each
// decoded as the application will read it.
//
// The strings that need no decoding, most of them, are read in place: as
// slices of one copy of the body, or of one lower-cased copy, made when a
// string first needs folding. A body costs two copies at most, whatever
// the number of its strings.
func (sc *injScanner) jsonBody(b []byte) {
	const loc = "request.body"
	text := string(b)
	lower := "" // text with ASCII lower-cased, once a string needs it
	jsonStrings(b, func(start, end int, escaped bool) bool {
		end = min(end, start+maxFieldBytes)
		if start == end {
			return true
		}
		if escaped {
			sc.scan(decodePercent(string(jsontext.Unescape(nil, b[start:end])), false), inBody, loc)
			return !sc.done()
		}
		raw := text[start:end]
		f := features(raw)
		switch {
		case !worthScanning(f, raw[0]):
			return true
		case f&fPercent != 0:
			sc.scan(decodePercent(raw, false), inBody, loc)
			return !sc.done()
		case f&fOverlong != 0:
			raw = fold(raw) // changes the length: not a slice of lower
		case f&fFold != 0:
			if lower == "" {
				lower = lowerASCII(text)
			}
			raw = lower[start:end] // = fold(raw) without overlong forms
		}
		sc.scanFolded(raw, f, inBody, loc, numClasses)
		return !sc.done()
	})
}

func (sc *injScanner) findings() []schema.Finding {
	if sc.found == 0 {
		return nil
	}
	out := make([]schema.Finding, 0, sc.found)
	for c := range numClasses {
		if sc.rule[c] == "" {
			continue
		}
		out = append(out, schema.Finding{
			Type:     schema.FindingInjectionAttempt,
			Severity: c.severity(),
			Reason:   c.name() + " (" + sc.rule[c] + ") in " + placeName(sc.loc[c]) + ".",
			Evidence: schema.Evidence{Location: sc.loc[c], Rule: sc.rule[c]},
		})
	}
	return out
}

// placeName words a location for a Reason.
func placeName(loc string) string {
	switch {
	case loc == "request.path":
		return "the request path"
	case loc == "request.query":
		return "the query string"
	case loc == "request.body":
		return "the request body"
	case strings.HasPrefix(loc, "request.header."):
		return "the " + strings.TrimPrefix(loc, "request.header.") + " header"
	}
	return loc
}

func isBinaryMedia(m string) bool {
	for _, p := range []string{"image/", "audio/", "video/", "font/", "application/octet-stream", "application/pdf", "application/zip", "application/gzip", "application/x-protobuf", "application/protobuf", "application/grpc"} {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	return false
}

func looksJSON(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[':
			return true
		}
		return false
	}
	return false
}

// ---- decoding ----

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// decodeForm undoes the encoding of a query or form value: + as a space
// and percent-encoding, twice (double encoding, %252e or %2B for a space,
// is a classic way past a filter that decodes once; and the parameters of
// REST API and ALB events, which ParseRequest encodes again, arrive with
// their + as %2B).
func decodeForm(s string) string {
	return decodePercent(decodePercent(s, true), true)
}

// decodePath is decodeForm without + (a path's + is a plus).
func decodePath(s string) string {
	return decodePercent(decodePercent(s, false), false)
}

// decodePercent decodes %XX and the non-standard %uXXXX; malformed escapes
// are kept as they are. With plus, + decodes to a space.
func decodePercent(s string, plus bool) string {
	if strings.IndexByte(s, '%') < 0 && (!plus || strings.IndexByte(s, '+') < 0) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s)) // decoding never lengthens: %uXXXX is 6 bytes, its rune 3 at most
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+' && plus:
			b.WriteByte(' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		case c == '%' && i+5 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') &&
			isHex(s[i+2]) && isHex(s[i+3]) && isHex(s[i+4]) && isHex(s[i+5]):
			r := rune(unhex(s[i+2]))<<12 | rune(unhex(s[i+3]))<<8 | rune(unhex(s[i+4]))<<4 | rune(unhex(s[i+5]))
			b.WriteRune(r)
			i += 5
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// feature is a set of characters a value holds: every signature needs
// some, so that most values are passed over after one look at each byte.
type feature uint32

const (
	fQuote      feature = 1 << iota // ' or "
	fBacktick                       // `
	fLT                             // <
	fDot                            // .
	fDotDot                         // ..
	fSemi                           // ;
	fPipeAmp                        // | or &
	fDollar                         // $
	fNewline                        // \n
	fDigit                          // 0-9
	fSlash                          // / or \
	fColon                          // :
	fParen                          // ( or )
	fEq                             // =
	fAt                             // @
	fStar                           // *
	fHash                           // #
	fDash                           // -
	fBrace                          // {
	fBracket                        // [
	fUnderscore                     // _
	fGT                             // >
	fSpace                          // a space
	fCtrl                           // another white space or NUL, or two spaces in a row
	fFold                           // an upper-case letter or an overlong form: fold it
	fUnion                          // the word union, in any case
	fPercent                        // %
	fOverlong                       // a byte that may start an overlong form (see fold)
)

// fTriggers: a value with none of these and no "union" cannot match
// anything but a bare metadata host (a number, or a name with dots).
const fTriggers = fQuote | fBacktick | fLT | fGT | fDotDot | fSemi | fPipeAmp | fDollar | fNewline |
	fSlash | fColon | fParen | fEq | fAt | fStar | fHash | fBrace | fCtrl | fUnderscore

// worthScanning reports whether a value of features f that starts with
// first can match a signature at all.
func worthScanning(f feature, first byte) bool {
	return f&(fTriggers|fUnion) != 0 || isDigit(first) || first|0x20 == 'm' && f&fDot != 0
}

// byteFeatures is the feature each byte has by itself: one lookup a byte
// instead of a comparison per feature. Lower-case letters and the bytes
// no signature looks at (, ! + ? ] } ~ ^ and most of those over 0x7f) have
// none. features adds what takes more than one byte: two dots (fDotDot),
// two spaces (fCtrl) and the word union. Never written.
var byteFeatures = [256]feature{
	'\'': fQuote, '"': fQuote, '`': fBacktick, '<': fLT, '>': fGT,
	'.': fDot, ';': fSemi, '|': fPipeAmp, '&': fPipeAmp, '$': fDollar,
	'/': fSlash, '\\': fSlash, ':': fColon, '(': fParen, ')': fParen,
	'=': fEq, '@': fAt, '*': fStar, '#': fHash, '-': fDash,
	'{': fBrace, '[': fBracket, '_': fUnderscore, '%': fPercent,
	' ': fSpace, '\n': fNewline,
	'\t': fCtrl, '\r': fCtrl, '\f': fCtrl, '\v': fCtrl, 0: fCtrl,
	'0': fDigit, '1': fDigit, '2': fDigit, '3': fDigit, '4': fDigit,
	'5': fDigit, '6': fDigit, '7': fDigit, '8': fDigit, '9': fDigit,
	'A': fFold, 'B': fFold, 'C': fFold, 'D': fFold, 'E': fFold, 'F': fFold, 'G': fFold,
	'H': fFold, 'I': fFold, 'J': fFold, 'K': fFold, 'L': fFold, 'M': fFold, 'N': fFold,
	'O': fFold, 'P': fFold, 'Q': fFold, 'R': fFold, 'S': fFold, 'T': fFold, 'U': fFold,
	'V': fFold, 'W': fFold, 'X': fFold, 'Y': fFold, 'Z': fFold,
	// The first bytes of the overlong forms fold turns into '.', '/' and
	// '\\': counted as what they may become.
	0xc0: fOverlong | fFold | fDot | fDotDot | fSlash,
	0xc1: fOverlong | fFold | fDot | fDotDot | fSlash,
	0xe0: fOverlong | fFold | fDot | fDotDot | fSlash,
}

// features returns the features of s.
func features[T string | []byte](s T) feature {
	var f feature
	var prev byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		f |= byteFeatures[c]
		if c|0x20 == 'n' && unionEndsAt(s, i) {
			f |= fUnion
		}
		if c == prev {
			switch c {
			case '.':
				f |= fDotDot
			case ' ':
				f |= fCtrl
			}
		}
		prev = c
	}
	return f
}

// unionEndsAt reports whether the word union, in any case, ends at s[i].
func unionEndsAt[T string | []byte](s T, i int) bool {
	return i >= 4 && s[i-4]|0x20 == 'u' && s[i-3]|0x20 == 'n' && s[i-2]|0x20 == 'i' &&
		s[i-1]|0x20 == 'o' && s[i]|0x20 == 'n'
}

// fold lower-cases ASCII and maps the overlong UTF-8 forms of '.', '/' and
// '\' (%c0%ae, %c0%af, %c1%9c, %e0%80%ae), which some decoders accept, to
// the characters themselves.
func fold(s string) string {
	overlong := false
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0xc0 || c == 0xc1 || c == 0xe0 {
			overlong = true
			break
		}
	}
	if !overlong {
		return lowerASCII(s)
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == 0xc0 && i+1 < len(s) && s[i+1] == 0xae:
			c = '.'
			i++
		case c == 0xc0 && i+1 < len(s) && s[i+1] == 0xaf:
			c = '/'
			i++
		case c == 0xc1 && i+1 < len(s) && s[i+1] == 0x9c:
			c = '\\'
			i++
		case c == 0xe0 && i+2 < len(s) && s[i+1] == 0x80 && s[i+2] == 0xae:
			c = '.'
			i += 2
		}
		b = append(b, c)
	}
	return string(b)
}

// lowerASCII is s with its ASCII letters lower-cased, every other byte
// kept. It lower-cases a chunk at a time on the stack and appends it: one
// allocation, and no call a byte.
func lowerASCII(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	var chunk [512]byte
	for s != "" {
		n := copy(chunk[:], s)
		for i, c := range chunk[:n] {
			if 'A' <= c && c <= 'Z' {
				chunk[i] = c + 'a' - 'A'
			}
		}
		b.Write(chunk[:n])
		s = s[n:]
	}
	return b.String()
}

// jsonStrings calls fn with each string of a JSON text (names and
// values), b[start:end] as it is written between its quotes, and whether
// it holds escapes, until fn returns false. It is lenient: a malformed
// text gives what it can.
func jsonStrings(b []byte, fn func(start, end int, escaped bool) bool) {
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		// The closing quote: the first one not escaped. A backslash
		// escapes the byte after it, so a quote after an odd number of
		// backslashes is in the string. (A byte loop: JSON strings are
		// short, and bytes.IndexByte costs more than it saves on them.)
		start, escaped := i+1, false
		j := start
		for j < len(b) && b[j] != '"' {
			if b[j] == '\\' {
				escaped = true
				j++
			}
			j++
		}
		j = min(j, len(b)) // a text that ends in a backslash
		if !fn(start, j, escaped) {
			return
		}
		i = j
	}
}

// ---- helpers on folded (lower-case) text ----

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isWord: a character that continues an identifier.
func isWord(c byte) bool { return 'a' <= c && c <= 'z' || isDigit(c) || c == '_' }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// wordAt reports whether s holds the word w at i, on word boundaries.
func wordAt(s string, i int, w string) bool {
	return (i == 0 || !isWord(s[i-1])) && strings.HasPrefix(s[i:], w) &&
		(i+len(w) == len(s) || !isWord(s[i+len(w)]))
}

// skipSpaces skips at most max spaces from i.
func skipSpaces(s string, i, max int) int {
	for n := 0; i < len(s) && n < max && isSpace(s[i]); n++ {
		i++
	}
	return i
}

// indexes calls fn with each index of sub in s, until fn returns true.
func indexes(s, sub string, fn func(i int) bool) bool {
	for off := 0; off <= len(s); {
		i := strings.Index(s[off:], sub)
		if i < 0 {
			return false
		}
		if fn(off + i) {
			return true
		}
		off += i + 1
	}
	return false
}

// ---- SQL injection ----

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

// ---- cross-site scripting ----

// crossSiteScripting returns the rule of the first XSS signature s
// matches, or "".
func crossSiteScripting(s string, p place, f feature) string {
	hasLT := f&fLT != 0
	if hasLT && indexes(s, "<script", func(i int) bool { return scriptTag(s[i+7:]) }) {
		return "xss.script_tag"
	}
	if f&fEq != 0 && f&(fLT|fQuote|fBacktick) != 0 && eventHandler(s, hasLT) {
		return "xss.event_handler"
	}
	if f&(fColon|fPipeAmp) != 0 {
		if (strings.Contains(s, "script") || strings.Contains(s, "&#")) && scriptURI(s) {
			return "xss.javascript_uri"
		}
		if indexes(s, "data:text/html", func(i int) bool { return uriStart(s, i) }) {
			return "xss.data_uri"
		}
	}
	if hasLT && p != inBody {
		for _, t := range []string{"<iframe", "<frame", "<object", "<embed", "<applet", "<meta", "<base", "<svg", "<math", "<form", "<isindex", "<link", "<style"} {
			if indexes(s, t, func(i int) bool { return tagWithAttribute(s[i+len(t):]) }) {
				return "xss.dangerous_tag"
			}
		}
	}
	if f&fQuote != 0 && f&(fParen|fBacktick) != 0 && jsBreakout(s) {
		return "xss.js_breakout"
	}
	if f&fBrace != 0 && strings.Contains(s, "{{") && strings.Contains(s, "constructor.constructor(") {
		return "xss.template_expression"
	}
	return ""
}

// scriptTag reports whether r, what follows "<script", makes a script
// element: attributes (<script src=...), or code or a closing tag after
// the ">". "<script> tag explained" is a search about one.
func scriptTag(r string) bool {
	if tagWithAttribute(r) {
		return true
	}
	if r == "" || r[0] != '>' {
		return false
	}
	body := r[1:min(len(r), 512)]
	return strings.Contains(body, "</script") || strings.ContainsAny(body, "(=`")
}

// tagWithAttribute reports whether r, what follows a tag name, opens an
// attribute with a value before the tag ends: "<iframe>" in a search is
// words, "<iframe src=..." is markup.
func tagWithAttribute(r string) bool {
	if r == "" || r[0] != '/' && !isSpace(r[0]) {
		return false
	}
	w := r[:min(len(r), 128)]
	eq := strings.IndexByte(w, '=')
	gt := strings.IndexByte(w, '>')
	return eq > 0 && (gt < 0 || eq < gt)
}

// eventHandler: an on* event attribute with a value, inside a tag
// (<img src=x onerror=...>, <svg/onload=...>) or after a quote that
// closes the attribute an application put the value in
// (" onmouseover="...).
func eventHandler(s string, hasLT bool) bool {
	return indexes(s, "on", func(i int) bool {
		if i == 0 {
			return false
		}
		switch s[i-1] {
		case ' ', '\t', '\n', '\r', '\f', '/', '"', '\'', '`':
		default:
			return false
		}
		j := i + 2
		for j < len(s) && j-i < 32 && 'a' <= s[j] && s[j] <= 'z' {
			j++
		}
		if !isEventHandler(s[i:j]) {
			return false
		}
		k := skipSpaces(s, j, 4)
		if k >= len(s) || s[k] != '=' {
			return false
		}
		// Inside a tag: a "<" and a letter before, no ">" since.
		if hasLT {
			lo := max(0, i-512)
			if lt := strings.LastIndexByte(s[lo:i], '<'); lt >= 0 {
				lt += lo
				if lt+1 < i && 'a' <= s[lt+1] && s[lt+1] <= 'z' && strings.IndexByte(s[lt:i], '>') < 0 {
					return true
				}
			}
		}
		// After a quote that ends an attribute value.
		b := i - 1
		for b >= 0 && (isSpace(s[b]) || s[b] == '/') {
			b--
		}
		return b >= 0 && (s[b] == '"' || s[b] == '\'')
	})
}

// isEventHandler reports whether name is an HTML event handler attribute.
func isEventHandler(name string) bool {
	switch name {
	case "onabort", "onafterprint", "onanimationend", "onanimationiteration", "onanimationstart",
		"onauxclick", "onbeforecopy", "onbeforecut", "onbeforeinput", "onbeforeprint", "onbeforeunload",
		"onbegin", "onblur", "oncanplay", "oncanplaythrough", "onchange", "onclick", "onclose",
		"oncontextmenu", "oncopy", "oncuechange", "oncut", "ondblclick", "ondrag", "ondragend",
		"ondragenter", "ondragleave", "ondragover", "ondragstart", "ondrop", "ondurationchange",
		"onend", "onended", "onerror", "onfocus", "onfocusin", "onfocusout", "onformdata",
		"onfullscreenchange", "onhashchange", "oninput", "oninvalid", "onkeydown", "onkeypress",
		"onkeyup", "onload", "onloadeddata", "onloadedmetadata", "onloadstart", "onmessage",
		"onmousedown", "onmouseenter", "onmouseleave", "onmousemove", "onmouseout", "onmouseover",
		"onmouseup", "onmousewheel", "onpagehide", "onpageshow", "onpaste", "onpause", "onplay",
		"onplaying", "onpointerdown", "onpointerenter", "onpointerleave", "onpointermove",
		"onpointerout", "onpointerover", "onpointerup", "onpopstate", "onprogress", "onratechange",
		"onrepeat", "onreset", "onresize", "onscroll", "onscrollend", "onsearch", "onseeked",
		"onseeking", "onselect", "onselectionchange", "onselectstart", "onshow", "onstart",
		"onstorage", "onsubmit", "onsuspend", "ontimeupdate", "ontoggle", "ontouchend",
		"ontouchmove", "ontouchstart", "ontransitionend", "onunload", "onvolumechange",
		"onwaiting", "onwheel":
		return true
	}
	return false
}

// scriptURI: a javascript: or vbscript: URI that runs code
// (javascript:alert(1), java&#x09;script:..., javascript://%0a...), where
// a URI starts; "JavaScript: The Good Parts" and javascript:void(0) are
// not code.
func scriptURI(s string) bool {
	t := s
	if strings.IndexByte(t, '&') >= 0 {
		t = decodeEntities(t)
	}
	if strings.ContainsAny(t, "\t\n\r\x00") {
		// Browsers drop tabs and newlines anywhere in a URL.
		t = strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' || r == 0 {
				return -1
			}
			return r
		}, t)
	}
	for _, scheme := range []string{"javascript:", "vbscript:", "livescript:"} {
		if indexes(t, scheme, func(i int) bool {
			if !uriStart(t, i) {
				return false
			}
			r := t[i+len(scheme):]
			if r == "" || r[0] == ' ' {
				return false
			}
			if e := strings.IndexAny(r, "\"'<> "); e >= 0 {
				r = r[:e] // the URI ends there
			}
			switch strings.TrimSuffix(r, ";") {
			case "void(0)", "void0", "":
				return false
			}
			return strings.ContainsAny(r[:min(len(r), 256)], "(`=")
		}) {
			return true
		}
	}
	return false
}

// uriStart reports whether a URI may start at i: at the start of the
// value (after spaces and quotes) or after =, a quote, (, > or a space.
func uriStart(s string, i int) bool {
	if i == 0 {
		return true
	}
	switch s[i-1] {
	case '=', '"', '\'', '`', '(', '>', ' ', ',', '[', '{', ':', '/':
		return true
	}
	return false
}

// decodeEntities decodes numeric character references (&#106; &#x6a;
// &#0000106) and the named ones used to hide a scheme (&tab; &newline;
// &colon; &lpar; &rpar;).
func decodeEntities(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '&' {
			b.WriteByte(s[i])
			continue
		}
		r := s[i+1:]
		named := false
		for _, e := range [...]struct {
			name string
			val  byte
		}{{"tab;", '\t'}, {"newline;", '\n'}, {"colon;", ':'}, {"lpar;", '('}, {"rpar;", ')'}} {
			if strings.HasPrefix(r, e.name) {
				b.WriteByte(e.val)
				i += len(e.name)
				named = true
				break
			}
		}
		if named {
			continue
		}
		if !strings.HasPrefix(r, "#") {
			b.WriteByte('&')
			continue
		}
		j, base := 1, rune(10)
		if len(r) > 1 && r[1] == 'x' {
			j, base = 2, 16
		}
		start := j
		var v rune
		for j < len(r) && j-start < 8 && (base == 10 && isDigit(r[j]) || base == 16 && isHex(r[j])) {
			v = v*base + rune(unhex(r[j]))
			j++
		}
		if j == start || v > utf8.MaxRune {
			b.WriteByte('&')
			continue
		}
		if j < len(r) && r[j] == ';' {
			j++
		}
		b.WriteRune(v)
		i += j
	}
	return b.String()
}

// jsBreakout: a quote that closes a JavaScript string and a call of the
// functions proofs of concept call: ';alert(1)//, "-alert(1)-", '+prompt`1`+'.
func jsBreakout(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '\'' && c != '"' {
			continue
		}
		j := i + 1
		n := 0
		for j < len(s) && n < 4 && strings.IndexByte(";)-+}", s[j]) >= 0 {
			j++
			n++
		}
		if n == 0 {
			continue
		}
		j = skipSpaces(s, j, 2)
		for _, f := range []string{"alert", "prompt", "confirm", "eval", "print"} {
			if strings.HasPrefix(s[j:], f) {
				k := j + len(f)
				if k < len(s) && (s[k] == '(' || s[k] == '`') {
					return true
				}
			}
		}
	}
	return false
}

// ---- path traversal ----

// pathTraversal returns the rule of the first path traversal signature s
// matches, or "". In the path one dot-dot segment is enough (browsers
// resolve them before sending); in parameters and headers two in a row, or
// one that reaches a well-known file; in a body three (relative links in
// Markdown are common) or one that reaches a well-known file. A value that
// is nothing but the path of a well-known file (/etc/passwd, C:\boot.ini)
// or a PHP stream wrapper URL matches anywhere.
func pathTraversal(s string, p place, f feature) string {
	if f&(fSlash|fColon) == 0 {
		return ""
	}
	if f&fDotDot != 0 {
		need := 2
		switch p {
		case inPath:
			need = 1
		case inBody:
			need = 3
		}
		if run, target := dotDotRun(s); run >= need || run >= 1 && target {
			return "traversal.dot_dot"
		}
	}
	t := strings.TrimSpace(s)
	spaced := hasSpace(t)
	if p == inPath && sensitiveTarget(t) || !spaced && pathLike(t) && sensitiveTarget(t) {
		return "traversal.sensitive_file"
	}
	if f&fColon == 0 || spaced {
		return ""
	}
	for _, w := range []string{"php://", "phar://", "expect://", "zip://", "glob://", "file:/"} {
		if strings.HasPrefix(t, w) {
			return "traversal.file_scheme"
		}
	}
	return ""
}

// hasSpace reports whether s holds ASCII white space.
func hasSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if isSpace(s[i]) {
			return true
		}
	}
	return false
}

func isSep(c byte) bool { return c == '/' || c == '\\' }

// dotDotRun returns the longest run of consecutive dot-dot segments in s
// ("../", "..\", "..;/", "....//" counted as one step each), and whether
// a run leads to a well-known file (../../etc/passwd, not "the ../ in
// paths; see /etc/hosts").
func dotDotRun(s string) (best int, target bool) {
	run, end, checks := 0, 0, 0
	// runEnds evaluates the path a run led to, up to white space or a
	// quote (a bounded number of times).
	runEnds := func() {
		if run == 0 {
			return
		}
		// A run counts when it leads somewhere: "../../ relative path"
		// is a search.
		if end == len(s) || !isSpace(s[end]) {
			best = max(best, run)
		}
		if target || checks == 64 {
			return
		}
		checks++
		e := end
		for e < len(s) && e-end < 256 && !isSpace(s[e]) && s[e] != '"' && s[e] != '\'' && s[e] != '<' && s[e] != '>' {
			e++
		}
		target = sensitiveTarget(s[end:e])
	}
	segStart := true
	for i := 0; i < len(s); {
		if segStart {
			j := i
			for j < len(s) && s[j] == '.' {
				j++
			}
			sep := j == len(s) || isSep(s[j]) || s[j] == ';' && j+1 < len(s) && isSep(s[j+1])
			if j-i >= 2 && sep || j-i == 1 && run > 0 && j < len(s) && isSep(s[j]) {
				if j-i >= 2 {
					run++ // ./ between steps changes nothing: ../././../
				}
				for j < len(s) && (isSep(s[j]) || s[j] == ';') {
					j++
				}
				i, end = j, j
				continue
			}
			runEnds()
			run = 0
			if j > i {
				i = j
				segStart = false
				continue
			}
		}
		c := s[i]
		segStart = isSep(c) || c == '=' || c == '"' || c == '\'' || c == ':' || isSpace(c)
		if !isSep(c) {
			runEnds()
			run = 0
		}
		i++
	}
	runEnds()
	return best, target
}

// pathLike: a value that is a file path or URL rather than words.
func pathLike(t string) bool {
	if t == "" {
		return false
	}
	if t[0] == '/' || t[0] == '\\' || t[0] == '~' || strings.HasPrefix(t, "file:") {
		return true
	}
	return len(t) > 2 && 'a' <= t[0] && t[0] <= 'z' && t[1] == ':' && isSep(t[2])
}

// sensitiveTarget reports whether s names a file traversal attacks read
// to prove they work.
func sensitiveTarget(s string) bool {
	if strings.IndexByte(s, '\\') >= 0 {
		s = strings.ReplaceAll(s, "\\", "/")
	}
	if !strings.Contains(s, "etc/") && !strings.Contains(s, "/.") && !strings.Contains(s, ".ini") &&
		!strings.Contains(s, "system32") && !strings.Contains(s, "proc/") && !strings.Contains(s, "web-inf") && !strings.HasPrefix(s, ".") {
		return false
	}
	for _, t := range []string{"etc/passwd", "etc/shadow", "etc/group", "etc/hosts", "etc/issue", "proc/self/", "win.ini", "boot.ini", "windows/system32", "winnt/system32", "web-inf/web.xml", ".ssh/id_rsa", ".aws/credentials", ".bash_history", ".htpasswd"} {
		if indexes(s, t, func(i int) bool { return i == 0 || isSep(s[i-1]) || s[i-1] == '.' || s[i-1] == '=' || s[i-1] == ':' }) {
			return true
		}
	}
	return false
}

// ---- command injection ----

// commandInjection returns the rule of the first command injection
// signature s matches, or "". A shell metacharacter (; | || && & ` $( and,
// outside bodies, a newline) must be followed by a known command and
// something that makes it a command line: an option, a path, a number for
// the commands that take one, another metacharacter, or the end of the
// value right after the metacharacter (;id). "salt & pepper; id card" is
// words.
func commandInjection(s string, p place, f feature) string {
	if f&(fSemi|fPipeAmp|fBacktick|fDollar|fNewline|fParen) == 0 {
		return ""
	}
	if p != inBody && f&fParen != 0 && shellshock(s) {
		return "cmd.shellshock"
	}
	if f&(fSemi|fPipeAmp|fBacktick|fDollar|fNewline) == 0 {
		return ""
	}
	// gap is the first space after a word: a separator preceded by words
	// ("cd /app && ls -la", in a ticket) is prose about a shell, not a
	// value an injection ends (8.8.8.8; id).
	gap := len(s)
	if f&(fSpace|fCtrl|fNewline) != 0 {
		for i := 1; i < len(s); i++ {
			if isSpace(s[i]) && !isSpace(s[i-1]) {
				gap = i
				break
			}
		}
	}
	for i := 0; i < len(s); i++ {
		var adv int
		wrapped := false
		switch s[i] {
		case ';':
			adv = 1
		case '|', '&':
			adv = 1
			if i+1 < len(s) && s[i+1] == s[i] {
				adv = 2
			}
		case '`':
			if p == inBody {
				continue // Markdown code spans
			}
			adv, wrapped = 1, true
		case '$':
			if i+1 >= len(s) || s[i+1] != '(' {
				continue
			}
			adv, wrapped = 2, true
		case '\n':
			if p == inBody {
				continue
			}
			adv = 1
		default:
			continue
		}
		if (wrapped || !wordsBefore(s, i, gap)) && commandAt(s, i, adv, wrapped) {
			return "cmd.shell_metachar_command"
		}
		i += adv - 1
	}
	return ""
}

// wordsBefore reports whether s holds words separated by spaces before i
// (spaces just before i do not count).
func wordsBefore(s string, i, gap int) bool {
	k := i - 1
	for k >= 0 && isSpace(s[k]) {
		k--
	}
	return gap < k
}

// commandAt checks for a command line after the metacharacter at i (adv
// bytes long).
func commandAt(s string, i, adv int, wrapped bool) bool {
	j := i + adv
	k := skipShellSpace(s, j)
	spaced := k > j
	braced := false
	if k < len(s) && s[k] == '{' {
		braced = true
		k++
	}
	for _, dir := range []string{"/usr/local/bin/", "/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/"} {
		if strings.HasPrefix(s[k:], dir) {
			k += len(dir)
			break
		}
	}
	// The command word, with the quotes and backslashes that hide it
	// from filters dropped (w'h'o'am'i, c\at).
	var word [16]byte
	n, e := 0, k
	for e < len(s) && e-k < 24 {
		c := s[e]
		if c == '\'' || c == '"' || c == '\\' {
			e++
			continue
		}
		if !isWord(c) || n == len(word) {
			break
		}
		word[n] = c
		n++
		e++
	}
	if n == 0 || !isCommand(string(word[:n])) {
		return false
	}
	cmd := string(word[:n])
	if e == len(s) {
		// ";id", "$(id)", "&& id", "| id" alone, "| whoami": not
		// "Wallet; ID".
		return !spaced || wrapped || adv == 2 || s[i] == '\n' || distinctiveCommand(cmd) ||
			strings.TrimLeft(s[:i], " \t") == ""
	}
	switch c := s[e]; c {
	case ';', '&', '`', ')', '<', '>', '\n':
		return true
	case '|':
		return s[i] != '|' || spaced // |id| is a table cell
	case ',':
		return braced
	}
	a := skipShellSpace(s, e)
	if a == e || a == len(s) {
		return false
	}
	return commandArg(s[a:], cmd)
}

// skipShellSpace skips spaces, tabs and $IFS in its spellings.
func skipShellSpace(s string, i int) int {
	for n := 0; i < len(s) && n < 8; n++ {
		switch {
		case s[i] == ' ' || s[i] == '\t':
			i++
		case strings.HasPrefix(s[i:], "${ifs}"):
			i += 6
		case strings.HasPrefix(s[i:], "$ifs$9"):
			i += 6
		case strings.HasPrefix(s[i:], "$ifs"):
			i += 4
		default:
			return i
		}
	}
	return i
}

// commandArg reports whether a looks like the first argument of cmd: an
// option, a path, a redirection, a variable, a URL, a quoted string; a
// number or a host name for the commands that take one.
func commandArg(a, cmd string) bool {
	switch c := a[0]; {
	case c == '-':
		return len(a) > 1 && (isWord(a[1]) || a[1] == '-')
	case c == '/' || c == '\\' || c == '~' || c == '$' || c == '.' || c == '>' || c == '<' || c == '|' || c == '\'' || c == '"' || c == '#' || c == '&' || c == ';':
		return true
	case strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://") || strings.HasPrefix(a, "ftp://"):
		return true
	case len(a) > 2 && 'a' <= c && c <= 'z' && a[1] == ':' && isSep(a[2]):
		return true // c:\windows
	}
	if cmd == "net" {
		for _, sub := range []string{"user", "localgroup", "group", "view", "share", "use"} {
			if wordAt(a, 0, sub) {
				return true
			}
		}
	}
	if distinctiveCommand(cmd) {
		return true // whoami anything
	}
	switch cmd {
	case "sleep", "ping", "ping6", "nc", "ncat", "netcat", "telnet", "timeout", "nslookup", "dig", "host", "curl", "wget", "ftp", "tftp", "ssh":
		t := a
		if sp := strings.IndexAny(t, " \t;|&)`'\""); sp >= 0 {
			t = t[:sp]
		}
		if isNumber(t) {
			return cmd == "sleep" || cmd == "timeout" || strings.Count(t, ".") == 3 || len(t) <= 5 && cmd != "ping"
		}
		// A host name: letters, digits, dots and dashes with a dot.
		return strings.IndexByte(t, '.') > 0 && strings.Trim(t, "abcdefghijklmnopqrstuvwxyz0123456789.-") == ""
	}
	return false
}

// isCommand reports whether w is a command injection payloads run.
func isCommand(w string) bool {
	switch w {
	case "cat", "tac", "head", "tail", "more", "less", "ls", "dir", "id", "whoami", "uname", "hostname",
		"pwd", "ps", "env", "printenv", "echo", "sleep", "ping", "ping6", "nslookup", "dig", "host",
		"curl", "wget", "nc", "ncat", "netcat", "telnet", "bash", "sh", "zsh", "ksh", "dash", "csh",
		"python", "python2", "python3", "perl", "ruby", "php", "node", "lua", "powershell", "pwsh",
		"cmd", "net", "ipconfig", "ifconfig", "systeminfo", "tasklist", "type", "certutil",
		"bitsadmin", "chmod", "chown", "rm", "touch", "base64", "xxd", "busybox", "timeout", "nohup",
		"sudo", "kill", "crontab", "awk", "xterm", "ftp", "tftp", "nmap", "ssh", "uptime", "find", "printf":
		return true
	}
	return false
}

// distinctiveCommand reports whether cmd is a command name that is no
// word of prose.
func distinctiveCommand(cmd string) bool {
	switch cmd {
	case "whoami", "uname", "ifconfig", "ipconfig", "systeminfo", "tasklist", "printenv", "busybox",
		"certutil", "bitsadmin", "powershell", "pwsh", "netcat", "ncat", "nslookup", "wget", "xterm",
		"crontab", "nohup", "chmod", "python3", "python2":
		return true
	}
	return false
}

// shellshock: a value that starts with the function definition of
// CVE-2014-6271 ("() { :; };"), as bash imported it from the environment.
func shellshock(s string) bool {
	r := strings.TrimLeft(s, " \t")
	if !strings.HasPrefix(r, "()") {
		return false
	}
	r = r[skipSpaces(r, 2, 4):]
	return strings.HasPrefix(r, "{") && strings.Contains(r[:min(len(r), 64)], "};")
}

// ---- SSRF towards instance metadata ----

// metadataSSRF returns the rule of the first SSRF signature s matches, or
// "": the address of an instance metadata service, in any of the
// spellings an address parser accepts, where a URL's host is (or
// anywhere, dotted), or the paths only those services serve.
func metadataSSRF(s string, f feature) string {
	if f&(fDot|fColon|fSlash) == 0 && (s == "" || !isDigit(s[0])) {
		return ""
	}
	// The addresses and names as they are, where a host is: the whole
	// value, or after a scheme, an @, a quote or =, and before a path,
	// port, query or the end. "What is 169.254.169.254" is a question.
	hasIP := f&fDigit != 0 && f&fDot != 0 && (strings.Contains(s, "169.254.1") || strings.Contains(s, "100.100.100.200"))
	hasName := f&fDot != 0 && strings.Contains(s, "metadata.goog")
	hasV6 := f&fColon != 0 && strings.Contains(s, "fd00:ec2::254")
	for _, lit := range []string{"169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254", "metadata.google.internal", "metadata.goog"} {
		if lit[0] == '1' && !hasIP || lit[0] == 'm' && !hasName || lit[0] == 'f' && !hasV6 {
			continue
		}
		if indexes(s, lit, func(i int) bool {
			e := i + len(lit)
			return (i == 0 || strings.IndexByte("/@=\"'[", s[i-1]) >= 0) &&
				(e == len(s) || strings.IndexByte("/:?#\"']", s[e]) >= 0)
		}) {
			return "ssrf.metadata"
		}
	}
	if f&fSlash != 0 && indexes(s, "//", func(i int) bool { return metadataHost(hostAt(s, i+2)) }) {
		return "ssrf.metadata"
	}
	// A host without a scheme (target=0xa9fea9fe/latest): any spelling
	// but a bare decimal number, which is as likely an identifier.
	if len(s) >= 8 && (isDigit(s[0]) || s[0] == '[') && f&fSpace == 0 {
		if h := hostAt(s, 0); !allDigits(h) && metadataHost(h) {
			return "ssrf.metadata"
		}
	}
	if f&fSlash == 0 || !strings.Contains(s, "metadata") && !strings.Contains(s, "/latest/") && !strings.Contains(s, "/opc/v") {
		return ""
	}
	for _, path := range []string{"/latest/meta-data", "/latest/user-data", "/latest/api/token", "/latest/dynamic/instance-identity", "/computemetadata/v1", "/metadata/identity/oauth2/token", "/metadata/instance?api-version", "/opc/v1/instance", "/opc/v2/instance"} {
		if strings.Contains(s, path) {
			return "ssrf.metadata_path"
		}
	}
	return ""
}

// hostAt returns the host of the URL authority starting at i: up to the
// path, query or fragment, without user information and port.
func hostAt(s string, i int) string {
	a := s[i:min(len(s), i+256)]
	for e := 0; e < len(a); e++ {
		if hostEnds(a[e]) {
			a = a[:e]
			break
		}
	}
	if at := strings.LastIndexByte(a, '@'); at >= 0 {
		a = a[at+1:]
	}
	if strings.HasPrefix(a, "[") {
		if e := strings.IndexByte(a, ']'); e > 0 {
			return a[1:e]
		}
		return a[1:]
	}
	if c := strings.LastIndexByte(a, ':'); c >= 0 && strings.Count(a, ":") == 1 {
		a = a[:c]
	}
	return a
}

// hostEnds reports whether c ends the authority of a URL (or the value
// around it): / ? # \\ a space, tab or newline, a quote, < or >.
func hostEnds(c byte) bool {
	// The ones under 64, as bits of a mask: a shift, not a comparison
	// each (this runs on every byte of every host).
	const below64 uint64 = 1<<'/' | 1<<'?' | 1<<'#' | 1<<' ' | 1<<'\t' | 1<<'\n' | 1<<'"' | 1<<'\'' | 1<<'<' | 1<<'>'
	return c < 64 && below64>>c&1 != 0 || c == '\\'
}

// metadataHost reports whether host names an instance metadata service:
// one of its names, or its address as decimal, hex, octal or mixed parts
// (2852039166, 0xa9fea9fe, 0251.0376.0251.0376, 169.254.43518), as an
// IPv4-mapped IPv6 address, or as a wildcard-DNS name built from it
// (169.254.169.254.nip.io).
func metadataHost(h string) bool {
	if h == "" {
		return false
	}
	// Ideographic and full-width full stops (multi-byte: an ASCII host has
	// none).
	if !isASCII(h) && strings.ContainsAny(h, "\u3002\uff0e\uff61") {
		h = strings.NewReplacer("\u3002", ".", "\uff0e", ".", "\uff61", ".").Replace(h)
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" {
		return false
	}
	if c := h[0]; !isDigit(c) && c != ':' && c != 'm' && c != 'i' && !strings.Contains(h, "169") && !strings.Contains(h, "a9fe") {
		return false // a host name that is none of the ones below
	}
	switch h {
	case "metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal", "metadata.azure.com":
		return true
	}
	for _, p := range []string{".169.254.169.254.", ".169-254-169-254.", ".a9fea9fe."} {
		// Wildcard DNS names that resolve to the address they spell: the
		// name, or a label, starts with it (so a name without a dot is
		// none).
		if strings.IndexByte(h, '.') < 0 {
			break
		}
		if strings.HasPrefix(h, p[1:]) || strings.Contains(h, p) {
			return true
		}
	}
	if v, ok := parseIPv4Loose(h); ok {
		return metadataIPv4(v)
	}
	if strings.IndexByte(h, ':') >= 0 {
		if z := strings.IndexByte(h, '%'); z >= 0 {
			h = h[:z]
		}
		a, err := netip.ParseAddr(h)
		if err != nil {
			return false
		}
		if a == netip.MustParseAddr("fd00:ec2::254") {
			return true
		}
		if a = a.Unmap(); a.Is4() {
			b := a.As4()
			return metadataIPv4(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
		}
		// IPv4-compatible (deprecated, still parsed): ::169.254.169.254.
		if b := a.As16(); [12]byte(b[:12]) == [12]byte{} {
			return metadataIPv4(uint32(b[12])<<24 | uint32(b[13])<<16 | uint32(b[14])<<8 | uint32(b[15]))
		}
	}
	return false
}

// allDigits reports whether s is nothing but decimal digits ("" is).
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func metadataIPv4(v uint32) bool {
	switch v {
	case 0xa9fea9fe, // 169.254.169.254: AWS, Azure, GCP, OCI, DigitalOcean
		0xa9feaa02, // 169.254.170.2: ECS task metadata and credentials
		0x646464c8: // 100.100.100.200: Alibaba Cloud
		return true
	}
	return false
}

// parseIPv4Loose parses an IPv4 address the way inet_aton does: one to
// four parts, each decimal, octal (leading 0) or hex (0x), the last part
// filling the remaining bytes.
func parseIPv4Loose(h string) (uint32, bool) {
	var parts [4]uint64
	n := 0
	for p := range strings.SplitSeq(h, ".") {
		if n == 4 || p == "" {
			return 0, false
		}
		v, ok := parseIPv4Part(p)
		if !ok {
			return 0, false
		}
		parts[n] = v
		n++
	}
	var v uint64
	for i := range n - 1 {
		if parts[i] > 0xff {
			return 0, false
		}
		v |= parts[i] << (8 * (3 - i))
	}
	last := parts[n-1]
	if last >= 1<<(8*(5-n)) {
		return 0, false
	}
	return uint32(v | last), true
}

func parseIPv4Part(p string) (uint64, bool) {
	base, digits := uint64(10), p
	switch {
	case strings.HasPrefix(p, "0x"):
		base, digits = 16, p[2:]
	case len(p) > 1 && p[0] == '0':
		base, digits = 8, p[1:]
	}
	if digits == "" || len(digits) > 12 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		var d uint64
		switch {
		case isDigit(c):
			d = uint64(c - '0')
		case base == 16 && isHex(c):
			d = uint64(unhex(c))
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		v = v*base + d
	}
	return v, true
}
