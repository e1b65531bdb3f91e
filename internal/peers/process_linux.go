package peers

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes Linux send SIGKILL to the peer when the test binary
// dies without running its cleanups (a panic, a -timeout), so that no peer
// outlives the tests.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
