//go:build !linux

package peers

import "os/exec"

// setDeathSignal does nothing outside Linux: a peer may outlive a test binary
// that dies without running its cleanups.
func setDeathSignal(*exec.Cmd) {}
