package bench

import (
	"os/exec"
	"syscall"
)

// setPdeathsig kills the daemon if the harness dies without stopping it.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
