package peers

import (
	"context"
	_ "embed"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// collectorConfig is the collector's configuration; its addresses, token and
// output directory come from PEERS_* environment variables.
//
//go:embed collector.yaml
var collectorConfig []byte

// DefaultHECToken is the HEC token a Collector accepts when
// CollectorOptions.HECToken is empty.
const DefaultHECToken = "11111111-2222-3333-4444-555555555555"

// Receiver names, as found in LogRecord.Receiver.
const (
	ReceiverOTLP = "otlp"       // OTLP/HTTP or OTLP/gRPC
	ReceiverHEC  = "splunk_hec" // Splunk HEC
)

// CollectorOptions configures Collector.
type CollectorOptions struct {
	// HECToken is the one token the HEC receiver accepts, sent as
	// "Authorization: Splunk <token>". Empty means DefaultHECToken.
	HECToken string
}

// CollectorPeer is a running OpenTelemetry Collector (built with ocb) that
// receives OTLP and Splunk HEC and writes every log record to files that
// Logs reads back.
type CollectorPeer struct {
	// OTLPHTTPURL is the base URL of the OTLP/HTTP receiver: POST logs to
	// OTLPHTTPURL+"/v1/logs" as protobuf (Content-Type
	// application/x-protobuf) or JSON (application/json), optionally gzip.
	OTLPHTTPURL string
	// OTLPGRPCAddr is the host:port of the OTLP/gRPC receiver (plaintext).
	OTLPGRPCAddr string
	// HECURL is the base URL of the Splunk HEC receiver: events to
	// HECURL+"/services/collector/event" (or "/services/collector",
	// "/services/collector/event/1.0"), raw lines to "/services/collector/raw",
	// ack queries to "/services/collector/ack", health to
	// "/services/collector/health". Every path needs the token.
	HECURL string
	// HECToken is the token the HEC receiver accepts.
	HECToken string

	outDir string
}

// Collector starts an OpenTelemetry Collector on free 127.0.0.1 ports and
// returns once its pipelines have started. It is stopped when the test ends.
func Collector(t testing.TB, opts CollectorOptions) *CollectorPeer {
	t.Helper()
	bin := peerBinary(t, "otelcol-peers", pinned(t).otelcol, "otelcol-peers")
	token := opts.HECToken
	if token == "" {
		token = DefaultHECToken
	}
	dir := t.TempDir()
	configPath := filepath.Join(dir, "collector.yaml")
	if err := os.WriteFile(configPath, collectorConfig, 0o644); err != nil {
		t.Fatalf("peers: collector config: %v", err)
	}
	client := &http.Client{}
	_, addrs := launch(t, launchSpec{
		name:  "otelcol",
		bin:   bin,
		dir:   dir,
		ports: 4, // health, OTLP/HTTP, OTLP/gRPC, HEC
		args:  func([]string) []string { return []string{"--config=" + configPath} },
		env: func(addrs []string) []string {
			return []string{
				"PEERS_HEALTH_ENDPOINT=" + addrs[0],
				"PEERS_OTLP_HTTP_ENDPOINT=" + addrs[1],
				"PEERS_OTLP_GRPC_ENDPOINT=" + addrs[2],
				"PEERS_HEC_ENDPOINT=" + addrs[3],
				"PEERS_HEC_TOKEN=" + token,
				"PEERS_OUT_DIR=" + dir,
			}
		},
		ready: func(ctx context.Context, addrs []string) error {
			return httpGetOK(client, "http://"+addrs[0]+"/")(ctx)
		},
	}, nil)
	return &CollectorPeer{
		OTLPHTTPURL:  "http://" + addrs[1],
		OTLPGRPCAddr: addrs[2],
		HECURL:       "http://" + addrs[3],
		HECToken:     token,
		outDir:       dir,
	}
}

// Logs returns every log record the collector has exported so far: first
// those that came over OTLP, then those that came over HEC, each in arrival
// order. A record is there as soon as the request that carried it has been
// answered, so no waiting is needed.
func (c *CollectorPeer) Logs(t testing.TB) []LogRecord {
	t.Helper()
	var all []LogRecord
	for _, src := range []struct{ file, receiver string }{
		{"otlp-logs.jsonl", ReceiverOTLP},
		{"hec-logs.jsonl", ReceiverHEC},
	} {
		f, err := os.Open(filepath.Join(c.outDir, src.file))
		if errors.Is(err, fs.ErrNotExist) {
			continue // the exporter creates the file on the first record
		}
		if err != nil {
			t.Fatalf("peers: collector output: %v", err)
		}
		recs, err := parseExportedLogs(f, src.receiver)
		f.Close()
		if err != nil {
			t.Fatalf("peers: collector output %s: %v", src.file, err)
		}
		all = append(all, recs...)
	}
	return all
}
