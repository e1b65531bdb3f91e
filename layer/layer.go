// Package layer describes how audittrail is laid out in a Lambda layer and
// installs that layout into a directory that plays the role of /opt.
//
// Lambda extracts a layer into /opt and starts one process per file in
// /opt/extensions/; audittrail ships as /opt/extensions/audittrail.
package layer

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ExtensionPath is where the binary sits inside the layer (and under /opt).
const ExtensionPath = "extensions/audittrail"

// Install copies the audittrail binary into optDir as the layer would place
// it, executable, creating the directories it needs.
func Install(optDir, binary string) error {
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
