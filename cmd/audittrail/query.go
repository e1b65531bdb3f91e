package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/audittrail/audittrail/query"
)

const queryUsage = `usage: audittrail query [flags] [FILTER [PATH ...]]

Prints the records of a trail that match FILTER: conditions FIELD OP VALUE,
separated by spaces, all of which must hold. OP is = != > >= < <=; a * in
a value matches any run of characters (= and != only); > >= < <= compare
numbers or RFC 3339 times; quote a value holding spaces with "double
quotes" (\" and \\ inside). A missing field never matches =, and always
matches !=. No FILTER (or '') matches every record. For example:

  audittrail query 'http.request.method=DELETE http.response.status_code>=400'
  audittrail query --since 24h --output ndjson 'user.id=user-*' other-trail/

The trail is read from every --from PATH and every PATH after the filter:
a file store directory, a segment (.ndjson.zst) or an NDJSON file (the
extension's stdout included), or a VictoriaLogs server as
victorialogs+http://HOST:PORT (or https), which runs the filter itself
and returns every value as a string. Without either, ./demo-trail is
read if it exists. Flags come before FILTER.

With --explain it reads no trail and prints the filter in the query
language of each SIEM instead, to paste into its search:

  audittrail query --explain --since 24h 'http.request.method=DELETE http.route=/users/*'

Exits 0 with or without matches, 2 on a usage or filter error, 1 when a
trail cannot be read.

Flags:
`

// queryCommand runs `audittrail query` with the clock passed in.
func queryCommand(ctx context.Context, args []string, now time.Time, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), queryUsage)
		fs.PrintDefaults()
	}
	var from []string
	fs.Func("from", "read the trail at `PATH` (repeatable; default ./demo-trail)", func(s string) error {
		from = append(from, s)
		return nil
	})
	since := fs.String("since", "", "only records at or after `WHEN`: a duration back from now (24h, 90m) or an RFC 3339 time")
	until := fs.String("until", "", "only records before `WHEN` (as --since)")
	limit := fs.Int("limit", 0, "print the newest `N` records (0: all)")
	fields := fs.String("fields", strings.Join(query.DefaultFields, ","), "the table's columns, comma-separated")
	output := fs.String("output", query.FormatTable, "`FORMAT`: table, json (one array) or ndjson (the records as stored)")
	explain := fs.Bool("explain", false, "print the filter in each SIEM's language (VictoriaLogs LogsQL, Elasticsearch query DSL, Splunk SPL, Datadog log search), to paste into its UI, instead of reading a trail")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(err error) int {
		fmt.Fprintln(stderr, "query:", err)
		return 2
	}
	var q query.Query
	var err error
	if q.Conds, err = query.Parse(fs.Arg(0)); err != nil {
		return usageErr(err)
	}
	if q.Since, err = parseWhen(*since, now); err != nil {
		return usageErr(fmt.Errorf("--since: %w", err))
	}
	if q.Until, err = parseWhen(*until, now); err != nil {
		return usageErr(fmt.Errorf("--until: %w", err))
	}
	if *limit < 0 {
		return usageErr(errors.New("--limit must not be negative"))
	}
	q.Limit = *limit
	if *explain {
		return explainQuery(q, stdout, stderr)
	}
	cols, err := query.ParseFields(*fields)
	if err != nil {
		return usageErr(err)
	}
	out, err := query.NewOutput(stdout, *output, cols)
	if err != nil {
		return usageErr(err)
	}
	paths := append(from, fs.Args()[min(1, fs.NArg()):]...)
	if len(paths) == 0 {
		if _, err := os.Stat("demo-trail"); err != nil {
			return usageErr(errors.New("no trail to read: name one with --from PATH (./demo-trail does not exist)"))
		}
		paths = []string{"demo-trail"}
	}
	scanErr := scanTrails(ctx, paths, q, getenv, out.Add)
	if err := out.Close(); err != nil && scanErr == nil {
		scanErr = err
	}
	if scanErr != nil {
		fmt.Fprintln(stderr, "query:", scanErr)
		return 1
	}
	return 0
}

// scanTrails calls add for the matches of every path: the file paths
// first, then each SIEM (see backends), stopping once q.Limit records have
// been added in all. With a limit, the files give their newest matches,
// as the SIEMs do (they are read whole to find them, keeping q.Limit
// records in memory), in the order they were written.
func scanTrails(ctx context.Context, paths []string, q query.Query, getenv func(string) string, add func([]byte, map[string]any) error) error {
	var files, remotes []string
	for _, p := range paths {
		if _, _, ok, _ := backendOf(p, getenv); ok {
			remotes = append(remotes, p)
		} else {
			files = append(files, p)
		}
	}
	n := 0
	if len(files) > 0 {
		all := q
		all.Limit = 0
		newest := make([]heldRecord, 0, max(q.Limit, 0))
		err := readTrails(ctx, files, all, getenv, func(_ backend, raw []byte, rec map[string]any) error {
			if q.Limit == 0 {
				n++
				return add(raw, rec)
			}
			if len(newest) == q.Limit {
				newest = append(newest[:0], newest[1:]...)
			}
			newest = append(newest, heldRecord{bytes.Clone(raw), rec})
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range newest {
			n++
			if err := add(r.raw, r.rec); err != nil {
				return err
			}
		}
	}
	errLimit := errors.New("limit reached")
	err := readTrails(ctx, remotes, q, getenv, func(_ backend, raw []byte, rec map[string]any) error {
		if q.Limit > 0 && n >= q.Limit {
			return errLimit
		}
		n++
		return add(raw, rec)
	})
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}

// heldRecord is a match kept for later: its JSON and its decoded form.
type heldRecord struct {
	raw []byte
	rec map[string]any
}

// readTrails calls fn for the matches of every path, the file paths
// first, then each SIEM, in the order given; fn learns which backend a
// record came from (the zero backend for files).
func readTrails(ctx context.Context, paths []string, q query.Query, getenv func(string) string, fn func(b backend, raw []byte, rec map[string]any) error) error {
	var files []string
	type remote struct {
		b   backend
		src query.Source
	}
	var remotes []remote
	for _, p := range paths {
		b, src, ok, err := backendOf(p, getenv)
		switch {
		case err != nil:
			return err
		case ok:
			remotes = append(remotes, remote{b, src})
		default:
			files = append(files, p)
		}
	}
	if len(files) > 0 {
		err := query.ScanFiles(ctx, files, q, func(raw []byte, rec map[string]any) error { return fn(backend{}, raw, rec) })
		if err != nil {
			return err
		}
	}
	for _, r := range remotes {
		err := r.b.scan(ctx, r.src, q, nil, func(raw []byte, rec map[string]any) error { return fn(r.b, raw, rec) })
		if err != nil {
			return err
		}
	}
	return nil
}

// parseWhen reads a time bound: "" (none), a duration back from now, or an
// RFC 3339 time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: want a positive duration", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if _, err := strconv.Atoi(s); err == nil {
		return time.Time{}, fmt.Errorf("%q: a duration needs a unit (24h, 90m)", s)
	}
	return time.Time{}, fmt.Errorf("%q: want a duration (24h) or an RFC 3339 time (2026-11-22T10:00:00Z)", s)
}

// explainQuery prints q compiled to each SIEM's query language.
func explainQuery(q query.Query, stdout, stderr io.Writer) int {
	dsl, err := query.ElasticsearchDSL(q)
	if err != nil {
		fmt.Fprintln(stderr, "query:", err)
		return 2
	}
	dd, from, to := query.DatadogQuery(q)
	fmt.Fprintf(stdout, "VictoriaLogs (LogsQL):\n  %s\n", query.LogsQL(q))
	fmt.Fprintf(stdout, "Elasticsearch / OpenSearch (POST <data stream>/_search):\n  %s\n", dsl)
	fmt.Fprintf(stdout, "Splunk (after index=<index> sourcetype=audittrail):\n  %s\n", query.SPL(q))
	fmt.Fprintf(stdout, "Datadog (Logs Search, source:audittrail):\n  %s\n", dd)
	if from != "" || to != "" {
		fmt.Fprintf(stdout, "  from %s to %s\n", cmp.Or(from, "the start"), cmp.Or(to, "now"))
	}
	return 0
}
