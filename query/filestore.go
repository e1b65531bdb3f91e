package query

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/audittrail/audittrail/internal/jsontext"
	"github.com/audittrail/audittrail/sinks/file"
)

// maxRecordLine bounds one line of a plain NDJSON file, as the file store
// bounds its records.
const maxRecordLine = 8 << 20

// errLimitReached stops a scan once the query's limit is met.
var errLimitReached = errors.New("query: limit reached")

// ScanFiles calls fn, in file order, for every record of paths that the
// query matches, until q.Limit records have matched (0: all). A path is a
// file store directory, one of its segments (.ndjson.zst), or a plain
// NDJSON file; a line the extension printed to stdout for want of a sink
// ({"audittrail.undelivered": ..., "record": {...}}) counts as its record.
// raw is the record's JSON, valid only during the call; rec is it decoded
// with numbers as json.Number. Lines that are not JSON objects are skipped.
//
// An error of fn stops the scan and is returned as is. A damaged segment
// does not stop it: its readable records are scanned, and the damage is
// returned (wrapped) once every path has been read. ctx cancels the scan.
func ScanFiles(ctx context.Context, paths []string, q Query, fn func(raw []byte, rec map[string]any) error) error {
	s := newFileScan(ctx, q, fn)
	var damaged []error
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := s.path(p)
		switch {
		case errors.Is(err, errLimitReached):
			return nil
		case errors.Is(err, errCallback):
			return s.fnErr
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, new(damagedStore)):
			damaged = append(damaged, err)
		case err != nil:
			return err
		}
	}
	return errors.Join(damaged...)
}

// errCallback marks that fn returned s.fnErr.
var errCallback = errors.New("query: callback error")

// fileScan is one ScanFiles call.
type fileScan struct {
	ctx       context.Context
	m         *matcher
	pre       [][]byte // byte strings every matching line holds, escapes decoded
	unescaped []byte   // the line with its escapes decoded, when it has any
	limit     int
	matched   int
	n         int
	fn        func([]byte, map[string]any) error
	fnErr     error
}

func newFileScan(ctx context.Context, q Query, fn func([]byte, map[string]any) error) *fileScan {
	return &fileScan{ctx: ctx, m: newMatcher(q), pre: prefilter(q.Conds), limit: q.Limit, fn: fn}
}

// damagedStore is what the file store reports of segments it could read
// only in part (or not at all): the scan goes on with the other paths.
type damagedStore struct{ err error }

func (e damagedStore) Error() string { return e.err.Error() }
func (e damagedStore) Unwrap() error { return e.err }

// storeErr tells the scan's own errors (a stop, fn's error, ctx) from
// damage that file.Scan reports.
func (s *fileScan) storeErr(err error) error {
	if err == nil || errors.Is(err, errLimitReached) || errors.Is(err, errCallback) || s.ctx.Err() != nil {
		return err
	}
	return damagedStore{err}
}

func (s *fileScan) path(p string) error {
	info, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	switch {
	case info.IsDir():
		segs, err := file.Segments(p)
		if err != nil {
			return err
		}
		if len(segs) == 0 {
			return fmt.Errorf("query: %s: no file store segments (trail-*%s)", p, file.Extension)
		}
		return s.storeErr(file.Scan(p, s.record))
	case strings.HasSuffix(p, file.Extension):
		return s.storeErr(file.ScanSegment(p, s.record))
	}
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxRecordLine)
	for sc.Scan() {
		if err := s.record(sc.Bytes()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("query: %s: %w", p, err)
	}
	return nil
}

// undeliveredKey marks a line the extension printed for want of a sink.
var undeliveredKey = []byte(`"audittrail.undelivered"`)

// record handles one line.
func (s *fileScan) record(line []byte) error {
	s.n++
	if s.n%1024 == 0 {
		if err := s.ctx.Err(); err != nil {
			return err
		}
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return nil
	}
	if bytes.Contains(line, undeliveredKey) {
		line = unwrapUndeliveredLine(line)
	}
	if !s.mayMatch(line) {
		return nil
	}
	if s.m.selects() {
		// Decode only the top-level fields the query looks at.
		part := make(map[string]any, len(s.m.conds)+1)
		ok := topLevel(line, func(k string, raw []byte) bool {
			if !s.m.looksAt(k) {
				return true
			}
			v, err := decodeNumbers(raw)
			part[k] = v
			return err == nil
		})
		if !ok || !s.m.match(part) {
			return nil // not a record, or not one that matches
		}
	}
	v, err := decodeNumbers(line)
	rec, _ := v.(map[string]any)
	if err != nil || rec == nil {
		return nil
	}
	if err := s.fn(line, rec); err != nil {
		s.fnErr = err
		return errCallback
	}
	s.matched++
	if s.limit > 0 && s.matched >= s.limit {
		return errLimitReached
	}
	return nil
}

// mayMatch is a cheap test that rules a record out without decoding it.
// Every string of a record is its line's bytes with the escapes decoded,
// and every number and boolean (decoded as json.Number) is its very bytes,
// so a record that an = condition matches holds the condition's value, or
// each piece of its wildcard, in its line with the escapes decoded.
func (s *fileScan) mayMatch(line []byte) bool {
	if len(s.pre) == 0 {
		return true
	}
	if bytes.IndexByte(line, '\\') >= 0 {
		s.unescaped = jsontext.Unescape(s.unescaped[:0], line)
		line = s.unescaped
	}
	for _, p := range s.pre {
		if !bytes.Contains(line, p) {
			return false
		}
	}
	return true
}

// prefilter returns the byte strings that every line matching conds
// holds once its escapes are decoded: the values of = conditions (the
// pieces of a wildcard). Numeric values are left out, as a number may be
// written in many ways (200, 2e2, 200.0).
func prefilter(conds []Cond) [][]byte {
	var pre [][]byte
	for _, c := range conds {
		if c.Op != Eq {
			continue
		}
		if strings.ContainsRune(c.Value, utf8.RuneError) {
			continue // also what encoding/json makes of invalid UTF-8
		}
		if !c.Wildcard {
			if _, isNum := parseFilterNumber(c.Value); !isNum && c.Value != "" {
				pre = append(pre, []byte(c.Value))
			}
			continue
		}
		for _, part := range strings.Split(c.Value, "*") {
			if part != "" {
				pre = append(pre, []byte(part))
			}
		}
	}
	return pre
}

// unwrapUndeliveredLine returns the record of a line the extension printed
// to stdout when it could not deliver it, or the line itself.
func unwrapUndeliveredLine(line []byte) []byte {
	var w struct {
		Reason string          `json:"audittrail.undelivered"`
		Record json.RawMessage `json:"record"`
	}
	if json.Unmarshal(line, &w) == nil && w.Reason != "" && len(w.Record) > 0 && w.Record[0] == '{' {
		return w.Record
	}
	return line
}

// decodeNumbers decodes JSON with numbers as json.Number.
func decodeNumbers(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// topLevel calls fn with each key of the JSON object line and the bytes of
// its value, without decoding them, until fn returns false. It reports
// false when line is not an object it can split; a key with an escape (or
// invalid UTF-8) is decoded by encoding/json. It only splits: what fn is given is still to be
// decoded (and so checked), and a line that is not valid JSON is decoded
// in full before anyone sees it.
func topLevel(line []byte, fn func(key string, value []byte) bool) bool {
	i := skipJSONSpace(line, 0)
	if i >= len(line) || line[i] != '{' {
		return false
	}
	i = skipJSONSpace(line, i+1)
	if i < len(line) && line[i] == '}' {
		return true
	}
	for {
		if i >= len(line) || line[i] != '"' {
			return false
		}
		end := skipJSONString(line, i)
		if end < 0 {
			return false
		}
		key := string(line[i+1 : end-1])
		if (bytes.IndexByte(line[i:end], '\\') >= 0 || !utf8.ValidString(key)) && json.Unmarshal(line[i:end], &key) != nil {
			return false
		}
		i = skipJSONSpace(line, end)
		if i >= len(line) || line[i] != ':' {
			return false
		}
		start := skipJSONSpace(line, i+1)
		end = skipJSONValue(line, start)
		if end < 0 || !fn(key, line[start:end]) {
			return false
		}
		i = skipJSONSpace(line, end)
		if i >= len(line) {
			return false
		}
		switch line[i] {
		case ',':
			i = skipJSONSpace(line, i+1)
		case '}':
			return true
		default:
			return false
		}
	}
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipJSONString returns the offset after the string starting at b[i], or
// -1.
func skipJSONString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipJSONValue returns the offset after the value starting at b[i], or
// -1: a string, an object or array (brackets counted, strings skipped), or
// a literal running to the next delimiter.
func skipJSONValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipJSONString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				if i = skipJSONString(b, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	start := i
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	if i == start {
		return -1
	}
	return i
}
