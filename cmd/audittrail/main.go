// Command audittrail is the audittrail Lambda extension and its CLI.
//
// Run by Lambda from /opt/extensions/audittrail with no arguments, it is the
// extension. With a subcommand it is a CLI:
//
//	audittrail demo [--trail DIR]   run the whole pipeline in a local Lambda
//	audittrail version              print version, commit and build date
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/audittrail/audittrail/extension"
	"github.com/audittrail/audittrail/internal/config"
	"github.com/audittrail/audittrail/internal/demo"
	"github.com/audittrail/audittrail/internal/lambdasim/samplefn"
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

// runExtension runs the Lambda extension until SHUTDOWN.
func runExtension(ctx context.Context, name string, stdout, stderr io.Writer) int {
	cfg, cfgErr := config.FromEnv(os.LookupEnv)
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel})).
		With("logger", "audittrail")
	if cfgErr != nil {
		log.Error("configuration problems; using defaults for the affected options", "error", cfgErr)
	}
	if err := extension.Run(ctx, extension.Options{Config: cfg, Name: name, Stdout: stdout, Log: log}); err != nil {
		log.Error("extension stopped", "error", err)
		return 1
	}
	return 0
}
