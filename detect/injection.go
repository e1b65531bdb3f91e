package detect

import (
	"strings"

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
