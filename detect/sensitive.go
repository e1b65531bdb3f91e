package detect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/audittrail/audittrail/internal/jsontext"
	"github.com/audittrail/audittrail/schema"
)

// SensitiveOptions selects what counts as sensitive data in a response.
// The zero value of a field means its default.
type SensitiveOptions struct {
	// MaxBytes: only the first MaxBytes of the body are read; default
	// 64 KiB.
	MaxBytes int
	// BulkThreshold: e-mail addresses, US social security numbers and
	// IBANs count only when a body holds at least this many different
	// ones (one contact address is not an exposure, a customer list is);
	// default 10.
	BulkThreshold int
	// Kinds are the enabled kinds (SensitiveKinds); nil means all.
	Kinds []string
}

// Kinds of sensitive data (Evidence.Kinds of sensitive_data_exposure).
const (
	KindCardNumber   = "card_number"
	KindAWSKeyID     = "aws_access_key_id"
	KindAWSSecretKey = "aws_secret_access_key"
	KindPrivateKey   = "private_key"
	KindJWT          = "jwt"
	KindEmail        = "email"
	KindUSSSN        = "us_ssn"
	KindIBAN         = "iban"
)

// SensitiveKinds returns every kind Sensitive knows, sorted.
func SensitiveKinds() []string {
	return []string{KindAWSKeyID, KindAWSSecretKey, KindCardNumber, KindEmail, KindIBAN, KindJWT, KindPrivateKey, KindUSSSN}
}

// bulkKind reports whether a kind counts only in bulk (personal data,
// not credentials).
func bulkKind(k string) bool { return k == KindEmail || k == KindUSSSN || k == KindIBAN }

// Sensitive looks for sensitive data in a response body: payment card
// numbers (Luhn-checked, with a card network's prefix and length), AWS
// access key ids and (labelled) secret keys, private keys, JWTs, and, in
// bulk, e-mail addresses, US social security numbers and IBANs. It
// returns one sensitive_data_exposure finding listing the kinds found and
// how many different values of each, sorted by kind, or nil. JSON escapes
// (\u002d, \n, \/) are undone first. The finding never holds a value.
// Severity is high when a card number or a credential is exposed, medium
// for bulk personal data alone.
func Sensitive(body []byte, opt SensitiveOptions) []schema.Finding {
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = 64 << 10
	}
	if opt.BulkThreshold <= 0 {
		opt.BulkThreshold = 10
	}
	body = body[:min(len(body), opt.MaxBytes)]
	if len(body) == 0 {
		return nil
	}
	if bytes.IndexByte(body, '\\') >= 0 {
		body = jsontext.Unescape(make([]byte, 0, len(body)), body)
	}
	on := func(k string) bool { return opt.Kinds == nil || slices.Contains(opt.Kinds, k) }
	found := map[string]map[string]struct{}{}
	add := func(kind string, v []byte) {
		if !on(kind) {
			return
		}
		m := found[kind]
		if m == nil {
			m = map[string]struct{}{}
			found[kind] = m
		}
		if len(m) < maxDistinct {
			m[string(v)] = struct{}{}
		}
	}
	if on(KindCardNumber) || on(KindUSSSN) || on(KindIBAN) {
		scanNumbers(body, add)
	}
	if on(KindAWSKeyID) {
		scanAWSKeyIDs(body, add)
	}
	if on(KindAWSSecretKey) {
		scanAWSSecrets(body, add)
	}
	if on(KindPrivateKey) {
		scanPrivateKeys(body, add)
	}
	if on(KindJWT) {
		scanJWTs(body, add)
	}
	if on(KindEmail) {
		scanEmails(body, add)
	}
	var ev schema.Evidence
	severity := schema.SeverityMedium
	for _, k := range SensitiveKinds() {
		n := len(found[k])
		if n == 0 || bulkKind(k) && n < opt.BulkThreshold {
			continue
		}
		ev.Kinds = append(ev.Kinds, k)
		ev.Counts = append(ev.Counts, n)
		if !bulkKind(k) {
			severity = schema.SeverityHigh
		}
	}
	if len(ev.Kinds) == 0 {
		return nil
	}
	ev.Location = "response.body"
	var reason strings.Builder
	reason.WriteString("Sensitive data in the response body:")
	for i, k := range ev.Kinds {
		if i > 0 {
			reason.WriteByte(',')
		}
		reason.WriteString(" " + strconv.Itoa(ev.Counts[i]) + " " + k)
	}
	reason.WriteByte('.')
	return []schema.Finding{{
		Type:     schema.FindingSensitiveDataExposure,
		Severity: severity,
		Reason:   reason.String(),
		Evidence: ev,
	}}
}

// maxDistinct bounds the values remembered per kind (the counts saturate
// there).
const maxDistinct = 10000

// minIDRuns: from this many long digit runs on, a body may be a list of
// identifiers (see scanNumbers).
const minIDRuns = 5

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

// ---- card numbers, SSNs and IBANs ----

// scanNumbers walks the digit runs of b once: card numbers and SSNs are
// digit runs standing alone, IBANs start with two letters and two digits.
//
// A body full of long numeric identifiers has some that pass for card
// numbers (of random 16-digit numbers, about 3 in 100 have a network's
// prefix and a valid check digit), a list of cards has nothing else: when
// at least minIDRuns undivided runs of 13 to 19 digits stand alone and
// fewer than half of them are card numbers, they are identifiers and none
// counts (grouped ones, 4111 1111 ..., still do).
func scanNumbers(b []byte, add func(string, []byte)) {
	var plain [][]byte  // undivided card numbers, decided at the end
	runs := 0           // undivided standalone runs of 13 to 19 digits
	var digits [19]byte // the digits of a card number, for cardNumber
	defer func() {
		if runs >= minIDRuns && 2*len(plain) < runs {
			return
		}
		for _, v := range plain {
			add(KindCardNumber, v)
		}
	}()
	for i := 0; i < len(b); {
		if !isDigit(b[i]) {
			i++
			continue
		}
		if i >= 2 && isUpper(b[i-2]) && isUpper(b[i-1]) && (i < 3 || !isAlnum(b[i-3])) {
			if v, ok := iban(b, i-2); ok {
				add(KindIBAN, v)
			}
		}
		// The run: digits, spaces and dashes between digits.
		j := i
		for j < len(b) && (isDigit(b[j]) || (b[j] == ' ' || b[j] == '-') && j+1 < len(b) && isDigit(b[j+1]) && isDigit(b[j-1])) {
			j++
		}
		if alone(b, i, j) {
			run := b[i:j]
			// A run holds digits, spaces and dashes: undivided, it is all
			// digits, and its own digits as a card number.
			undivided := len(run) >= 13 && len(run) <= 19 && bytes.IndexByte(run, ' ') < 0 && bytes.IndexByte(run, '-') < 0
			if undivided {
				runs++
			}
			if n, ok := cardNumber(run, &digits); ok {
				if undivided {
					plain = append(plain, run)
				} else {
					add(KindCardNumber, digits[:n])
				}
			} else if ssn(run) {
				add(KindUSSSN, run)
			}
		}
		i = j
	}
}

// alone reports whether b[i:j] is not part of a longer token: a word, a
// decimal or dashed number, a UUID, a phone number with its +, a version.
func alone(b []byte, i, j int) bool {
	if i > 0 {
		switch c := b[i-1]; {
		case isAlnum(c), c == '.', c == '-', c == '_', c == '+':
			return false
		}
	}
	if j < len(b) {
		switch c := b[j]; {
		case isAlnum(c), c == '_':
			return false
		case c == '.' || c == '-':
			return j+1 >= len(b) || !isAlnum(b[j+1])
		}
	}
	return true
}

// cardNumber checks a run as a payment card number: 13 to 19 digits,
// undivided or in the groups cards print (4-4-4-4, 4-6-5, 4-6-4,
// 4-4-4-4-3) with one kind of separator, a network's prefix and length,
// and the Luhn check digit. It leaves the digits in digits[:n] (the
// caller's array: a local one returned as a slice would be allocated on
// every call).
func cardNumber(run []byte, digits *[19]byte) (n int, ok bool) {
	if len(run) < 13 || len(run) > 23 {
		return 0, false
	}
	var groups [6]int
	g := 0
	var sep byte
	for _, c := range run {
		if isDigit(c) {
			if n == len(digits) {
				return 0, false
			}
			digits[n] = c
			n++
			groups[g]++
			continue
		}
		if sep != 0 && c != sep || g == len(groups)-1 {
			return 0, false
		}
		sep = c
		g++
	}
	if n < 13 {
		return 0, false
	}
	if g > 0 && !slices.ContainsFunc([][]int{{4, 4, 4, 4}, {4, 6, 5}, {4, 6, 4}, {4, 4, 4, 4, 3}}, func(l []int) bool {
		return slices.Equal(l, groups[:g+1])
	}) {
		return 0, false
	}
	d := digits[:n]
	return n, cardNetwork(d) && luhn(d)
}

// cardNetwork reports whether d has the prefix (IIN) and length of a card
// network: Visa, Mastercard, American Express, Discover, Diners Club, JCB,
// UnionPay.
func cardNetwork(d []byte) bool {
	n := len(d)
	p := func(k int) int { // the number of the first k digits
		v := 0
		for _, c := range d[:k] {
			v = v*10 + int(c-'0')
		}
		return v
	}
	switch {
	case d[0] == '4':
		// Not 13: no such Visa card is issued any more, and 13-digit
		// EAN barcodes of European products start with 4.
		return n == 16 || n == 19
	case p(2) >= 51 && p(2) <= 55, p(4) >= 2221 && p(4) <= 2720:
		return n == 16
	case p(2) == 34 || p(2) == 37:
		return n == 15
	case p(4) == 6011, p(2) == 65, p(3) >= 644 && p(3) <= 649:
		return n >= 16 && n <= 19
	case p(3) >= 300 && p(3) <= 305, p(2) == 36, p(2) == 38, p(2) == 39:
		return n >= 14 && n <= 19
	case p(4) >= 3528 && p(4) <= 3589:
		return n >= 16 && n <= 19
	case p(2) == 62:
		return n >= 16 && n <= 19
	}
	return false
}

func luhn(d []byte) bool {
	sum := 0
	for i := range d {
		v := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

// ssn checks a run as a US social security number in its printed form,
// ddd-dd-dddd: area 001-899 but 666, group 01-99, serial 0001-9999, and
// not one of the numbers published as examples.
func ssn(run []byte) bool {
	if len(run) != 11 || run[3] != '-' || run[6] != '-' {
		return false
	}
	s := string(run)
	area, group, serial := s[:3], s[4:6], s[7:]
	switch {
	case area == "000" || area == "666" || area[0] == '9', group == "00", serial == "0000":
		return false
	case s == "078-05-1120" || s == "219-09-9999" || s == "123-45-6789":
		return false
	}
	return true
}

// iban checks for an IBAN at b[i:]: country code, check digits and the
// national number, undivided or in groups of four, of the country's
// length, with the mod-97 check of ISO 13616. It returns the IBAN without
// spaces.
func iban(b []byte, i int) ([]byte, bool) {
	want := ibanLength(string(b[i : i+2]))
	if want == 0 {
		return nil, false
	}
	var v [34]byte
	n := 0
	j := i
	for j < len(b) && n < want {
		c := b[j]
		switch {
		case isDigit(c) || isUpper(c):
			v[n] = c
			n++
			j++
		case c == ' ' && n%4 == 0 && j+1 < len(b) && isAlnum(b[j+1]):
			j++
		default:
			return nil, false
		}
	}
	if n != want || j < len(b) && isAlnum(b[j]) {
		return nil, false
	}
	// mod 97 of the number with the first four characters moved to the
	// end and letters as 10..35.
	rem := 0
	for k := range n {
		c := v[(k+4)%n]
		if isDigit(c) {
			rem = (rem*10 + int(c-'0')) % 97
		} else {
			rem = (rem*100 + int(c-'A'+10)) % 97
		}
	}
	return v[:n], rem == 1
}

// ibanLength is the length of the IBANs of a country (ISO 13616
// registry), 0 for a country without IBANs.
func ibanLength(cc string) int {
	switch cc {
	case "NO":
		return 15
	case "BE":
		return 16
	case "DK", "FI", "FO", "GL", "NL":
		return 18
	case "MK", "SI":
		return 19
	case "AT", "BA", "EE", "KZ", "LT", "LU", "XK":
		return 20
	case "CH", "HR", "LI", "LV":
		return 21
	case "BG", "BH", "CR", "DE", "GB", "GE", "IE", "ME", "RS", "VA":
		return 22
	case "AE", "GI", "IL", "IQ", "TL":
		return 23
	case "AD", "CZ", "ES", "MD", "PK", "RO", "SA", "SE", "SK", "TN", "VG":
		return 24
	case "PT", "ST":
		return 25
	case "IS", "TR":
		return 26
	case "FR", "GR", "IT", "MC", "MR", "SM":
		return 27
	case "AL", "AZ", "BY", "CY", "DO", "GT", "HU", "LB", "PL", "SV":
		return 28
	case "BR", "EG", "PS", "QA", "UA":
		return 29
	case "JO", "KW", "MU":
		return 30
	case "MT", "SC":
		return 31
	case "LC":
		return 32
	}
	return 0
}

// ---- credentials ----

// nextMarker returns the index of the first marker in b at or after off,
// or -1. bytes.Index looks for the first byte of what it searches, then
// checks the rest: with a common first byte (e, -) it stops at nearly
// every word. nextMarker searches for marker[anchor:], a rarer part, and
// checks the anchor bytes before it.
func nextMarker(b []byte, off int, marker string, anchor int) int {
	head, tail := marker[:anchor], marker[anchor:]
	for {
		k := bytes.Index(b[min(off+anchor, len(b)):], []byte(tail))
		if k < 0 {
			return -1
		}
		// The tail's first place at or after off+anchor is off+k+anchor:
		// no marker starts before off+k.
		if i := off + k; string(b[i:i+anchor]) == head {
			return i
		}
		off += k + 1
	}
}

// scanAWSKeyIDs finds AWS access key ids: AKIA (long-term) or ASIA
// (temporary) and 16 upper-case letters or digits, standing alone.
func scanAWSKeyIDs(b []byte, add func(string, []byte)) {
	for _, prefix := range []string{"AKIA", "ASIA"} {
		for off := 0; ; {
			i := bytes.Index(b[off:], []byte(prefix))
			if i < 0 {
				break
			}
			i += off
			off = i + 1
			if i > 0 && isAlnum(b[i-1]) || i+20 > len(b) || i+20 < len(b) && isAlnum(b[i+20]) {
				continue
			}
			ok := true
			for _, c := range b[i+4 : i+20] {
				if !isUpper(c) && !isDigit(c) {
					ok = false
					break
				}
			}
			if ok {
				add(KindAWSKeyID, b[i:i+20])
			}
		}
	}
}

// scanAWSSecrets finds AWS secret access keys: 40 characters of base64
// (mixed case, with a digit, / or +) right after a name that says what
// they are (aws_secret_access_key, SecretAccessKey, secret_key, secret):
// without the name, 40 random characters are any token.
func scanAWSSecrets(b []byte, add func(string, []byte)) {
	for _, stem := range []string{"ecret", "ECRET"} {
		for off := 0; ; {
			i := nextMarker(b, off, stem, 1) // by "cret": e is everywhere
			if i < 0 {
				break
			}
			off = i + 1
			if i == 0 || b[i-1] != 's' && b[i-1] != 'S' {
				continue
			}
			// The name around "secret".
			s, e := i-1, i+len(stem)
			for s > 0 && (isAlnum(b[s-1]) || b[s-1] == '_' || b[s-1] == '-') {
				s--
			}
			for e < len(b) && (isAlnum(b[e]) || b[e] == '_' || b[e] == '-') {
				e++
			}
			if !secretName(b[s:e]) {
				continue
			}
			// Separators: quotes, colon, equals, spaces, an XML tag's end.
			v := e
			for n := 0; v < len(b) && n < 6 && strings.IndexByte("\"': =\t>", b[v]) >= 0; n++ {
				v++
			}
			if v == e || v+40 > len(b) {
				continue
			}
			val := b[v : v+40]
			if v+40 < len(b) && (isBase64Char(b[v+40]) || b[v+40] == '=') || !secretShape(val) {
				continue
			}
			add(KindAWSSecretKey, val)
		}
	}
}

func secretName(name []byte) bool {
	var norm []byte
	for _, c := range name {
		switch {
		case c == '_' || c == '-':
		case isUpper(c):
			norm = append(norm, c+'a'-'A')
		default:
			norm = append(norm, c)
		}
	}
	switch string(norm) {
	case "awssecretaccesskey", "secretaccesskey", "awssecretkey", "secretkey", "awssecret", "secret", "awssecretaccesskeyid":
		return true
	}
	return false
}

func isBase64Char(c byte) bool { return isAlnum(c) || c == '/' || c == '+' }

// secretShape: 40 base64 characters with upper and lower case letters and
// a digit, / or + (a hex digest or a word has not).
func secretShape(v []byte) bool {
	var up, low, other bool
	for _, c := range v {
		switch {
		case isUpper(c):
			up = true
		case 'a' <= c && c <= 'z':
			low = true
		case isDigit(c) || c == '/' || c == '+':
			other = true
		default:
			return false
		}
	}
	return up && low && other
}

// scanPrivateKeys finds PEM private keys (RSA, EC, DSA, OpenSSH,
// PKCS #8, encrypted) and PGP private key blocks by their BEGIN line.
func scanPrivateKeys(b []byte, add func(string, []byte)) {
	const begin = "-----BEGIN "
	for off := 0; ; {
		i := nextMarker(b, off, begin, 5) // by "BEGIN ": JSON is full of dashes
		if i < 0 {
			return
		}
		off = i + len(begin)
		line := b[off:min(len(b), off+48)]
		e := bytes.Index(line, []byte("-----"))
		if e < 0 {
			continue
		}
		label := line[:e]
		if bytes.HasSuffix(label, []byte("PRIVATE KEY")) || bytes.Equal(label, []byte("PGP PRIVATE KEY BLOCK")) {
			// Each key counts: the value is its position.
			add(KindPrivateKey, []byte(strconv.Itoa(i)))
		}
	}
}

// scanJWTs finds JSON Web Tokens: three base64url segments (the last may
// be empty: alg none) whose first decodes to a JSON object with "alg".
func scanJWTs(b []byte, add func(string, []byte)) {
	for off := 0; ; {
		i := nextMarker(b, off, "eyJ", 2) // by the J: e is everywhere
		if i < 0 {
			return
		}
		off = i + 3
		if i > 0 && isBase64URLChar(b[i-1]) {
			continue
		}
		var seg [3]int // ends of the segments
		j := i
		for k := range 3 {
			for j < len(b) && isBase64URLChar(b[j]) {
				j++
			}
			seg[k] = j
			if k < 2 {
				if j >= len(b) || b[j] != '.' {
					j = -1
					break
				}
				j++
			}
		}
		if j < 0 || seg[0]-i < 10 || seg[1]-seg[0] < 3 || j < len(b) && b[j] == '.' {
			continue
		}
		off = j
		header := make([]byte, base64.RawURLEncoding.DecodedLen(seg[0]-i))
		n, err := base64.RawURLEncoding.Decode(header, b[i:seg[0]])
		if err != nil || !json.Valid(header[:n]) || !bytes.Contains(header[:n], []byte(`"alg"`)) {
			continue
		}
		add(KindJWT, b[i:j])
	}
}

func isBase64URLChar(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

// ---- e-mail addresses ----

// scanEmails finds e-mail addresses (local@domain.tld), counted in lower
// case; image names with a density (logo@2x.png) are not addresses.
func scanEmails(b []byte, add func(string, []byte)) {
	var lower []byte // the address in lower case (add copies it)
	for off := 0; ; {
		i := bytes.IndexByte(b[off:], '@')
		if i < 0 {
			return
		}
		i += off
		off = i + 1
		s := i
		for s > 0 && i-s < 64 && isLocalChar(b[s-1]) {
			s--
		}
		for s < i && b[s] == '.' {
			s++
		}
		if s == i || b[i-1] == '.' {
			continue
		}
		e, dots, lastDot := i+1, 0, -1
		for e < len(b) && e-i < 255 && (isAlnum(b[e]) || b[e] == '-' || b[e] == '.' && e+1 < len(b) && isAlnum(b[e+1])) {
			if b[e] == '.' {
				dots++
				lastDot = e
			}
			e++
		}
		if dots == 0 {
			continue
		}
		tld := b[lastDot+1 : e]
		if len(tld) < 2 || len(tld) > 24 || !allLetters(tld) || imageExt(tld) {
			continue
		}
		// An address is ASCII (isLocalChar and the domain's bytes).
		lower = append(lower[:0], b[s:e]...)
		for k, c := range lower {
			if isUpper(c) {
				lower[k] = c + 'a' - 'A'
			}
		}
		add(KindEmail, lower)
		off = e
	}
}

func isLocalChar(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func allLetters(t []byte) bool {
	for _, c := range t {
		if !('a' <= c && c <= 'z' || isUpper(c)) {
			return false
		}
	}
	return true
}

func imageExt(t []byte) bool {
	switch strings.ToLower(string(t)) {
	case "png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "ico", "bmp", "css", "js":
		return true
	}
	return false
}
