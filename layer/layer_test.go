package layer

import (
	"bytes"
	"os"
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
