// Command pause is the sandbox ("pause") container of the local real node: it holds a pod's namespaces,
// sleeps until SIGTERM or SIGINT and then exits 0, and reaps zombies when it is PID 1 of a shared PID
// namespace. It is built statically (CGO_ENABLED=0) by devstack/images and pushed to the local registry.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
