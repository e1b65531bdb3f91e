package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/audittrail/audittrail/extension"
	"github.com/audittrail/audittrail/internal/config"
	"github.com/audittrail/audittrail/schema"
)

// streamLine is one exchange of `audittrail normalize --stream`.
type streamLine struct {
	// Time is when the request arrived (RFC 3339): the record's
	// @timestamp, and the clock of the detectors' windows.
	Time time.Time `json:"time"`
	// Event is the Lambda event; Response the function's result (null or
	// absent: none seen).
	Event    json.RawMessage `json:"event"`
	Response json.RawMessage `json:"response"`
	// ErrorType, when set, says the function failed with this error type
	// (Response then holds the error body).
	ErrorType string `json:"error_type"`
	// DurationMs, when set, is the invocation's duration (anomaly's
	// latency baseline reads it).
	DurationMs *float64 `json:"duration_ms"`
}

// normalizeStream prints the records of each NDJSON line of r, in order,
// through the detectors the configuration names (the extension's, kept
// across lines), with a security_finding record after each invocation
// with findings when finding records are on. A line that cannot be read
// is reported on stderr with its number and skipped; the exit code is 1
// when any was.
func normalizeStream(r io.Reader, cfg config.Config, format string, stdout, stderr io.Writer) int {
	var inspector schema.Inspector
	if cfg.Detect.On {
		d, err := extension.NewDetectors(cfg.Detect)
		if err != nil {
			fmt.Fprintln(stderr, "normalize:", err)
		}
		if d != nil {
			inspector = d
		}
	}
	env := schema.Environment{EnvID: "normalize", Redaction: cfg.Redaction}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	emit := func(rec *schema.Record) error {
		if format == "ocsf" {
			return enc.Encode(schema.OCSF(rec, version))
		}
		return enc.Encode(rec)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventBytes*2)
	status, n := 0, 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		rec, err := streamRecord(line, n, env, inspector)
		if err != nil {
			fmt.Fprintf(stderr, "normalize: line %d: %v\n", n, err)
			status = 1
			continue
		}
		recs := []schema.Record{rec}
		if cfg.Detect.FindingRecords {
			recs = append(recs, schema.FindingRecords(&rec)...)
		}
		for i := range recs {
			if err := emit(&recs[i]); err != nil {
				fmt.Fprintln(stderr, "normalize:", err)
				return 1
			}
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(stderr, "normalize: after line %d: %v\n", n, err)
		return 1
	}
	return status
}

// maxDurationMs bounds a line's duration_ms: Lambda's 15-minute timeout.
const maxDurationMs = 15 * 60 * 1000

// streamRecord makes the record of line number n.
func streamRecord(line []byte, n int, env schema.Environment, inspector schema.Inspector) (schema.Record, error) {
	var l streamLine
	if err := json.Unmarshal(line, &l); err != nil {
		return schema.Record{}, fmt.Errorf("not a JSON object of time, event, response: %w", err)
	}
	if len(l.Event) == 0 {
		return schema.Record{}, errors.New(`no "event"`)
	}
	if l.Time.IsZero() {
		return schema.Record{}, errors.New(`no "time" (RFC 3339)`)
	}
	x := schema.Exchange{Event: l.Event, EventSize: int64(len(l.Event)), ErrorType: l.ErrorType}
	if len(l.Response) > 0 && !bytes.Equal(l.Response, []byte("null")) {
		x.Response, x.ResponseSize = l.Response, int64(len(l.Response))
	}
	// The same event on two lines is two requests: the line number makes
	// their ids differ, and the same input always gives the same ids.
	id := schema.RecordID(fmt.Sprintf("%d\n%s", n, l.Event))
	rec := schema.InvocationRecord(env, id, x, l.Time.UTC())
	if l.DurationMs != nil && (*l.DurationMs < 0 || *l.DurationMs > maxDurationMs) {
		return schema.Record{}, fmt.Errorf("duration_ms %g: want 0 to %d", *l.DurationMs, maxDurationMs)
	}
	if l.DurationMs != nil {
		rec.AWS = &schema.AWS{Lambda: &schema.Lambda{DurationMs: l.DurationMs}}
		ns := int64(*l.DurationMs * 1e6)
		rec.Event.Duration = &ns
	}
	if inspector != nil {
		inspector.Exchange(&rec, x, nil)
		inspector.Finished(&rec)
	}
	return rec, nil
}

// openStream opens the input of --stream ("" or "-": stdin).
func openStream(path string, stdin io.Reader) (io.Reader, func(), error) {
	if path == "" || path == "-" {
		return stdin, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}
