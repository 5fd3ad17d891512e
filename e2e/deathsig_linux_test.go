package e2e

import (
	"os/exec"
	"syscall"
)

// orphanProof makes the kernel kill cmd if the test binary dies without
// stopping it (a test timeout panics past TestMain's cleanup).
func orphanProof(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
