package layer

import (
	"archive/zip"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// commitDate is a modification time as the Makefile passes it: a commit
// date in the committer's time zone.
var commitDate = time.Date(2025, 3, 14, 15, 9, 27, 0, time.FixedZone("CET", 3600))

func writeZip(t *testing.T, bin []byte, modTime time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteZip(&buf, bin, modTime); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLayerZipEntries(t *testing.T) {
	bin := []byte("\x7fELF pretend binary")
	z := writeZip(t, bin, commitDate)
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name  string
		mode  fs.FileMode
		attrs uint32 // Unix mode in the high half, MS-DOS attributes in the low
		data  []byte
	}{
		{"audittrail-wrapper", 0o755, 0o100755 << 16, Wrapper},
		{"extensions/", fs.ModeDir | 0o755, 0o040755<<16 | 0x10, nil},
		{"extensions/audittrail", 0o755, 0o100755 << 16, bin},
	}
	if len(zr.File) != len(want) {
		t.Fatalf("%d entries, want %d", len(zr.File), len(want))
	}
	for i, w := range want {
		f := zr.File[i]
		if f.Name != w.name {
			t.Errorf("entry %d is %q, want %q", i, f.Name, w.name)
			continue
		}
		if f.Mode() != w.mode || f.ExternalAttrs != w.attrs || f.CreatorVersion>>8 != 3 {
			t.Errorf("%s: mode %v attrs %#x creator %d, want %v %#x, Unix (3)", w.name, f.Mode(), f.ExternalAttrs, f.CreatorVersion>>8, w.mode, w.attrs)
		}
		if !f.Modified.Equal(commitDate) {
			t.Errorf("%s: modified %v, want %v", w.name, f.Modified, commitDate)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, w.data) {
			t.Errorf("%s: content %q (%v), want %q", w.name, got, err, w.data)
		}
	}
}

// TestLayerZipDeterministic: the same binary and the same instant give the
// same bytes, however the instant is expressed; another instant or binary
// gives other bytes.
func TestLayerZipDeterministic(t *testing.T) {
	bin := bytes.Repeat([]byte("audittrail binary "), 4096)
	ref := writeZip(t, bin, commitDate)
	tests := []struct {
		name    string
		bin     []byte
		modTime time.Time
		same    bool
	}{
		{"second run", bin, commitDate, true},
		{"same instant in UTC", bin, commitDate.UTC(), true},
		{"same instant, another zone", bin, commitDate.In(time.FixedZone("PDT", -7*3600)), true},
		{"sub-second part dropped", bin, commitDate.Add(999 * time.Millisecond), true},
		{"another instant", bin, commitDate.Add(2 * time.Second), false},
		{"another binary", append([]byte{'x'}, bin...), commitDate, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := writeZip(t, tt.bin, tt.modTime); bytes.Equal(got, ref) != tt.same {
				t.Errorf("same bytes = %v, want %v", !tt.same, tt.same)
			}
		})
	}
}

func TestLayerZipRefuses(t *testing.T) {
	// Random bytes do not compress: 9 MiB of them make a zip over budget.
	big := make([]byte, 9<<20)
	_, _ = rand.NewChaCha8([32]byte{}).Read(big) // never fails
	tests := []struct {
		name    string
		bin     []byte
		modTime time.Time
		want    error // nil: any error
	}{
		{"too large", big, commitDate, ErrTooLarge},
		{"empty binary", nil, commitDate, nil},
		{"before 1980", []byte("bin"), time.Date(1979, 12, 31, 23, 59, 59, 0, time.UTC), nil},
		{"after 2107", []byte("bin"), time.Date(2108, 1, 1, 0, 0, 0, 0, time.UTC), nil},
		{"zero time", []byte("bin"), time.Time{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := WriteZip(&buf, tt.bin, tt.modTime)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes written despite the error", buf.Len())
			}
		})
	}
}

func TestLayerZipBudget(t *testing.T) {
	tests := []struct {
		n  int
		ok bool
	}{
		{0, true},
		{MaxZipBytes - 1, true},
		{MaxZipBytes, false},
		{MaxZipBytes + 1, false},
	}
	for _, tt := range tests {
		err := checkSize(tt.n)
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrTooLarge) {
			t.Errorf("checkSize(%d) = %v, want ok %v", tt.n, err, tt.ok)
		}
	}
}

func TestLayerZipName(t *testing.T) {
	tests := []struct{ goarch, want string }{
		{"amd64", "audittrail-layer-x86_64.zip"},
		{"arm64", "audittrail-layer-arm64.zip"},
		{"386", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := ZipName(tt.goarch)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("ZipName(%q) = %q, %v; want %q", tt.goarch, got, err, tt.want)
		}
	}
}

// fakeELF is the header of a 64-bit little-endian ELF file, with a
// PT_INTERP program header (a dynamic loader) when interp is set.
func fakeELF(t *testing.T, machine elf.Machine, typ elf.Type, interp bool) []byte {
	t.Helper()
	h := elf.Header64{Type: uint16(typ), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT), Ehsize: 64, Phentsize: 56}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	if interp {
		h.Phoff, h.Phnum = 64, 1
	}
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	if interp {
		if err := binary.Write(&b, binary.LittleEndian, elf.Prog64{Type: uint32(elf.PT_INTERP)}); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func TestLayerCheckBinary(t *testing.T) {
	tests := []struct {
		name    string
		bin     []byte
		goarch  string
		wantErr string // "" for none
	}{
		{"static amd64", fakeELF(t, elf.EM_X86_64, elf.ET_EXEC, false), "amd64", ""},
		{"static arm64 (PIE)", fakeELF(t, elf.EM_AARCH64, elf.ET_DYN, false), "arm64", ""},
		{"arm64 binary for amd64", fakeELF(t, elf.EM_AARCH64, elf.ET_EXEC, false), "amd64", "want EM_X86_64"},
		{"amd64 binary for arm64", fakeELF(t, elf.EM_X86_64, elf.ET_EXEC, false), "arm64", "want EM_AARCH64"},
		{"dynamically linked", fakeELF(t, elf.EM_X86_64, elf.ET_EXEC, true), "amd64", "CGO_ENABLED=0"},
		{"object file", fakeELF(t, elf.EM_X86_64, elf.ET_REL, false), "amd64", "not an executable"},
		{"shell script", []byte("#!/bin/sh\necho hi\n"), "amd64", "not an ELF"},
		{"empty", nil, "amd64", "not an ELF"},
		{"unknown architecture", fakeELF(t, elf.EM_386, elf.ET_EXEC, false), "386", "Lambda runs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckBinary(tt.bin, tt.goarch)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("CheckBinary = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}
