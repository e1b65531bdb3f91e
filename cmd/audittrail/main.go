// Command audittrail is the audittrail Lambda extension and its CLI.
//
// Run by Lambda from /opt/extensions/audittrail with no arguments, it is the
// extension. With a subcommand it is a CLI:
//
//	audittrail demo [--trail DIR]   run the whole pipeline in a local Lambda
//	audittrail normalize [...] FILE print the audit record of one Lambda event
//	audittrail verify [PATH ...]    check a trail for completeness and integrity
//	audittrail version              print version, commit and build date
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/audittrail/audittrail/extension"
	"github.com/audittrail/audittrail/internal/config"
	"github.com/audittrail/audittrail/internal/demo"
	"github.com/audittrail/audittrail/internal/lambdasim/samplefn"
	"github.com/audittrail/audittrail/internal/secrets"
	"github.com/audittrail/audittrail/schema"
	"github.com/audittrail/audittrail/sinks/elasticsearch"
)

// Set at build time with -ldflags "-X main.version=...".
var (
	version = "dev"
	commit  = "unknown"
	date    = "unknown"
)

const usage = `usage: audittrail [command]

With no command, runs as the Lambda extension (as Lambda does, from
/opt/extensions/audittrail).

Commands:
  demo [--trail DIR]   run the extension and a sample function in a local
                       Lambda, send a mix of requests, and summarize the trail
  normalize [--format native|ocsf] [--response FILE] [--error-type TYPE] [EVENT_FILE|-]
                       print the invocation record of one Lambda event (and
                       its response, or its error) as one JSON line
  verify [--json] [--key-file FILE] [PATH ...]
                       check trails for completeness and integrity: every
                       audit.seq present or accounted for by a coverage gap,
                       every hash and link intact. PATH is a file store
                       directory, a segment, an NDJSON file, or - (stdin).
                       A keyed chain (AUDITTRAIL_CHAIN_KEY) is checked with
                       the key from FILE or from AUDITTRAIL_CHAIN_KEY
  query [--from PATH]... [--since 24h|RFC3339] [--until ...] [--limit N]
        [--fields a,b,c] [--output table|json|ndjson] [FILTER [PATH ...]]
                       print the records matching FILTER (for example
                       'http.request.method=DELETE http.route=/users/*
                       http.response.status_code>=400'); the trail is every
                       --from PATH and PATH after the filter, else ./demo-trail
  elasticsearch-template [--print]
                       install the index template of the elasticsearch sink
                       (mappings for every field) in the cluster that
                       AUDITTRAIL_ELASTICSEARCH_* name, as the extension
                       would reach it; --print writes it out instead
  config check [--json]
                       print the configuration the extension would run with
                       (secrets masked) and every problem with it
  version              print version, commit and build date
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 {
		return runExtension(ctx, filepath.Base(args[0]), stdout, stderr)
	}
	switch args[1] {
	case "version", "--version":
		fmt.Fprintf(stdout, "audittrail %s (commit %s, built %s)\n", version, commit, date)
		return 0
	case "demo":
		fs := flag.NewFlagSet("demo", flag.ContinueOnError)
		fs.SetOutput(stderr)
		trail := fs.String("trail", "demo-trail", "directory of the demo's file store")
		if err := fs.Parse(args[2:]); err != nil {
			return 2
		}
		if err := demo.Run(ctx, demo.Options{TrailDir: *trail, Out: stdout}); err != nil {
			fmt.Fprintln(stderr, "demo:", err)
			return 1
		}
		return 0
	case "normalize":
		return runNormalize(args[2:], os.LookupEnv, os.Stdin, stdout, stderr)
	case "verify":
		return runVerify(ctx, args[2:], os.Stdin, stdout, stderr)
	case "query":
		return queryCommand(ctx, args[2:], time.Now(), os.Getenv, stdout, stderr)
	case "config":
		return runConfig(args[2:], os.LookupEnv, os.Environ(), stdout, stderr)
	case "elasticsearch-template":
		return runElasticsearchTemplate(ctx, args[2:], os.LookupEnv, stdout, stderr)
	case "demo-function":
		// The demo's sample function: a runtime speaking the Runtime API.
		return samplefn.Main(ctx, os.Getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "audittrail: unknown command %q\n\n%s", args[1], usage)
		return 2
	}
}

// maxEventBytes bounds what normalize reads: Lambda's payload limit.
const maxEventBytes = 6 << 20

// runNormalize prints the record of one event, exactly as the extension
// would make it from what its proxy saw.
func runNormalize(args []string, lookup func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("normalize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "native", "output format: native or ocsf")
	responseFile := fs.String("response", "", "file holding the function's response (or error body)")
	errorType := fs.String("error-type", "", "the error type the function reported, if it failed")
	stream := fs.Bool("stream", false, `read NDJSON lines {"time": RFC3339, "event": EVENT, "response": RESPONSE or null} (from FILE or stdin) and print their records in order, the detectors' state kept across lines`)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *format != "native" && *format != "ocsf" || fs.NArg() > 1 {
		fmt.Fprintln(stderr, "normalize: want --format native|ocsf and at most one EVENT_FILE")
		return 2
	}
	cfg, cfgErr := config.FromEnv(lookup)
	if cfgErr != nil {
		fmt.Fprintln(stderr, "normalize: configuration:", cfgErr)
	}
	if *stream {
		if *responseFile != "" || *errorType != "" {
			fmt.Fprintln(stderr, "normalize: --stream takes the response and error type from each line")
			return 2
		}
		r, done, err := openStream(fs.Arg(0), stdin)
		if err != nil {
			fmt.Fprintln(stderr, "normalize:", err)
			return 1
		}
		defer done()
		return normalizeStream(r, cfg, *format, stdout, stderr)
	}
	event, err := readInput(fs.Arg(0), stdin)
	if err != nil {
		fmt.Fprintln(stderr, "normalize:", err)
		return 1
	}
	x := schema.Exchange{Event: event, EventSize: int64(len(event)), ErrorType: *errorType}
	if *responseFile != "" {
		if x.Response, err = readInput(*responseFile, stdin); err != nil {
			fmt.Fprintln(stderr, "normalize: response:", err)
			return 1
		}
		x.ResponseSize = int64(len(x.Response))
	}
	line, err := json.Marshal(streamLine{Time: time.Now(), Event: event, Response: x.Response, ErrorType: x.ErrorType})
	if err != nil {
		fmt.Fprintln(stderr, "normalize:", err)
		return 1
	}
	return normalizeStream(bytes.NewReader(line), cfg, *format, stdout, stderr)
}

// readInput reads a JSON document from path ("" or "-": stdin).
func readInput(path string, stdin io.Reader) ([]byte, error) {
	r := stdin
	if path != "" && path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxEventBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxEventBytes {
		return nil, fmt.Errorf("%s: over Lambda's %d-byte payload limit", path, maxEventBytes)
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("%s: not valid JSON", displayName(path))
	}
	return data, nil
}

func displayName(path string) string {
	if path == "" || path == "-" {
		return "standard input"
	}
	return path
}

// runElasticsearchTemplate installs (or prints) the elasticsearch sink's
// index template.
func runElasticsearchTemplate(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("elasticsearch-template", flag.ContinueOnError)
	fs.SetOutput(stderr)
	print := fs.Bool("print", false, "print the component template's mappings instead of installing them")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *print {
		_, _ = stdout.Write(elasticsearch.Mappings())
		return 0
	}
	cfg, _ := config.FromEnv(lookup)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := extension.InstallElasticsearchTemplate(ctx, cfg, secrets.New(lookup)); err != nil {
		fmt.Fprintln(stderr, "elasticsearch-template:", err)
		return 1
	}
	fmt.Fprintf(stdout, "installed the component template %s and the index template %s\n", elasticsearch.ComponentTemplate, cfg.Elasticsearch.DataStream)
	return 0
}

// runExtension runs the Lambda extension until SHUTDOWN.
func runExtension(ctx context.Context, name string, stdout, stderr io.Writer) int {
	cfg, cfgErr := config.FromEnviron(os.LookupEnv, os.Environ())
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel})).
		With("logger", "audittrail")
	if cfgErr != nil {
		log.Error("configuration problems; using defaults for the affected options", "error", cfgErr)
	}
	opts := extension.Options{Config: cfg, Name: name, Stdout: stdout, Log: log, Secrets: secrets.New(os.LookupEnv), ConfigProblems: cfgErr}
	if err := extension.Run(ctx, opts); err != nil {
		log.Error("extension stopped", "error", err)
		return 1
	}
	return 0
}
