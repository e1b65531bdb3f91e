// Package layer describes how audittrail is laid out in a Lambda layer,
// installs that layout into a directory that plays the role of /opt, and
// writes the layer zip (WriteZip) that `make layer` ships.
//
// Lambda extracts a layer into /opt and starts one process per file in
// /opt/extensions/; audittrail ships as /opt/extensions/audittrail, with
// its exec wrapper at /opt/audittrail-wrapper.
package layer

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ExtensionPath is where the binary sits inside the layer (and under /opt).
const ExtensionPath = "extensions/audittrail"

// WrapperPath is where the exec wrapper sits inside the layer.
const WrapperPath = "audittrail-wrapper"

// Wrapper is the exec wrapper script (AWS_LAMBDA_EXEC_WRAPPER).
//
//go:embed audittrail-wrapper
var Wrapper []byte

// Install lays out optDir as the layer does: the audittrail binary as
// extensions/audittrail and the exec wrapper, both executable.
func Install(optDir, binary string) error {
	if err := os.MkdirAll(optDir, 0o755); err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	if err := os.WriteFile(filepath.Join(optDir, WrapperPath), Wrapper, 0o755); err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	src, err := os.Open(binary)
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	defer src.Close()
	dst := filepath.Join(optDir, ExtensionPath)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		return fmt.Errorf("layer: copy %s: %w", binary, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	return nil
}
