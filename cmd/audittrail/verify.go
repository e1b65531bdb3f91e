package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/audittrail/audittrail/schema"
	"github.com/audittrail/audittrail/sinks/file"
)

// runVerify checks trails for completeness and integrity; it exits 1 when
// any environment has an unaccounted gap or a broken chain.
func runVerify(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"-"}
	}
	v := schema.NewVerifier()
	add := func(line []byte) error {
		v.Add(unwrapUndelivered(line))
		return nil
	}
	for _, p := range paths {
		if err := readTrail(p, stdin, add); err != nil {
			fmt.Fprintln(stderr, "verify:", err)
			return 2
		}
	}
	reports := v.Report()
	ok := true
	for _, r := range reports {
		ok = ok && r.OK()
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"ok": ok, "environments": reports, "invalid_lines": v.Invalid})
	} else {
		printVerify(stdout, reports, v.Invalid, ok)
	}
	if !ok {
		return 1
	}
	return 0
}

// readTrail feeds every record of path to fn: a file store directory, a
// segment (.ndjson.zst), an NDJSON file, or "-" for standard input.
func readTrail(path string, stdin io.Reader, fn func([]byte) error) error {
	if path == "-" {
		return scanLines(stdin, fn)
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	switch {
	case info.IsDir():
		return file.Scan(path, fn)
	case strings.HasSuffix(path, file.Extension):
		return file.ScanSegment(path, fn)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return scanLines(f, fn)
}

func scanLines(r io.Reader, fn func([]byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	for sc.Scan() {
		if line := sc.Bytes(); len(strings.TrimSpace(string(line))) > 0 {
			if err := fn(line); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}

// unwrapUndelivered returns the record of a line the extension wrote to
// stdout when it could not deliver it, or the line itself.
func unwrapUndelivered(line []byte) []byte {
	var w struct {
		Reason string          `json:"audittrail.undelivered"`
		Record json.RawMessage `json:"record"`
	}
	if json.Unmarshal(line, &w) == nil && w.Reason != "" && len(w.Record) > 0 {
		return w.Record
	}
	return line
}

func printVerify(w io.Writer, reports []schema.EnvReport, invalid int, ok bool) {
	for _, r := range reports {
		state := "open (no shutdown record yet)"
		if r.Closed {
			state = "closed"
		}
		fmt.Fprintf(w, "environment %s: %d records, seq 1..%d, %s", r.EnvID, r.Records, r.LastSeq, state)
		if r.Duplicates > 0 {
			fmt.Fprintf(w, ", %d duplicates", r.Duplicates)
		}
		fmt.Fprintln(w)
		for _, g := range r.Accounted {
			fmt.Fprintf(w, "  missing seq %d-%d, accounted for by a coverage gap\n", g.From, g.To)
		}
		for _, g := range r.Unaccounted {
			fmt.Fprintf(w, "  MISSING seq %d-%d, unaccounted\n", g.From, g.To)
		}
		for _, b := range r.Breaks {
			fmt.Fprintf(w, "  BROKEN chain at seq %d: %s\n", b.Seq, b.Reason)
		}
	}
	if invalid > 0 {
		fmt.Fprintf(w, "%d lines were not audit records\n", invalid)
	}
	verdict := "complete and unaltered"
	if !ok {
		verdict = "NOT complete or NOT unaltered"
	}
	fmt.Fprintf(w, "verify: %d environment(s), %s\n", len(reports), verdict)
}
