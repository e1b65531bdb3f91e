package jsontext

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestUnescape(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`plain`, `plain`},
		{`a\"b\\c\/d`, `a"b\c/d`},
		{`\b\f\n\r\t`, "\b\f\n\r\t"},
		{`\u0041\u00e9`, "Aé"},
		{`\ud83d\ude00`, "😀"},
		{`\ud83d`, "\uFFFD"},           // a lone surrogate, as encoding/json decodes it
		{`\uzzzz`, `\uzzzz`},           // invalid: kept
		{`ends with \`, `ends with \`}, // a cut escape: kept
	} {
		if got := string(Unescape(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("Unescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzUnescape: for the inside of any valid JSON string of valid UTF-8,
// Unescape decodes as encoding/json does (which also replaces invalid
// UTF-8; the scanners read bytes as they are).
func FuzzUnescape(f *testing.F) {
	for _, s := range []string{`a\nb`, `\u00e9`, `\ud83d\ude00`, `\ud800x`, `\\\"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want string
		if !utf8.ValidString(s) || json.Unmarshal([]byte(`"`+s+`"`), &want) != nil {
			_ = Unescape(nil, []byte(s)) // not JSON: no panic is all
			return
		}
		if got := string(Unescape(nil, []byte(s))); got != want {
			t.Errorf("Unescape(%q) = %q, encoding/json gives %q", s, got, want)
		}
	})
}
