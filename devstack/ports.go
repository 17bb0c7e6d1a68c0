package devstack

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// portFree returns nil when nothing listens on the loopback port, and otherwise an error that names
// the port, the process holding it when it can be found, and how to free it.
func portFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err == nil {
		_ = l.Close()
		return nil
	}
	owner := "another process"
	if pid, cmd, ok := portOwner(port); ok {
		owner = fmt.Sprintf("another process (pid %d: %s)", pid, cmd)
	}
	return fmt.Errorf("port %d is in use by %s; is `make run` (or a test stack) running with another state dir? "+
		"stop it, or pick other ports", port, owner)
}

// portOwner finds the process listening on a TCP port through /proc/net/tcp{,6} and the sockets in
// /proc/<pid>/fd.
func portOwner(port int) (pid int, cmdline string, ok bool) {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		for _, inode := range listenInodes(f, port) {
			inodes[inode] = true
		}
	}
	if len(inodes) == 0 {
		return 0, "", false
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		link, err := os.Readlink(fd)
		if err != nil || !strings.HasPrefix(link, "socket:[") {
			continue
		}
		if !inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
			continue
		}
		parts := strings.Split(fd, "/")
		pid, _ = strconv.Atoi(parts[2])
		raw, _ := os.ReadFile(filepath.Join("/proc", parts[2], "cmdline"))
		cmdline = strings.TrimSpace(strings.ReplaceAll(string(raw), "\x00", " "))
		if len(cmdline) > 120 {
			cmdline = cmdline[:120] + "..."
		}
		return pid, cmdline, true
	}
	return 0, "", false
}

// listenInodes returns the socket inodes in LISTEN state (0A) on port from a /proc/net/tcp file.
func listenInodes(file string, port int) []string {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	return parseListenInodes(bufio.NewScanner(f), port)
}

func parseListenInodes(sc *bufio.Scanner, port int) []string {
	want := fmt.Sprintf(":%04X", port)
	var out []string
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" {
			continue
		}
		if strings.HasSuffix(fields[1], want) {
			out = append(out, fields[9])
		}
	}
	return out
}
