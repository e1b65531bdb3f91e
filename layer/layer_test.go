package layer

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestInstall(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "audittrail")
	content := []byte("#!/bin/sh\necho hi\n")
	if err := os.WriteFile(bin, content, 0o600); err != nil {
		t.Fatal(err)
	}
	opt := t.TempDir()
	if err := Install(opt, bin); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(opt, "extensions", "audittrail")
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("installed content %q, %v", got, err)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, want 0755", fi.Mode().Perm())
	}
	w, err := os.Stat(filepath.Join(opt, "audittrail-wrapper"))
	if err != nil || w.Mode().Perm() != 0o755 || w.Size() != int64(len(Wrapper)) {
		t.Errorf("wrapper: %v %v", w, err)
	}
	if err := Install(opt, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("want an error for a missing binary")
	}
}

// TestWrapper runs the exec wrapper as a runtime would.
func TestWrapper(t *testing.T) {
	tests := []struct {
		name, addrFile, want string
	}{
		{"proxy running", "127.0.0.1:40123\n", "127.0.0.1:40123"},
		{"no proxy", "", "127.0.0.1:9001"},
		{"empty address file", "\n", "127.0.0.1:9001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp, opt := t.TempDir(), t.TempDir()
			if err := os.WriteFile(filepath.Join(opt, WrapperPath), Wrapper, 0o755); err != nil {
				t.Fatal(err)
			}
			if tt.addrFile != "" {
				_ = os.MkdirAll(filepath.Join(tmp, "audittrail"), 0o755)
				if err := os.WriteFile(filepath.Join(tmp, "audittrail", "runtime-api"), []byte(tt.addrFile), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(filepath.Join(opt, WrapperPath), "sh", "-c", `printf %s "$AWS_LAMBDA_RUNTIME_API|$0"`, "arg0")
			cmd.Env = []string{"TMPDIR=" + tmp, "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001", "PATH=" + os.Getenv("PATH")}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if got := string(out); got != tt.want+"|arg0" {
				t.Errorf("runtime saw %q, want %q (and its own arguments)", got, tt.want+"|arg0")
			}
		})
	}
}
