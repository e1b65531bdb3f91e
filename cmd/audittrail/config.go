package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/audittrail/audittrail/internal/config"
)

const configUsage = `usage: audittrail config check [--json]

Reads the environment exactly as the extension does and prints the
configuration it would run with (secrets only as where they come from:
[REDACTED], secretsmanager:<arn> or ssm:<name>), then every problem: bad
values (replaced by their defaults), disabled sinks and the variable to fix,
unknown AUDITTRAIL_* variables (with the closest known name), conflicting
or unused settings. Run it with the function's environment, e.g.
env -i AUDITTRAIL_SINKS=splunk ... audittrail config check.

Exits 0 when there is no error (warnings allowed), 1 when there is one,
2 on bad usage.

Flags:
`

// runConfig runs `audittrail config SUBCOMMAND`: check is the only one.
// lookup and environ are the environment (os.LookupEnv, os.Environ()).
func runConfig(args []string, lookup func(string) (string, bool), environ []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), configUsage)
		fs.PrintDefaults()
	}
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if len(args) == 0 || args[0] != "check" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0
		}
		fs.Usage()
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "config check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	r := config.Check(lookup, environ)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(stderr, "config check:", err)
			return 1
		}
	} else if err := printConfig(stdout, r); err != nil {
		fmt.Fprintln(stderr, "config check:", err)
		return 1
	}
	if r.Errors > 0 {
		return 1
	}
	return 0
}

// row is one line of the text report: a key (indented by its depth) and
// its value, or the heading of the rows below.
type row struct {
	depth      int
	key, value string
	heading    bool
}

// printConfig writes the report for people: the configuration as an
// aligned block, then the problems.
func printConfig(w io.Writer, r config.Report) error {
	rows := configRows(r.Config)
	width := 0
	for _, rw := range rows {
		width = max(width, 2*rw.depth+len(rw.key))
	}
	var b strings.Builder
	for _, rw := range rows {
		key := strings.Repeat("  ", rw.depth) + rw.key
		if rw.heading {
			b.WriteString(key + "\n")
			continue
		}
		fmt.Fprintf(&b, "%-*s  %s\n", width, key, orDash(rw.value))
	}
	b.WriteString("\n")
	switch {
	case len(r.Problems) == 0:
		b.WriteString("no problems\n")
	default:
		fmt.Fprintf(&b, "problems: %s, %s\n", count(r.Errors, "error"), count(r.Warnings, "warning"))
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "  %-7s  %s\n", p.Severity, p.Message)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func configRows(c config.Effective) []row {
	top := func(key, value string) row { return row{depth: 0, key: key, value: value} }
	sub := func(key, value string) row { return row{depth: 1, key: key, value: value} }
	section := func(key string) row { return row{key: key, heading: true} }
	rows := []row{
		section("lambda"),
		sub("function", c.FunctionName),
		sub("region", c.Region),
		sub("mode", choose(c.ManagedInstances, "managed instances", "standard")),
	}
	var names []string
	for _, s := range c.Sinks {
		names = append(names, s.Name)
	}
	rows = append(rows, top("sinks", strings.Join(names, ", ")))
	if len(c.DisabledSinks) > 0 {
		rows = append(rows, top("disabled sinks", strings.Join(c.DisabledSinks, ", ")+" (see the problems below)"))
	}
	for _, s := range c.Sinks {
		if len(s.Settings) == 0 {
			continue
		}
		rows = append(rows, section("sink "+s.Name))
		for _, kv := range s.Settings {
			rows = append(rows, sub(strings.ReplaceAll(kv.Key, "_", " "), kv.Value))
		}
	}
	rows = append(rows,
		section("delivery"),
		sub("flush", c.Flush),
		sub("flush budget", c.FlushBudget),
		sub("queue", byteCount(int64(c.QueueBytes))+" per sink"),
	)
	if c.SpoolBytes == 0 {
		rows = append(rows, sub("spool", "off (AUDITTRAIL_SPOOL_BYTES=0)"))
	} else {
		rows = append(rows, sub("spool dir", c.SpoolDir), sub("spool bytes", byteCount(c.SpoolBytes)))
	}
	rows = append(rows,
		top("telemetry types", strings.Join(c.TelemetryTypes, ", ")),
		section("capture"),
		sub("proxy", choose(c.Proxy, "on", "off (records from telemetry only)")),
	)
	if c.Proxy {
		rows = append(rows,
			sub("capture bytes", byteCount(int64(c.CaptureBytes))+" of each event and response"),
			sub("upstream", choose(c.Upstream == "", "Lambda's Runtime API", c.Upstream)))
	}
	rows = append(rows, section("detectors"))
	if len(c.Detectors) == 0 {
		rows = append(rows, sub("on", "none (AUDITTRAIL_DETECT=off)"))
	} else {
		rows = append(rows,
			sub("on", strings.Join(c.Detectors, ", ")),
			sub("expected sources", choose(len(c.ExpectedSources) == 0, "any (Function URLs without auth reported)", strings.Join(c.ExpectedSources, ", "))),
			sub("openapi spec", choose(c.OpenAPISpec == "", "none (undocumented_route off)", c.OpenAPISpec)),
			sub("finding records", choose(c.FindingRecords, "on", "off")))
	}
	pseudonyms := map[string]string{
		"off":    "off",
		"on":     "on, key " + c.PseudonymKey,
		"redact": "identities redacted (no usable key)",
	}[c.Pseudonyms]
	chain := c.Chain
	if c.Chain == config.ChainKeyed {
		chain += ", key " + c.ChainKey
		if strings.HasPrefix(c.ChainKey, "secretsmanager:") {
			chain += " (plain sha256 if it cannot be fetched)"
		}
	}
	rows = append(rows,
		section("redaction"),
		sub("redact query", besides(c.RedactQuery, "the built-in names")),
		sub("allow query", strings.Join(c.AllowQuery, ", ")),
		sub("record headers", besides(c.RecordHeaders, "x-forwarded-for")),
		sub("pseudonyms", pseudonyms),
		top("chain", chain),
		top("ca bundle", choose(c.CABundle == "", "system CAs only", c.CABundle)),
		top("log level", c.LogLevel),
	)
	return rows
}

func choose(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// besides lists names added to what is always there.
func besides(names []string, always string) string {
	if len(names) == 0 {
		return always + " only"
	}
	return strings.Join(names, ", ") + ", besides " + always
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// byteCount prints n bytes, and in KiB, MiB or GiB when that is shorter.
func byteCount(n int64) string {
	s := strconv.FormatInt(n, 10) + " bytes"
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size {
			v := strconv.FormatFloat(float64(n)/float64(u.size), 'f', 1, 64)
			return s + " (" + strings.TrimSuffix(v, ".0") + " " + u.name + ")"
		}
	}
	return s
}
