// Package peers runs real third-party receivers ("peers") for tests, so that
// the sinks are tested against the servers they will talk to in production
// rather than against hand-written fakes:
//
//   - Collector: an OpenTelemetry Collector with the OTLP (HTTP and gRPC) and
//     Splunk HEC receivers, whose file exporters let a test read back every
//     log record that arrived.
//   - VictoriaLogs: Elasticsearch _bulk, Datadog logs v2 and OTLP/HTTP
//     ingestion, read back with LogsQL.
//   - Toxiproxy: a TCP proxy that injects network faults (latency, stalls,
//     resets, outages) between a sink and any peer.
//
// `make peers` builds the binaries once from Go modules at pinned versions
// (build/versions.env) into a cache outside the repository; see Dir. Each
// constructor starts a fresh process listening on free ports of 127.0.0.1,
// waits until it reports healthy, and stops it when the test ends. A
// process's output goes to a log file under t.TempDir(), printed when the
// test fails. A peer that was not built fails the test: tests never skip.
//
// What the peers do not do like the real services (details in
// /work/shared/research/peers.md):
//
//   - HEC: a missing or wrong token is 401 with a plain-text body (Splunk:
//     401 code 2 / 403 code 4, JSON); only the "Splunk" scheme is accepted;
//     the health endpoint needs the token too; a request without a channel
//     succeeds even with acks on; an ack is true as soon as the request was
//     answered, and is reported once.
//   - VictoriaLogs _bulk always answers errors:false (no per-item errors, no
//     per-item 429); a bad line or action ends the request with 200 and an
//     empty body, the lines after it dropped; a form Content-Type stores
//     nothing. The only real 429 is the read-only storage (SetReadOnly).
//   - An open OTLP/gRPC client connection delays the collector's stop by
//     about a second; close clients before the test ends.
package peers

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// DirEnv names the environment variable that overrides the peers cache
// directory ($HOME/.cache/audittrail-peers by default). The build script
// honours it too.
const DirEnv = "AUDITTRAIL_PEERS_DIR"

// versionsEnv holds the pinned versions, shared with build/peers.sh.
//
//go:embed build/versions.env
var versionsEnv string

// versions are the pinned versions of the peers.
type versions struct {
	otelcol         string // ocb and the collector components
	victoriaMetrics string // the VictoriaMetrics module holding VictoriaLogs
	toxiproxy       string
}

// parseVersions reads KEY=value lines (comments and blank lines ignored) and
// requires every version the package needs.
func parseVersions(text string) (versions, error) {
	vals := map[string]string{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok || key == "" || val == "" {
			return versions{}, fmt.Errorf("versions.env line %d: want KEY=value, got %q", i+1, line)
		}
		vals[key] = val
	}
	v := versions{
		otelcol:         vals["OTELCOL_VERSION"],
		victoriaMetrics: vals["VICTORIAMETRICS_VERSION"],
		toxiproxy:       vals["TOXIPROXY_VERSION"],
	}
	if v.otelcol == "" || v.victoriaMetrics == "" || v.toxiproxy == "" {
		return versions{}, errors.New("versions.env: OTELCOL_VERSION, VICTORIAMETRICS_VERSION and TOXIPROXY_VERSION are all required")
	}
	return v, nil
}

// Dir returns the directory that `make peers` builds the peers into: the
// value of $AUDITTRAIL_PEERS_DIR, or $HOME/.cache/audittrail-peers. It fails
// the test, telling to run `make peers`, when the directory does not exist.
func Dir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(DirEnv)
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatalf("peers: no home directory for the peers cache (set %s): %v", DirEnv, err)
		}
		dir = filepath.Join(home, ".cache", "audittrail-peers")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("peers: %v: run `make peers` to build the test peers", err)
	}
	return dir
}

// peerBinary returns the path of the built peer binary name, which peers.sh puts
// in Dir/<peer>-<version>/, or fails the test telling to run `make peers`.
func peerBinary(t testing.TB, peer, version, name string) string {
	t.Helper()
	path := filepath.Join(Dir(t), peer+"-"+version, name)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("peers: %s %s is not built (%v): run `make peers`", peer, version, err)
	}
	if info.Mode()&0o111 == 0 {
		t.Fatalf("peers: %s is not executable: run `make peers`", path)
	}
	return path
}

// pinned returns the pinned versions, failing the test if the embedded
// versions file is broken.
func pinned(t testing.TB) versions {
	t.Helper()
	v, err := parseVersions(versionsEnv)
	if err != nil {
		t.Fatalf("peers: %v", err)
	}
	return v
}
