package elasticsearch

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// maxIDBytes is the longest _id Elasticsearch and OpenSearch accept. A
// longer one fails the validation of the whole bulk request, so such a
// record is sent without _id instead.
const maxIDBytes = 512

// maxDepth bounds the nesting the event.id scanner follows; deeper records
// are sent without _id (the backend still judges the document itself).
const maxDepth = 200

// encoder writes bulk bodies: for each record a create action naming the
// data stream (and the _id, when withID) on one line, then the record.
type encoder struct {
	index  []byte // the data stream's name as a JSON string, quotes included
	withID bool
}

// newEncoder returns an encoder for the data stream or index named index.
func newEncoder(index string, withID bool) encoder {
	quoted, _ := json.Marshal(index) // a string always marshals
	return encoder{index: quoted, withID: withID}
}

// bulkBody is an encoded batch. Document k (the k-th record sent) is
// buf[start(k):ends[k]] and came from batch[idx[k]]; bad lists the records
// not sent at all, because they cannot be framed as one NDJSON line.
type bulkBody struct {
	buf  []byte
	ends []int
	idx  []int
	bad  []int
}

// start is the offset of document k in buf.
func (b *bulkBody) start(k int) int {
	if k == 0 {
		return 0
	}
	return b.ends[k-1]
}

// encode fills b with the bulk body of records, reusing its buffers. It
// does not retain records. An empty record or one holding a newline would
// break the NDJSON framing, and with it the whole request: it is left out
// and listed in b.bad.
func (e encoder) encode(b *bulkBody, records [][]byte) {
	n := 0
	for _, r := range records {
		n += len(r) + len(e.index) + 64
	}
	b.buf, b.ends, b.idx, b.bad = grow(b.buf[:0], n), b.ends[:0], b.idx[:0], b.bad[:0]
	for i, r := range records {
		if len(r) == 0 || bytes.IndexByte(r, '\n') >= 0 {
			b.bad = append(b.bad, i)
			continue
		}
		b.buf = append(b.buf, `{"create":{"_index":`...)
		b.buf = append(b.buf, e.index...)
		if e.withID {
			if id, ok := eventID(r); ok {
				b.buf = append(b.buf, `,"_id":`...)
				b.buf = append(b.buf, id...)
			}
		}
		b.buf = append(b.buf, "}}\n"...)
		b.buf = append(b.buf, r...)
		b.buf = append(b.buf, '\n')
		b.ends = append(b.ends, len(b.buf))
		b.idx = append(b.idx, i)
	}
}

// grow returns b (empty) with room for n bytes.
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, 0, n)
	}
	return b
}

// chunk is a run of documents [from, to) of a bulkBody sent as one request.
type chunk struct{ from, to int }

// chunks cuts b's documents into runs of at most maxBytes of body each; a
// document bigger than maxBytes goes alone (the backend judges it).
func (b *bulkBody) chunks(maxBytes int) []chunk {
	var out []chunk
	from := 0
	for k := range b.ends {
		if k > from && b.ends[k]-b.start(from) > maxBytes {
			out = append(out, chunk{from, k})
			from = k
		}
	}
	if from < len(b.ends) {
		out = append(out, chunk{from, len(b.ends)})
	}
	return out
}

// eventID returns the record's event.id as the JSON string token it is in
// the record (quotes and escapes included), ready to be copied into an
// action line. It reads the record only up to the id: the first "event"
// member of the record and the first "id" member in it decide (a record
// with duplicate keys is refused by Elasticsearch anyway, whichever id its
// action names). It reports false when the record is not a JSON object, its
// first "event" is not an object or holds no string "id", the id is empty,
// longer than Elasticsearch accepts or not valid UTF-8, or the record is
// malformed before the id.
func eventID(rec []byte) ([]byte, bool) {
	s := scanner{b: rec}
	s.space()
	if !s.enter('{') || !s.seek("event", 0) || !s.enter('{') || !s.seek("id", 1) || !s.peek('"') {
		return nil, false
	}
	from := s.i
	if !s.str() {
		return nil, false
	}
	id := rec[from:s.i]
	if len(id) <= len(`""`) || !utf8.Valid(id) {
		return nil, false
	}
	if len(id)-2 > maxIDBytes {
		// Escapes make the token longer than the id: measure the id.
		var v string
		if bytes.IndexByte(id, '\\') < 0 || json.Unmarshal(id, &v) != nil || len(v) > maxIDBytes {
			return nil, false
		}
	}
	return id, true
}

// keyIs reports whether the JSON string token key (quotes included) reads
// as name, undoing escapes if there are any.
func keyIs(key []byte, name string) bool {
	if bytes.IndexByte(key, '\\') < 0 {
		return len(key) == len(name)+2 && string(key[1:len(key)-1]) == name
	}
	var s string
	return json.Unmarshal(key, &s) == nil && s == name
}

// scanner walks JSON text just far enough to find event.id: it checks
// strings strictly (their tokens are copied into requests) and skips other
// values by their structure without validating numbers or literals. Any
// failure means "no id", so it does not tell a malformed record from one
// without the member sought.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// peek reports whether the next byte is c.
func (s *scanner) peek(c byte) bool { return s.i < len(s.b) && s.b[s.i] == c }

// enter consumes c (the opening of an object or array) and the space after.
func (s *scanner) enter(c byte) bool {
	if !s.peek(c) {
		return false
	}
	s.i++
	s.space()
	return true
}

// seek reads the members of the object just entered up to the one named
// name, leaving s.i at its value, and reports false if there is none.
func (s *scanner) seek(name string, depth int) bool {
	if s.peek('}') {
		return false
	}
	for {
		key, ok := s.key()
		if !ok {
			return false
		}
		if keyIs(key, name) {
			return true
		}
		if !s.value(depth+1) || !s.more() {
			return false
		}
	}
}

// key reads a member's key and the colon after it, leaving s.i at the
// value.
func (s *scanner) key() ([]byte, bool) {
	from := s.i
	if !s.peek('"') || !s.str() {
		return nil, false
	}
	key := s.b[from:s.i]
	s.space()
	if !s.peek(':') {
		return nil, false
	}
	s.i++
	s.space()
	return key, true
}

// more reads the separator after a member or element: it reports true after
// a comma (and the space after it), false at anything else (the closing
// byte, say).
func (s *scanner) more() bool {
	s.space()
	if s.peek(',') {
		s.i++
		s.space()
		return true
	}
	return false
}

// value skips the value at s.i.
func (s *scanner) value(depth int) bool {
	if s.i >= len(s.b) || depth > maxDepth {
		return false
	}
	switch c := s.b[s.i]; c {
	case '"':
		return s.str()
	case '{', '[':
		closing := byte(']')
		if c == '{' {
			closing = '}'
		}
		s.enter(c)
		if s.peek(closing) {
			s.i++
			return true
		}
		for {
			if c == '{' {
				if _, ok := s.key(); !ok {
					return false
				}
			}
			if !s.value(depth + 1) {
				return false
			}
			if !s.more() {
				if !s.peek(closing) {
					return false
				}
				s.i++
				return true
			}
		}
	default: // a number or a literal: up to the next delimiter
		from := s.i
		for s.i < len(s.b) && !isDelim(s.b[s.i]) {
			s.i++
		}
		return s.i > from
	}
}

// str reads the string at s.i (s.b[s.i] is '"'), checking its escapes and
// refusing raw control characters as JSON does.
func (s *scanner) str() bool {
	s.i++
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) || !isHex4(s.b[s.i+2:s.i+6]) {
					return false
				}
				s.i += 6
			default:
				return false
			}
		default:
			s.i++
		}
	}
	return false
}

// isDelim reports whether c ends a number or a literal.
func isDelim(c byte) bool {
	switch c {
	case ',', ']', '}', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
