package datadog

import (
	"bytes"
	"encoding/json"
)

// fields are what an entry takes from its record besides the record
// itself. A field the record lacks, or holds with another JSON type, is "".
type fields struct {
	Timestamp string // @timestamp
	Event     struct {
		ID, Action, Outcome string
	}
	Audit struct {
		EnvID string
		Seq   string // the number as written
	}
	Faas struct{ Name string }
	Log  struct{ Level string }
}

// readFields fills f from rec, a JSON object, reading only the members it
// needs and skipping over every other value without decoding it: a record
// is mostly values the entry does not look at, and encoding/json, which
// decodes all of them, took two thirds of the time of encoding a batch.
// The result is what encoding/json would give decoding rec into maps (keys
// matched exactly, the last of duplicate members winning). On malformed
// input readFields stops where it is and keeps what it read so far.
func readFields(rec []byte, f *fields) {
	*f = fields{}
	s := scanner{b: rec}
	s.object(func(key []byte) bool {
		switch string(key) {
		case "@timestamp":
			return s.str(&f.Timestamp)
		case "event":
			f.Event = fields{}.Event
			return s.object(func(key []byte) bool {
				switch string(key) {
				case "id":
					return s.str(&f.Event.ID)
				case "action":
					return s.str(&f.Event.Action)
				case "outcome":
					return s.str(&f.Event.Outcome)
				}
				return s.skip()
			})
		case "audit":
			f.Audit = fields{}.Audit
			return s.object(func(key []byte) bool {
				switch string(key) {
				case "env_id":
					return s.str(&f.Audit.EnvID)
				case "seq":
					return s.number(&f.Audit.Seq)
				}
				return s.skip()
			})
		case "faas":
			f.Faas = fields{}.Faas
			return s.object(func(key []byte) bool {
				if string(key) == "name" {
					return s.str(&f.Faas.Name)
				}
				return s.skip()
			})
		case "log":
			f.Log = fields{}.Log
			return s.object(func(key []byte) bool {
				if string(key) == "level" {
					return s.str(&f.Log.Level)
				}
				return s.skip()
			})
		}
		return s.skip()
	})
}

// scanner reads JSON values off b from position i. Every method returns
// false when the input is malformed there, and then the reading stops.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (s *scanner) peek() byte {
	s.space()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// object reads an object, calling member with each key (unescaped) when
// the scanner is at the member's value, which member must read. A value
// that is not an object is skipped, with no call.
func (s *scanner) object(member func(key []byte) bool) bool {
	if s.peek() != '{' {
		return s.skip()
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		if s.peek() != '"' {
			return false
		}
		raw, ok := s.token()
		if !ok {
			return false
		}
		key := raw[1 : len(raw)-1]
		if !validPlain(key) {
			k, ok := unquote(raw)
			if !ok {
				return false
			}
			key = []byte(k)
		}
		if s.peek() != ':' {
			return false
		}
		s.i++
		if !member(key) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// str reads a string into dst; any other value sets dst to "".
func (s *scanner) str(dst *string) bool {
	if s.peek() != '"' {
		*dst = ""
		return s.skip()
	}
	raw, ok := s.token()
	if !ok {
		return false
	}
	*dst, ok = unquote(raw)
	return ok
}

// number reads a number into dst, as written; any other value sets dst to
// "".
func (s *scanner) number(dst *string) bool {
	*dst = ""
	start := s.peek()
	if start != '-' && (start < '0' || start > '9') {
		return s.skip()
	}
	raw, ok := s.token()
	if ok {
		*dst = string(raw)
	}
	return ok
}

// token reads a string (quotes included) or a literal (number, true,
// false, null) and returns its bytes.
func (s *scanner) token() ([]byte, bool) {
	start := s.i
	if s.i >= len(s.b) {
		return nil, false
	}
	if s.b[s.i] != '"' {
		for s.i < len(s.b) && !isDelimiter(s.b[s.i]) {
			s.i++
		}
		return s.b[start:s.i], s.i > start
	}
	for j := s.i + 1; ; {
		q := bytes.IndexByte(s.b[j:], '"')
		if q < 0 {
			return nil, false
		}
		j += q
		// The quote ends the string unless an odd number of
		// backslashes escapes it.
		n := 0
		for k := j - 1; k > s.i && s.b[k] == '\\'; k-- {
			n++
		}
		j++
		if n%2 == 0 {
			s.i = j
			return s.b[start:j], true
		}
	}
}

// skip reads over one value of any kind.
func (s *scanner) skip() bool {
	switch s.peek() {
	case 0:
		return false
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if _, ok := s.token(); !ok {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return true
				}
			}
			s.i++
		}
		return false
	default:
		_, ok := s.token()
		return ok
	}
}

func isDelimiter(c byte) bool {
	switch c {
	case ',', '}', ']', ':', ' ', '\t', '\n', '\r', '"', '{', '[':
		return true
	}
	return false
}

// unquote returns the value of a JSON string token (quotes included), or
// false when it is not one.
func unquote(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	if validPlain(raw[1 : len(raw)-1]) {
		return string(raw[1 : len(raw)-1]), true
	}
	// Escapes, and anything but printable ASCII (encoding/json replaces
	// invalid UTF-8 and refuses control characters), are left to
	// encoding/json: records are made by it, so this is rare.
	var v string
	if json.Unmarshal(raw, &v) != nil {
		return "", false
	}
	return v, true
}

// validPlain reports whether the inside of a string token needs no
// decoding: printable ASCII, no escapes.
func validPlain(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x80 || c == '\\' {
			return false
		}
	}
	return true
}
