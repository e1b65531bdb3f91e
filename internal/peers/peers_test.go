package peers

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestParseVersions(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    versions
		wantErr string
	}{
		{
			name: "embedded file",
			text: versionsEnv,
			want: versions{otelcol: "v0.139.0", victoriaMetrics: "v1.117.0", toxiproxy: "v2.5.0"},
		},
		{
			name: "comments and blanks",
			text: "# c\n\nOTELCOL_VERSION=a\n VICTORIAMETRICS_VERSION=b \nTOXIPROXY_VERSION=c",
			want: versions{otelcol: "a", victoriaMetrics: "b", toxiproxy: "c"},
		},
		{name: "missing key", text: "OTELCOL_VERSION=a\nTOXIPROXY_VERSION=c\n", wantErr: "all required"},
		{name: "not key=value", text: "OTELCOL_VERSION a\n", wantErr: "line 1: want KEY=value"},
		{name: "empty value", text: "OTELCOL_VERSION=\n", wantErr: "line 1: want KEY=value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVersions(tt.text)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseVersions: err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseVersions: %v", err)
			}
			if got != tt.want {
				t.Fatalf("parseVersions = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the calling goroutine, like the real one.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatalMessage runs fn with a fatalRecorder and returns what it failed with
// ("" when it did not fail).
func fatalMessage(t *testing.T, fn func(tb testing.TB)) string {
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(rec)
	}()
	<-done
	return rec.msg
}

// A peer that was not built is a test failure that says what to do, never a skip.
func TestMissingPeerFails(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name string
		dir  string
		call func(tb testing.TB)
	}{
		{"no cache directory", filepath.Join(empty, "absent"), func(tb testing.TB) { Dir(tb) }},
		{"collector not built", empty, func(tb testing.TB) { Collector(tb, CollectorOptions{}) }},
		{"victoria-logs not built", empty, func(tb testing.TB) { VictoriaLogs(tb, VictoriaLogsOptions{}) }},
		{"toxiproxy not built", empty, func(tb testing.TB) { Toxiproxy(tb) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(DirEnv, tt.dir)
			msg := fatalMessage(t, tt.call)
			if !strings.Contains(msg, "run `make peers`") {
				t.Fatalf("failure = %q, want it to say run `make peers`", msg)
			}
		})
	}
}

func TestDirOverride(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(DirEnv, dir)
	if got := Dir(t); got != dir {
		t.Fatalf("Dir = %q, want %q", got, dir)
	}
}

// post sends body to url and returns the status code and the answer.
func post(t *testing.T, client *http.Client, url, contentType string, header http.Header, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: read answer: %v", url, err)
	}
	return resp.StatusCode, string(bytes.TrimSpace(answer))
}
