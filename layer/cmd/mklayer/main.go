// Command mklayer writes audittrail's Lambda layer zip for one
// architecture, from a binary built for it; `make layer` runs it once per
// architecture:
//
//	go run ./layer/cmd/mklayer -arch amd64 -binary bin/audittrail-linux-amd64 \
//	    -date 2025-03-14T15:09:27+01:00 -out dist/audittrail-layer-x86_64.zip
//
// It checks that the binary is a static Linux executable for -arch, writes
// the zip with layer.WriteZip (entries stamped with -date, the last
// commit's date, so the same commit gives the same bytes), and prints its
// size. It fails, leaving no zip behind, when the zip would reach
// layer.MaxZipBytes.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/audittrail/audittrail/layer"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its arguments and outputs passed in; it returns the
// exit code: 0 written, 1 failed, 2 usage error.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mklayer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	arch := fs.String("arch", "", "Go architecture of the binary: amd64 or arm64")
	binary := fs.String("binary", "", "the static audittrail binary built for -arch")
	date := fs.String("date", "", `modification time of every entry, RFC 3339 (the last commit's date); "" or "unknown": 1980-01-01`)
	out := fs.String("out", "", "the zip to write (default dist/audittrail-layer-<x86_64|arm64>.zip)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *arch == "" || *binary == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: mklayer -arch amd64|arm64 -binary FILE [-date RFC3339] [-out FILE]")
		return 2
	}
	name, err := layer.ZipName(*arch)
	if err != nil {
		fmt.Fprintln(stderr, "mklayer:", err)
		return 2
	}
	if *out == "" {
		*out = filepath.Join("dist", name)
	}
	size, err := build(*arch, *binary, *date, *out)
	if err != nil {
		// A zip left from an earlier run would pass for this build's.
		if rerr := os.Remove(*out); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			fmt.Fprintln(stderr, "mklayer:", rerr)
		}
		fmt.Fprintf(stderr, "mklayer: %s: %v\n", *out, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %d bytes (%.2f MiB; the budget is under %d MiB)\n", *out, size, float64(size)/(1<<20), layer.MaxZipBytes>>20)
	return 0
}

// build writes the layer zip of binaryPath for arch to out and returns its
// size.
func build(arch, binaryPath, date, out string) (int, error) {
	modTime, err := parseDate(date)
	if err != nil {
		return 0, err
	}
	bin, err := os.ReadFile(binaryPath)
	if err != nil {
		return 0, fmt.Errorf("reading the binary: %w", err)
	}
	if err := layer.CheckBinary(bin, arch); err != nil {
		return 0, fmt.Errorf("%s: %w", binaryPath, err)
	}
	var zip bytes.Buffer
	if err := layer.WriteZip(&zip, bin, modTime); err != nil {
		return 0, err
	}
	if err := writeFile(out, zip.Bytes()); err != nil {
		return 0, fmt.Errorf("writing the zip: %w", err)
	}
	return zip.Len(), nil
}

// parseDate reads -date. Without a commit date (the Makefile passes
// "unknown" outside a git checkout) it is the earliest time a zip can
// carry, 1980-01-01.
func parseDate(s string) (time.Time, error) {
	if s == "" || s == "unknown" {
		return time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("-date %q is not RFC 3339 (git log -1 --format=%%cI): %w", s, err)
	}
	return t, nil
}

// writeFile writes data to path through a temporary file in the same
// directory, so path is never a partial zip.
func writeFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".mklayer-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
