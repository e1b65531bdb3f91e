package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/audittrail/audittrail/query"
	"github.com/audittrail/audittrail/schema"
	"github.com/audittrail/audittrail/sinks/file"
)

const verifyUsage = `usage: audittrail verify [--json] [--key-file FILE] [--from SOURCE ...] [PATH ...]

Checks trails for completeness and integrity: every audit.seq present or
accounted for by a coverage gap, every hash and link intact. PATH is a file
store directory, a segment, an NDJSON file, or - (stdin, the default).
--from SOURCE reads the trail back from where it was delivered, as
audittrail query does (see audittrail query -h): a path, or a SIEM,
victorialogs+http://HOST:PORT, elasticsearch+https://HOST:9200[/INDEX],
splunk+https://HOST:8089, datadog+https://api.datadoghq.com, so that the
SIEM's copy of the trail is proven complete and unaltered. Records a SIEM
does not keep whole (VictoriaLogs, Datadog) are rebuilt to the schema's
types first; a SIEM that changed a record fails its hash.
Exits 0 when every environment verifies, 1 when one does not, 2 on a usage
or read error.

A keyed chain (audit.hash_alg hmac-sha256) is checked with its key: the raw
bytes of --key-file FILE (one trailing newline trimmed) or, without
--key-file, the value of the environment variable AUDITTRAIL_CHAIN_KEY.
With a key, every record must be keyed. Without one, keyed records have
their seqs and links checked, not their hashes, and verify says so.

Flags:
`

// maxKeyBytes bounds a key file: a key is a few dozen bytes.
const maxKeyBytes = 4 << 10

// runVerify checks trails for completeness and integrity; it exits 1 when
// any environment has an unaccounted gap or a broken chain.
func runVerify(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return verifyCommand(ctx, args, os.Getenv, stdin, stdout, stderr)
}

// verifyCommand is runVerify with the environment passed in.
func verifyCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), verifyUsage)
		fs.PrintDefaults()
	}
	asJSON := fs.Bool("json", false, "print the report as JSON")
	keyFile := fs.String("key-file", "", "`FILE` holding the chain key (default: $AUDITTRAIL_CHAIN_KEY)")
	var from []string
	fs.Func("from", "read the trail at `SOURCE`, a path or a SIEM (repeatable)", func(s string) error {
		from = append(from, s)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	paths := fs.Args()
	if len(paths) == 0 && len(from) == 0 {
		paths = []string{"-"}
	}
	key, err := chainKey(*keyFile, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "verify:", err)
		return 2
	}
	v := schema.NewVerifierWithKey(key)
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
	err = readTrails(ctx, from, query.Query{}, getenv, func(b backend, raw []byte, rec map[string]any) error {
		v.Add(unwrapUndelivered(verifiable(b, raw, rec)))
		return nil
	})
	if err != nil {
		fmt.Fprintln(stderr, "verify:", err)
		return 2
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

// chainKey returns the key of keyed chains: the contents of path, without
// one trailing newline, or else $AUDITTRAIL_CHAIN_KEY as it is (the
// extension reads that variable the same way); nil when there is neither.
func chainKey(path string, getenv func(string) string) ([]byte, error) {
	if path == "" {
		if k := getenv("AUDITTRAIL_CHAIN_KEY"); k != "" {
			return []byte(k), nil
		}
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	defer f.Close()
	key, err := io.ReadAll(io.LimitReader(f, maxKeyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if len(key) > maxKeyBytes {
		return nil, fmt.Errorf("key file %s: larger than %d bytes, not a key", path, maxKeyBytes)
	}
	if k, ok := bytes.CutSuffix(key, []byte("\n")); ok {
		key = bytes.TrimSuffix(k, []byte("\r")) // or a CRLF
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("key file %s is empty", path)
	}
	return key, nil
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
		if r.Records == 0 {
			fmt.Fprintf(w, "environment %s: no records, %s", r.EnvID, state)
		} else {
			fmt.Fprintf(w, "environment %s: %d records, seq 1..%d, %s", r.EnvID, r.Records, r.LastSeq, state)
		}
		if r.HashAlg == schema.HashAlgHMACSHA256 {
			fmt.Fprint(w, ", keyed chain")
		}
		if r.Duplicates > 0 {
			fmt.Fprintf(w, ", %d duplicates", r.Duplicates)
		}
		fmt.Fprintln(w)
		if r.HashesUnchecked > 0 {
			fmt.Fprintf(w, "  keyed chain: hashes not checked without the key (%d records; seqs and links checked)\n", r.HashesUnchecked)
		}
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
