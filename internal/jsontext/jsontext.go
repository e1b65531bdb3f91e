// Package jsontext works on JSON text without decoding it into values,
// for the scanners that must be faster than encoding/json (the file
// store's query pre-filter, the detectors' body scan).
package jsontext

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// Unescape appends line with every JSON string escape decoded as
// encoding/json decodes it (a surrogate pair as one character, a lone
// surrogate as U+FFFD). Outside strings a valid line has no backslash.
func Unescape(dst, line []byte) []byte {
	for {
		i := bytes.IndexByte(line, '\\')
		if i < 0 || i+1 >= len(line) {
			return append(dst, line...)
		}
		dst = append(dst, line[:i]...)
		c := line[i+1]
		line = line[i+2:]
		switch c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(line)
			if !ok {
				dst = append(dst, '\\', 'u') // invalid JSON: never decoded
				continue
			}
			line = line[4:]
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if len(line) >= 6 && line[0] == '\\' && line[1] == 'u' {
					r2, _ = hex4(line[2:])
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r, line = d, line[6:]
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // " \ / and, in invalid JSON, anything
			dst = append(dst, c)
		}
	}
}

// hex4 reads four hex digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
