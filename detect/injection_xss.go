package detect

// The cross-site scripting signatures of Injection (see signatures.md).

import (
	"strings"
	"unicode/utf8"
)

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
