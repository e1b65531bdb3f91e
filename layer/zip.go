package layer

import (
	"archive/zip"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// MaxZipBytes is the size budget of a layer zip: WriteZip refuses a zip of
// this size or more (8 MiB), so a binary that grows is noticed at build time.
const MaxZipBytes = 8 << 20

// ErrTooLarge is returned (wrapped) by WriteZip when the zip would reach
// MaxZipBytes.
var ErrTooLarge = errors.New("layer: zip too large")

// ZipName is the file name of the layer zip for a Go architecture
// ("amd64" or "arm64"), named with Lambda's architecture names:
// audittrail-layer-x86_64.zip, audittrail-layer-arm64.zip.
func ZipName(goarch string) (string, error) {
	arch, _, err := lambdaArch(goarch)
	if err != nil {
		return "", err
	}
	return "audittrail-layer-" + arch + ".zip", nil
}

// lambdaArch maps a Go architecture to Lambda's name for it and to the ELF
// machine of its binaries.
func lambdaArch(goarch string) (string, elf.Machine, error) {
	switch goarch {
	case "amd64":
		return "x86_64", elf.EM_X86_64, nil
	case "arm64":
		return "arm64", elf.EM_AARCH64, nil
	}
	return "", 0, fmt.Errorf("layer: architecture %q: Lambda runs amd64 (x86_64) and arm64", goarch)
}

// CheckBinary reports an error unless binary is a static Linux ELF
// executable for goarch: what Lambda can start as an extension on that
// architecture, with no dynamic loader to find.
func CheckBinary(binary []byte, goarch string) error {
	_, machine, err := lambdaArch(goarch)
	if err != nil {
		return err
	}
	f, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		return fmt.Errorf("layer: the binary is not an ELF executable: %w", err)
	}
	defer f.Close()
	if f.Machine != machine {
		return fmt.Errorf("layer: the binary is for %v, want %v (%s)", f.Machine, machine, goarch)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("layer: the binary is an ELF %v, not an executable", f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("layer: the binary is dynamically linked (build it with CGO_ENABLED=0)")
		}
	}
	return nil
}

// zipEntry is one entry of the layer zip.
type zipEntry struct {
	name string
	mode fs.FileMode
	data []byte
}

// WriteZip writes the layer zip to w: the exec wrapper at the root
// (WrapperPath), the directory extensions/ and binary as ExtensionPath,
// in that order, every entry mode 0755 (as Unix external attributes) and
// stamped with modTime. The same binary and modTime give the same bytes,
// whatever the machine, its clock or its time zone. Nothing is written,
// and the error wraps ErrTooLarge, if the zip would be MaxZipBytes or more.
func WriteZip(w io.Writer, binary []byte, modTime time.Time) error {
	if len(binary) == 0 {
		return errors.New("layer: the binary is empty")
	}
	// The MS-DOS time every zip entry carries spans 1980 to 2107.
	modTime = modTime.UTC().Truncate(time.Second)
	if y := modTime.Year(); y < 1980 || y > 2107 {
		return fmt.Errorf("layer: modification time %s is outside the zip format's 1980-2107", modTime.Format(time.RFC3339))
	}
	entries := []zipEntry{
		{name: WrapperPath, mode: 0o755, data: Wrapper},
		{name: "extensions/", mode: fs.ModeDir | 0o755},
		{name: ExtensionPath, mode: 0o755, data: binary},
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: modTime}
		if e.mode.IsDir() {
			h.Method = zip.Store
		}
		h.SetMode(e.mode)
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return fmt.Errorf("layer: zip entry %s: %w", e.name, err)
		}
		if _, err := fw.Write(e.data); err != nil {
			return fmt.Errorf("layer: zip entry %s: %w", e.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("layer: zip: %w", err)
	}
	if err := checkSize(buf.Len()); err != nil {
		return err
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("layer: writing the zip: %w", err)
	}
	return nil
}

// checkSize enforces MaxZipBytes on a zip of n bytes.
func checkSize(n int) error {
	if n >= MaxZipBytes {
		return fmt.Errorf("%w: %d bytes, the budget is under %d (8 MiB); the binary grew, see what it links (go version -m)", ErrTooLarge, n, MaxZipBytes)
	}
	return nil
}
