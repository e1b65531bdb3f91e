package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// DefaultFields are the table's columns unless others are asked for.
var DefaultFields = []string{
	"@timestamp", "event.action", "http.request.method", "http.route",
	"http.response.status_code", "user.id", "client.address", "event.outcome",
}

// The output formats.
const (
	// FormatTable is aligned columns for people.
	FormatTable = "table"
	// FormatJSON is one JSON array of the records.
	FormatJSON = "json"
	// FormatNDJSON is the records as they are stored, one a line.
	FormatNDJSON = "ndjson"
)

// Output writes matching records in one format. Call Add for each record
// and Close once at the end (the table is only written then, to align it).
type Output interface {
	Add(raw []byte, rec map[string]any) error
	Close() error
}

// NewOutput returns an Output writing format (FormatTable, FormatJSON or
// FormatNDJSON) to w. fields are the table's columns (nil:
// DefaultFields); the other formats write whole records.
func NewOutput(w io.Writer, format string, fields []string) (Output, error) {
	switch format {
	case FormatTable, "":
		if len(fields) == 0 {
			fields = DefaultFields
		}
		return &tableOutput{w: w, fields: fields}, nil
	case FormatJSON:
		return &jsonOutput{w: w}, nil
	case FormatNDJSON:
		return &ndjsonOutput{w: w}, nil
	}
	return nil, fmt.Errorf("query: unknown output %q (want table, json or ndjson)", format)
}

// ParseFields reads a comma-separated list of field names.
func ParseFields(list string) ([]string, error) {
	var fields []string
	for f := range strings.SplitSeq(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		for i := 0; i < len(f); i++ {
			if !isFieldByte(f[i]) {
				return nil, fmt.Errorf("query: field %q: only a-z 0-9 _ . @ - may name a field", f)
			}
		}
		fields = append(fields, f)
	}
	if len(fields) == 0 {
		return nil, errors.New("query: no fields listed")
	}
	return fields, nil
}

type ndjsonOutput struct{ w io.Writer }

func (o *ndjsonOutput) Add(raw []byte, _ map[string]any) error {
	if _, err := o.w.Write(raw); err != nil {
		return err
	}
	_, err := io.WriteString(o.w, "\n")
	return err
}

func (o *ndjsonOutput) Close() error { return nil }

// jsonOutput streams the records as one array.
type jsonOutput struct {
	w io.Writer
	n int
}

func (o *jsonOutput) Add(raw []byte, _ map[string]any) error {
	sep := ",\n"
	if o.n == 0 {
		sep = "[\n"
	}
	o.n++
	if _, err := io.WriteString(o.w, sep); err != nil {
		return err
	}
	_, err := o.w.Write(raw)
	return err
}

func (o *jsonOutput) Close() error {
	end := "\n]\n"
	if o.n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(o.w, end)
	return err
}

// tableOutput keeps the cells until Close aligns them.
type tableOutput struct {
	w      io.Writer
	fields []string
	rows   [][]string
}

func (o *tableOutput) Add(_ []byte, rec map[string]any) error {
	row := make([]string, len(o.fields))
	for i, f := range o.fields {
		row[i] = cellText(rec, f)
	}
	o.rows = append(o.rows, row)
	return nil
}

func (o *tableOutput) Close() error {
	if len(o.rows) == 0 {
		_, err := io.WriteString(o.w, "no matching records\n")
		return err
	}
	tw := tabwriter.NewWriter(o.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(o.fields, "\t"))
	for _, r := range o.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// cellText is a field's value as one table cell: "-" when missing, the
// elements of an array joined with ",", control characters (a record may
// carry what a caller sent) shown as "?".
func cellText(rec map[string]any, field string) string {
	var vals []string
	fieldValues(rec, field, func(v any) bool {
		if text, _, _, ok := scalarText(v); ok {
			vals = append(vals, text)
		} else if v == nil {
			vals = append(vals, "null")
		}
		return true
	})
	if len(vals) == 0 {
		if v, ok := fieldObject(rec, field); ok {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			if enc.Encode(v) == nil {
				vals = append(vals, strings.TrimSpace(b.String()))
			}
		}
	}
	if len(vals) == 0 {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return '?'
		}
		return r
	}, strings.Join(vals, ","))
}

// fieldObject finds a field whose value is an object (such as
// http.request.header), which fieldValues passes over.
func fieldObject(rec map[string]any, field string) (any, bool) {
	var cur any = rec
	for part := range strings.SplitSeq(field, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	_, isObj := cur.(map[string]any)
	return cur, isObj
}
