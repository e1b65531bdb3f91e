package peers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
)

// readOnlyFreeSpace is a -storage.minFreeDiskSpaceBytes no disk has: with it,
// VictoriaLogs considers its storage full and refuses every insert with 429.
const readOnlyFreeSpace = "1000000000000000000"

// VictoriaLogsOptions configures VictoriaLogs.
type VictoriaLogsOptions struct {
	// ReadOnly starts the storage read-only: every insert endpoint answers
	// 429 "cannot add rows into storage in read-only mode". See SetReadOnly.
	ReadOnly bool
}

// VictoriaLogsPeer is a running VictoriaLogs. It serves ingestion and
// queries on one port; all paths are relative to URL:
//
//   - POST /insert/elasticsearch/_bulk (NDJSON; send Content-Type
//     application/x-ndjson, and ?_msg_field=message&_time_field=@timestamp
//     for documents that keep the message and time there)
//   - POST /insert/datadog/api/v2/logs (JSON array; DD-API-KEY is ignored)
//   - POST /insert/opentelemetry/v1/logs (OTLP/HTTP protobuf only)
//   - POST /insert/jsonline, GET /select/logsql/query, GET /health
//
// Its methods must not be called concurrently with SetReadOnly.
type VictoriaLogsPeer struct {
	// URL is the base URL, e.g. "http://127.0.0.1:40123".
	URL string

	bin     string
	dataDir string
	addr    string
	proc    *process
	client  *http.Client
}

// VictoriaLogs starts VictoriaLogs on a free 127.0.0.1 port with an empty
// storage under t.TempDir() and returns once it is healthy. It keeps logs
// for 100 years (the default 7 days would silently drop records with old
// fixed timestamps) and accepts times up to 2 days ahead. It is stopped when
// the test ends.
func VictoriaLogs(t testing.TB, opts VictoriaLogsOptions) *VictoriaLogsPeer {
	t.Helper()
	v := &VictoriaLogsPeer{
		bin:     peerBinary(t, "victoria-logs", pinned(t).victoriaMetrics, "victoria-logs"),
		dataDir: filepath.Join(t.TempDir(), "data"),
		client:  &http.Client{},
	}
	v.start(t, opts.ReadOnly, nil)
	v.URL = "http://" + v.addr
	return v
}

// start launches the process on addrs (free ports when nil).
func (v *VictoriaLogsPeer) start(t testing.TB, readOnly bool, addrs []string) {
	t.Helper()
	proc, used := launch(t, launchSpec{
		name:  "victoria-logs",
		bin:   v.bin,
		dir:   filepath.Dir(v.dataDir),
		ports: 1,
		args: func(addrs []string) []string {
			args := []string{
				"-httpListenAddr=" + addrs[0],
				"-storageDataPath=" + v.dataDir,
				"-retentionPeriod=100y",
			}
			if readOnly {
				args = append(args, "-storage.minFreeDiskSpaceBytes="+readOnlyFreeSpace)
			}
			return args
		},
		ready: func(ctx context.Context, addrs []string) error {
			return httpGetOK(v.client, "http://"+addrs[0]+"/health")(ctx)
		},
	}, addrs)
	v.proc, v.addr = proc, used[0]
}

// SetReadOnly restarts VictoriaLogs on the same port and storage with the
// storage read-only (every insert answers 429) or writable again. Read-only
// mode is a start-up flag, hence the restart; connections open to the old
// process are closed, so a client sees a connection error or EOF on the
// request after the switch unless it dials anew. Data stored before stays.
func (v *VictoriaLogsPeer) SetReadOnly(t testing.TB, readOnly bool) {
	t.Helper()
	v.proc.stop(t)
	v.start(t, readOnly, []string{v.addr})
}

// Flush makes every accepted row visible to queries at once (otherwise
// VictoriaLogs takes about a second).
func (v *VictoriaLogsPeer) Flush(t testing.TB) {
	t.Helper()
	if _, err := v.get("/internal/force_flush"); err != nil {
		t.Fatalf("peers: victoria-logs flush: %v", err)
	}
}

// Query flushes, runs the LogsQL query (e.g. `*`, `sink:es`,
// `"service.name":="audit"`, `* | stats by (sink) count() n`) and returns
// the rows. VictoriaLogs returns every field as a string: numbers come back
// as decimal text and nested objects are flattened into dotted names
// ("event.type"); _msg, _time and _stream are always present.
func (v *VictoriaLogsPeer) Query(t testing.TB, logsql string) []map[string]string {
	t.Helper()
	v.Flush(t)
	body, err := v.get("/select/logsql/query?" + url.Values{"query": {logsql}}.Encode())
	if err != nil {
		t.Fatalf("peers: victoria-logs query %q: %v", logsql, err)
	}
	rows, err := parseRows(body)
	if err != nil {
		t.Fatalf("peers: victoria-logs query %q: %v", logsql, err)
	}
	return rows
}

// get performs GET path and returns the body of a 200 answer.
func (v *VictoriaLogsPeer) get(path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.URL+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

// parseRows decodes LogsQL query output: one JSON object of strings per line.
func parseRows(body []byte) ([]map[string]string, error) {
	var rows []map[string]string
	for i, line := range bytes.Split(body, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var row map[string]string
		if err := json.Unmarshal(line, &row); err != nil {
			return nil, fmt.Errorf("row %d: %w", i+1, err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}
