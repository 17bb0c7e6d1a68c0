package images

import (
	"os/exec"
	"syscall"
	"time"
)

// waitSignalled sends SIGTERM to cmd's process (after it had time to install its handler) and waits for
// it to exit, returning its exit error (nil for exit status 0).
func waitSignalled(cmd *exec.Cmd) error {
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	return cmd.Wait()
}
