package extension_test

// The layer as shipped: the zip `make layer` writes, unzipped the way
// Lambda unzips a layer into /opt, runs the extension and the exec wrapper
// under lambdasim, and the binary it holds verifies the trail.

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/audittrail/audittrail/internal/lambdasim"
	"github.com/audittrail/audittrail/layer"
	"github.com/audittrail/audittrail/schema"
)

// unzipLayer extracts a layer zip into optDir as Lambda does: every
// entry where its name says, with the mode the zip gives it.
func unzipLayer(t *testing.T, data []byte, optDir string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if !filepath.IsLocal(f.Name) {
			t.Fatalf("zip entry %q points outside the layer", f.Name)
		}
		dst := filepath.Join(optDir, f.Name)
		if f.Mode().IsDir() {
			if err := os.MkdirAll(dst, f.Mode().Perm()); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := extractFile(f, dst); err != nil {
			t.Fatal(err)
		}
	}
}

// extractFile writes one zip entry to dst with the entry's permissions
// (set explicitly, whatever the umask).
func extractFile(f *zip.File, dst string) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	defer rc.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	if err := out.Chmod(f.Mode().Perm()); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// The values a release build stamps into the binary (the Makefile's
// VERSION, COMMIT and DATE); the zip's entries carry the same date.
const (
	layerVersion = "v0.0.0-layer-e2e"
	layerCommit  = "0123abc"
	layerDate    = "2025-03-14T15:09:27Z"
)

// buildLayerZip builds the binary as `make layer` does for the host's
// architecture (static, stripped, stamped) and returns its layer zip.
//
// It is not the package's test binary: that one keeps its symbol tables
// and zips to nearly layer.MaxZipBytes, a budget set for release builds.
func buildLayerZip(t *testing.T) []byte {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "audittrail")
	ldflags := fmt.Sprintf("-s -w -X main.version=%s -X main.commit=%s -X main.date=%s", layerVersion, layerCommit, layerDate)
	build := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-ldflags", ldflags, "-o", bin, "../cmd/audittrail")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the layer's binary: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := layer.CheckBinary(data, runtime.GOARCH); err != nil {
		t.Fatal(err)
	}
	modTime, err := time.Parse(time.RFC3339, layerDate)
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	if err := layer.WriteZip(&z, data, modTime); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

// layerOpt unzips the layer into a fresh /opt and checks what Lambda
// needs: both files executable, and the binary the one that was built.
func layerOpt(t *testing.T, zipData []byte) string {
	t.Helper()
	opt := t.TempDir()
	unzipLayer(t, zipData, opt)
	for _, p := range []string{layer.ExtensionPath, layer.WrapperPath} {
		fi, err := os.Stat(filepath.Join(opt, p))
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Fatalf("/opt/%s after unzip: %v %v, want mode 0755", p, fi, err)
		}
	}
	out, err := exec.CommandContext(t.Context(), filepath.Join(opt, layer.ExtensionPath), "version").CombinedOutput()
	want := fmt.Sprintf("audittrail %s (commit %s, built %s)\n", layerVersion, layerCommit, layerDate)
	if err != nil || string(out) != want {
		t.Fatalf("/opt/%s version: %q %v, want %q", layer.ExtensionPath, out, err, want)
	}
	return opt
}

// TestLayerZip runs the unzipped layer with both ways of using the exec
// wrapper the README gives: a provided.* bootstrap ending in
// `exec /opt/audittrail-wrapper ./function`, and AWS_LAMBDA_EXEC_WRAPPER on
// a managed runtime.
func TestLayerZip(t *testing.T) {
	tests := []struct {
		name   string
		config func(opt string, c *lambdasim.Config)
	}{
		{"provided bootstrap", func(opt string, c *lambdasim.Config) {
			c.OSOnlyRuntime = true
			c.Runtime = append([]string{filepath.Join(opt, layer.WrapperPath)}, c.Runtime...)
		}},
		{"AWS_LAMBDA_EXEC_WRAPPER", func(opt string, c *lambdasim.Config) {
			c.OSOnlyRuntime = false
			c.Env["AWS_LAMBDA_EXEC_WRAPPER"] = filepath.Join(opt, layer.WrapperPath)
		}},
	}
	zipData := buildLayerZip(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := layerOpt(t, zipData)
			l := &lambda{trail: t.TempDir(), logs: &syncBuffer{}}
			cfg := lambdasim.Config{
				OptDir:  opt,
				Runtime: []string{binary, "demo-function"},
				Env: map[string]string{
					"AUDITTRAIL_SINKS":    "file",
					"AUDITTRAIL_FILE_DIR": l.trail,
				},
				Timeout: 2 * time.Second,
				Logs:    l.logs,
			}
			tt.config(opt, &cfg)
			sim, err := lambdasim.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			l.sim = sim
			t.Cleanup(func() {
				_ = sim.Close()
				if t.Failed() {
					t.Logf("lambda logs:\n%s", l.logs.String())
				}
			})

			calls := []struct{ method, path, route string }{
				{"GET", "/users/42", "/users/{id}"},
				{"GET", "/health", "/health"},
			}
			var results []*lambdasim.Result
			for _, c := range calls {
				results = append(results, l.invoke(t, c.method, c.path))
			}
			if sd := l.shutdown(t); !sd.Exited["audittrail"] {
				t.Errorf("the extension did not exit by itself at shutdown: %+v", sd)
			}

			recs := l.records(t)
			counts := map[string]int{}
			for _, r := range recs {
				counts[r.Event.Action]++
			}
			want := map[string]int{schema.ActionInit: 1, schema.ActionInvocation: len(calls), schema.ActionShutdown: 1}
			if len(recs) != 4 || fmt.Sprint(counts) != fmt.Sprint(want) {
				t.Fatalf("records by action %v, want %v", counts, want)
			}
			for i, c := range calls {
				r := invocation(t, recs, results[i].RequestID)
				if r.Audit.Capture != schema.CaptureProxy || r.HTTP == nil || r.HTTP.Route != c.route || r.Event.Outcome != schema.OutcomeSuccess {
					t.Errorf("%s %s: capture %q http %+v outcome %q, want the proxy's record of %s", c.method, c.path, r.Audit.Capture, r.HTTP, r.Event.Outcome, c.route)
				}
			}
			verifyWithLayerBinary(t, filepath.Join(opt, layer.ExtensionPath), l.trail)
		})
	}
}

// verifyWithLayerBinary runs `audittrail verify --json` of the binary the
// layer holds on the trail and checks that it is OK and closed.
func verifyWithLayerBinary(t *testing.T, bin, trail string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), bin, "verify", "--json", trail)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("audittrail verify: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	var rep struct {
		OK           bool               `json:"ok"`
		Environments []schema.EnvReport `json:"environments"`
		Invalid      int                `json:"invalid_lines"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("audittrail verify --json: %v\n%s", err, stdout.String())
	}
	if !rep.OK || len(rep.Environments) != 1 || !rep.Environments[0].Closed || rep.Environments[0].Records != 4 || rep.Invalid != 0 {
		t.Errorf("audittrail verify: %s", stdout.String())
	}
}
