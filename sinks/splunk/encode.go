package splunk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The envelope of one record, as HEC's /services/collector/event takes it:
//
//	{"time":1796109471.322,"host":"orders-api","source":"audittrail","sourcetype":"audittrail","index":"security","event":{...the record...}}
//
// A request body is such envelopes back to back, with nothing between them
// (no array, no commas, no newlines). "time" is the record's @timestamp in
// epoch seconds with milliseconds; it is left out when the record has no
// usable @timestamp, and Splunk then stamps the event when it receives it.
// "host" and "index" are left out when not configured: Splunk then takes
// the token's defaults.

// errNotObject refuses a record that is not one JSON object.
var errNotObject = errors.New("not a JSON object")

// encoder turns records into request bodies.
type encoder struct {
	// meta is the envelope's fixed part, `"host":"...",...,` up to
	// "event"; it always holds source and sourcetype, so it ends in a comma.
	meta []byte
	// maxBody bounds each request body (uncompressed), in bytes.
	maxBody int
}

// newEncoder returns an encoder for the metadata of cfg, whose empty
// Source and Sourcetype must already be defaulted.
func newEncoder(host, source, sourcetype, index string, maxBody int) *encoder {
	var meta []byte
	field := func(name, v string) {
		if v == "" {
			return
		}
		meta = append(meta, '"')
		meta = append(meta, name...)
		meta = append(meta, `":`...)
		q, _ := json.Marshal(v) // a string always marshals
		meta = append(meta, q...)
		meta = append(meta, ',')
	}
	field("host", host)
	field("source", source)
	field("sourcetype", sourcetype)
	field("index", index)
	return &encoder{meta: meta, maxBody: maxBody}
}

// request is one request of an encoded batch: its body is
// body[start:end] and its records are the batch indices idx[from:to].
type request struct {
	start, end int
	from, to   int
}

// encoded is a batch made into request bodies. Its slices are scratch,
// reused by the next encode.
type encoded struct {
	body []byte    // every envelope, back to back
	idx  []int     // the batch index of each envelope in body, in order
	reqs []request // consecutive ranges of body, each at most maxBody bytes
	// refused lists the batch indices of records that cannot be sent: not
	// a JSON object, or too large for a request even alone.
	refused []int
	// refusal is why the first refused record was refused.
	refusal error
}

// encode makes batch into request bodies of at most e.maxBody bytes each,
// in batch order. Records that cannot be sent are listed in out.refused
// instead; the others keep their order.
func (e *encoder) encode(out *encoded, batch [][]byte) {
	*out = encoded{body: out.body[:0], idx: out.idx[:0], reqs: out.reqs[:0], refused: out.refused[:0]}
	cur := request{}
	for i, rec := range batch {
		start := len(out.body)
		var err error
		out.body, err = e.appendEvent(out.body, rec)
		if err == nil && len(out.body)-start > e.maxBody {
			err = fmt.Errorf("its event is %d bytes, more than the largest request (%d bytes)", len(out.body)-start, e.maxBody)
		}
		if err != nil {
			out.body = out.body[:start]
			out.refused = append(out.refused, i)
			if out.refusal == nil {
				out.refusal = fmt.Errorf("record %d: %w", i, err)
			}
			continue
		}
		if len(out.body)-cur.start > e.maxBody {
			// This event starts the next request.
			cur.end = start
			out.reqs = append(out.reqs, cur)
			cur = request{start: start, from: cur.to, to: cur.to}
		}
		out.idx = append(out.idx, i)
		cur.to++
	}
	if cur.to > cur.from {
		cur.end = len(out.body)
		out.reqs = append(out.reqs, cur)
	}
}

// appendEvent appends the envelope of one record to dst. A record that is
// not a JSON object is refused, and dst comes back unchanged.
func (e *encoder) appendEvent(dst, rec []byte) ([]byte, error) {
	rec = bytes.TrimSpace(rec)
	ts, err := timestamp(rec)
	if err != nil {
		return dst, err
	}
	dst = append(dst, '{')
	if ms := ts.UnixMilli(); ms > 0 {
		dst = append(dst, `"time":`...)
		dst = appendEpoch(dst, ms)
		dst = append(dst, ',')
	}
	dst = append(dst, e.meta...)
	dst = append(dst, `"event":`...)
	dst = append(dst, rec...)
	return append(dst, '}'), nil
}

// tsPrefix is how every record the extension makes begins.
const tsPrefix = `{"@timestamp":"`

// timestamp checks that rec is one JSON object and returns its
// @timestamp; the zero time when it has none that parses as RFC 3339.
//
// Records as the extension writes them (@timestamp first, a plain RFC 3339
// string) take a fast path that checks only their first and last bytes:
// they come from its own JSON encoder, through a CRC-checked spool, and a
// full validation would cost more than the rest of Write (5 µs a record,
// on a function's fraction of a CPU). Should one be malformed all the
// same, HEC names it (invalid-event-number) and only it is refused. Any
// other record is validated in full.
func timestamp(rec []byte) (time.Time, error) {
	if len(rec) == 0 || rec[0] != '{' || rec[len(rec)-1] != '}' {
		return time.Time{}, errNotObject
	}
	if bytes.HasPrefix(rec, []byte(tsPrefix)) {
		rest := rec[len(tsPrefix):]
		if end := bytes.IndexByte(rest, '"'); end >= 0 && bytes.IndexByte(rest[:end], '\\') < 0 {
			if t, err := time.Parse(time.RFC3339Nano, string(rest[:end])); err == nil {
				return t, nil
			}
		}
	}
	var r struct {
		Timestamp json.RawMessage `json:"@timestamp"`
	}
	if err := json.Unmarshal(rec, &r); err != nil {
		return time.Time{}, fmt.Errorf("%w: %w", errNotObject, err)
	}
	var s string
	if json.Unmarshal(r.Timestamp, &s) != nil {
		return time.Time{}, nil // absent, or not a string
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, nil
	}
	return t, nil
}

// appendEpoch appends ms, milliseconds since the Unix epoch (> 0), as
// seconds with three decimals: 1796109471322 is 1796109471.322.
func appendEpoch(dst []byte, ms int64) []byte {
	dst = strconv.AppendInt(dst, ms/1000, 10)
	frac := ms % 1000
	return append(dst, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}
