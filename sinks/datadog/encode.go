package datadog

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of one request to the logs intake ("Send logs", API v2): at most
// 5 MB of uncompressed body, 1,000 entries, and 1 MB per entry. Datadog
// truncates a larger entry itself, silently; the sink truncates it first
// and says so in the entry. Counted in decimal megabytes, the smaller
// reading of "MB".
const (
	maxEntries    = 1000
	maxBodyBytes  = 5_000_000
	maxEntryBytes = 1_000_000
)

// The window of dates Datadog takes: "Datadog rejects a log entry if its
// official date is older than 18 hours in the past" (Pipelines,
// Preprocessing), and "log events can be submitted up to 18 hours in the
// past and two hours in the future" (Log Date Remapper). The sink refuses
// a record outside it itself, 10 minutes early on either side for clock
// skew and the time a request spends in flight, so that the delivery core
// accounts for it in a coverage gap instead of it vanishing at the intake.
const (
	maxPast   = 18*time.Hour - 10*time.Minute
	maxFuture = 2*time.Hour - 10*time.Minute
)

// source is the ddsource of every entry.
const source = "audittrail"

// limits bound one request; intakeLimits are Datadog's. Tests use smaller
// ones to make small golden files.
type limits struct {
	entries    int // entries per request
	bodyBytes  int // uncompressed bytes per request body
	entryBytes int // bytes per entry
}

var intakeLimits = limits{entries: maxEntries, bodyBytes: maxBodyBytes, entryBytes: maxEntryBytes}

// encoder turns records into log entries of the intake's JSON array.
//
// An entry is
//
//	{"ddsource":"audittrail","service":S,"ddtags":T,"hostname":H,
//	 "status":L,"timestamp":MS,"message":R}
//
// where R is the record itself, as a JSON string, byte for byte. ddtags
// and hostname are left out when not configured, timestamp when the record
// has no readable @timestamp. Every value but timestamp (epoch
// milliseconds) is a string: the shape and types the Datadog Agent sends,
// which every receiver of the protocol accepts (VictoriaLogs refuses any
// other type). A record cut to fit maxEntryBytes also carries
// "audittrail.truncated":"true", "audittrail.original_bytes" and, lifted
// from the record so that the entry can still be found and deduplicated,
// "event.id", "audit.env_id" and "audit.seq".
type encoder struct {
	service string // configured service; "" means each record's faas.name
	tags    string // ddtags, comma-joined; "" leaves it out
	host    string // hostname; "" leaves it out
	limits  limits
}

// status is the entry's status (Datadog's log level) for a record:
//
//   - coverage_gap records: "warn" (records were lost; the gap accounts
//     for them);
//   - log records: their log.level (TRACE and DEBUG "debug", INFO "info",
//     WARN "warn", ERROR "error", FATAL "critical"), else "info";
//   - any other record whose event.outcome is "failure" (a platform or
//     function error, an HTTP status >= 400, a failed init or shutdown):
//     "error";
//   - the rest (success, unknown): "info".
func status(f *fields) string {
	switch {
	case f.Event.Action == "coverage_gap":
		return "warn"
	case f.Event.Action == "log":
		switch strings.ToLower(f.Log.Level) {
		case "trace", "debug":
			return "debug"
		case "warn", "warning":
			return "warn"
		case "error":
			return "error"
		case "fatal", "critical":
			return "critical"
		}
		return "info"
	case f.Event.Outcome == "failure":
		return "error"
	}
	return "info"
}

// entries holds encoded entries back to back.
type entries struct {
	buf []byte // the entries
	end []int  // end of entry i in buf
	idx []int  // index in the batch of entry i's record
}

func (e *entries) reset() {
	e.buf, e.end, e.idx = e.buf[:0], e.end[:0], e.idx[:0]
}

func (e *entries) len() int { return len(e.end) }

// entry returns the bytes of entry i.
func (e *entries) entry(i int) []byte {
	start := 0
	if i > 0 {
		start = e.end[i-1]
	}
	return e.buf[start:e.end[i]]
}

// encode appends an entry to dst for every record of batch dated within
// the window Datadog takes around now, and returns the indices of the
// others (in batch order).
func (enc *encoder) encode(dst *entries, batch [][]byte, now time.Time) (outside []int) {
	var f fields
	for i, rec := range batch {
		// A record that is not a JSON object (which the pipeline never
		// hands over) still goes, as text, with status info.
		readFields(rec, &f)
		var ms int64
		hasTime := false
		if t, err := time.Parse(time.RFC3339Nano, f.Timestamp); err == nil {
			if t.Before(now.Add(-maxPast)) || t.After(now.Add(maxFuture)) {
				outside = append(outside, i)
				continue
			}
			ms, hasTime = t.UnixMilli(), true
		}
		dst.buf = enc.appendEntry(dst.buf, rec, &f, ms, hasTime)
		dst.end = append(dst.end, len(dst.buf))
		dst.idx = append(dst.idx, i)
	}
	return outside
}

// appendEntry appends the entry of rec to dst, cutting rec if the entry
// would pass enc.limits.entryBytes.
func (enc *encoder) appendEntry(dst, rec []byte, f *fields, ms int64, hasTime bool) []byte {
	start := len(dst)
	dst = enc.appendHead(dst, f, ms, hasTime, -1)
	dst = append(dst, `"message":`...)
	dst, n := appendString(dst, rec, enc.limits.entryBytes-(len(dst)-start)-1)
	if n < len(rec) {
		// Start again with the marks of a truncated record, and cut it
		// shorter to make room for them.
		dst = enc.appendHead(dst[:start], f, ms, hasTime, len(rec))
		dst = append(dst, `"message":`...)
		dst, _ = appendString(dst, rec, enc.limits.entryBytes-(len(dst)-start)-1)
	}
	return append(dst, '}')
}

// appendHead appends the opening brace and every attribute before the
// message, each followed by a comma. original >= 0 marks a record
// truncated from that many bytes.
func (enc *encoder) appendHead(dst []byte, f *fields, ms int64, hasTime bool, original int) []byte {
	dst = append(dst, `{"ddsource":"`+source+`","service":`...)
	service := enc.service
	if service == "" {
		service = f.Faas.Name
	}
	if service == "" {
		service = source
	}
	dst = appendStr(dst, service)
	if enc.tags != "" {
		dst = append(dst, `,"ddtags":`...)
		dst = appendStr(dst, enc.tags)
	}
	if enc.host != "" {
		dst = append(dst, `,"hostname":`...)
		dst = appendStr(dst, enc.host)
	}
	dst = append(dst, `,"status":"`...)
	dst = append(dst, status(f)...)
	dst = append(dst, '"')
	if hasTime {
		dst = append(dst, `,"timestamp":`...)
		dst = strconv.AppendInt(dst, ms, 10)
	}
	if original >= 0 {
		dst = append(dst, `,"audittrail.truncated":"true","audittrail.original_bytes":"`...)
		dst = strconv.AppendInt(dst, int64(original), 10)
		dst = append(dst, '"')
		if f.Event.ID != "" {
			dst = append(dst, `,"event.id":`...)
			dst = appendStr(dst, f.Event.ID)
		}
		if f.Audit.EnvID != "" {
			dst = append(dst, `,"audit.env_id":`...)
			dst = appendStr(dst, f.Audit.EnvID)
		}
		if f.Audit.Seq != "" {
			dst = append(dst, `,"audit.seq":`...)
			dst = appendStr(dst, f.Audit.Seq)
		}
	}
	return append(dst, ',')
}

// split groups entries into requests within enc.limits, in order, and
// returns each request as the range [from, to) of its entries.
func (enc *encoder) split(e *entries) [][2]int {
	var reqs [][2]int
	from, size := 0, 0
	for i := range e.len() {
		n := len(e.entry(i))
		if i > from && (i-from >= enc.limits.entries || size+1+n+1 > enc.limits.bodyBytes) {
			reqs = append(reqs, [2]int{from, i})
			from, size = i, 0
		}
		if i == from {
			size = 1 + n // "[" and the entry
		} else {
			size += 1 + n // "," and the entry
		}
	}
	if from < e.len() {
		reqs = append(reqs, [2]int{from, e.len()})
	}
	return reqs
}

// appendBody appends the request body of entries [from, to) to dst: a
// JSON array.
func appendBody(dst []byte, e *entries, from, to int) []byte {
	dst = append(dst, '[')
	for i := from; i < to; i++ {
		if i > from {
			dst = append(dst, ',')
		}
		dst = append(dst, e.entry(i)...)
	}
	return append(dst, ']')
}

// appendStr appends s as a JSON string.
func appendStr(dst []byte, s string) []byte {
	dst, _ = appendString(dst, []byte(s), -1)
	return dst
}

const hexDigits = "0123456789abcdef"

// appendString appends s to dst as a JSON string and returns it with how
// many bytes of s it took. With limit >= 0 the string, quotes included,
// stops short of passing limit bytes, at the end of the last whole
// character that fits (the quotes are written whatever the limit). Invalid
// UTF-8 becomes U+FFFD, as encoding/json does; unlike encoding/json, "<",
// ">" and "&" stay as they are, so a record keeps its size.
func appendString(dst, s []byte, limit int) ([]byte, int) {
	// end is the length dst may reach before the closing quote.
	end := math.MaxInt
	if limit >= 0 {
		end = len(dst) + limit - 1
	}
	dst = append(dst, '"')
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\':
			// A run of bytes that need no escape goes in one append,
			// cut anywhere if need be: each is a whole character.
			j := i + 1
			for j < len(s) && s[j] >= 0x20 && s[j] < utf8.RuneSelf && s[j] != '"' && s[j] != '\\' {
				j++
			}
			j = min(j, i+max(end-len(dst), 0))
			if j == i {
				return append(dst, '"'), i
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		case c == '"' || c == '\\':
			if end-len(dst) < 2 {
				return append(dst, '"'), i
			}
			dst = append(dst, '\\', c)
			i++
			continue
		}
		var esc [6]byte
		out, size := esc[:0], 1
		switch {
		case c == '\n':
			out = append(out, '\\', 'n')
		case c == '\r':
			out = append(out, '\\', 'r')
		case c == '\t':
			out = append(out, '\\', 't')
		case c < 0x20:
			out = append(out, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 {
				out = append(out, `\ufffd`...)
			} else {
				out, size = s[i:i+n], n
			}
		}
		if end-len(dst) < len(out) {
			break
		}
		dst = append(dst, out...)
		i += size
	}
	return append(dst, '"'), i
}
