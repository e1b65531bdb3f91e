package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audittrail/audittrail/layer"
)

// staticELF is the header of a static 64-bit ELF executable for machine,
// followed by filler. (A zip over budget is layer's test.)
func staticELF(t *testing.T, machine elf.Machine, filler []byte) []byte {
	t.Helper()
	h := elf.Header64{Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT), Ehsize: 64}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	b.Write(filler)
	return b.Bytes()
}

func TestMkLayer(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	amd64 := write("amd64", staticELF(t, elf.EM_X86_64, []byte("code")))
	arm64 := write("arm64", staticELF(t, elf.EM_AARCH64, []byte("code")))
	const date = "2025-03-14T15:09:27+01:00"

	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // a part of it
	}{
		{"amd64", []string{"-arch", "amd64", "-binary", amd64, "-date", date}, 0, ""},
		{"arm64", []string{"-arch", "arm64", "-binary", arm64, "-date", "unknown"}, 0, ""},
		{"no arch", []string{"-binary", amd64}, 2, "usage"},
		{"no binary", []string{"-arch", "amd64"}, 2, "usage"},
		{"unknown flag", []string{"-arch", "amd64", "-binary", amd64, "-zip", "x"}, 2, "-zip"},
		{"unknown arch", []string{"-arch", "386", "-binary", amd64}, 2, "Lambda runs"},
		{"wrong arch", []string{"-arch", "arm64", "-binary", amd64, "-date", date}, 1, "want EM_AARCH64"},
		{"bad date", []string{"-arch", "amd64", "-binary", amd64, "-date", "yesterday"}, 1, "RFC 3339"},
		{"missing binary", []string{"-arch", "amd64", "-binary", filepath.Join(dir, "nope")}, 1, "reading the binary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "dist", "layer.zip")
			if tt.code != 0 {
				// A zip from an earlier run must not survive a failed one.
				if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(out, []byte("stale"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, stderr bytes.Buffer
			code := run(append(tt.args, "-out", out), &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.stderr)
			}
			got, err := os.ReadFile(out)
			if tt.code != 0 {
				if tt.code == 1 && err == nil {
					t.Errorf("a failed run left %s behind", out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(stdout.String(), out+": ") || !strings.Contains(stdout.String(), " bytes ") {
				t.Errorf("stdout %q does not give the zip's size", stdout.String())
			}
			// The file is exactly what layer.WriteZip makes of the binary.
			bin, _ := os.ReadFile(tt.args[3])
			mod, _ := parseDate(tt.args[5])
			var want bytes.Buffer
			if err := layer.WriteZip(&want, bin, mod); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Error("the zip differs from layer.WriteZip's")
			}
		})
	}
}

func TestMkLayerParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2025-03-14T15:09:27+01:00", time.Date(2025, 3, 14, 14, 9, 27, 0, time.UTC), true},
		{"2025-03-14T14:09:27Z", time.Date(2025, 3, 14, 14, 9, 27, 0, time.UTC), true},
		{"unknown", time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"", time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"2025-03-14", time.Time{}, false},
		{"Fri Mar 14 15:09:27 2025 +0100", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := parseDate(tt.in)
		if (err == nil) != tt.ok || !got.Equal(tt.want) {
			t.Errorf("parseDate(%q) = %v, %v; want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
