package detect

// The SSRF towards instance metadata signatures of Injection (see signatures.md).

import (
	"net/netip"
	"strings"
	"unicode/utf8"
)

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
