package e2e

import (
	"os/exec"
	"syscall"
)

// setPdeathsig kills the daemon if the test binary dies without cleanup
// (e.g. a test timeout panic), so no daemon outlives the run.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
