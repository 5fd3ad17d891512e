//go:build !linux

package e2e

import "os/exec"

// orphanProof is a no-op where there is no parent-death signal.
func orphanProof(*exec.Cmd) {}
