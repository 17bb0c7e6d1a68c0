package devstack

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func testSupervisor(t *testing.T) *supervisor {
	dir := t.TempDir()
	return newSupervisor(dir+"/logs", dir+"/pids", 5*time.Second, slog.New(slog.DiscardHandler))
}

func TestSupervisorStartReuseStop(t *testing.T) {
	t.Parallel()
	s := testSupervisor(t)
	ctx := context.Background()
	c := component{name: "sleeper", bin: "/bin/sleep", args: []string{"60"}}
	reused, err := s.ensure(ctx, c)
	if err != nil || reused {
		t.Fatalf("first ensure: reused %v err %v", reused, err)
	}
	pid, _, ok := s.running("sleeper", "/bin/sleep")
	if !ok {
		t.Fatal("not running after ensure")
	}
	// a new supervisor (a new `rainflow dev`) finds it by pid file and /proc/<pid>/exe
	s2 := newSupervisor(s.logs, s.pids, time.Second, s.log)
	if reused, err := s2.ensure(ctx, c); err != nil || !reused {
		t.Fatalf("second ensure: reused %v err %v", reused, err)
	}
	// a pid file naming a process of another binary is not ours
	if _, _, ok := s.running("sleeper", "/bin/true"); ok {
		t.Error("process of /bin/sleep taken for /bin/true")
	}
	if err := s2.stop(ctx, "sleeper", "/bin/sleep", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// s started it and reaps it; wait for that before checking
	time.Sleep(50 * time.Millisecond)
	if alive(pid) {
		t.Errorf("pid %d still alive after stop", pid)
	}
	if _, err := os.Stat(s.pidFile("sleeper")); !errors.Is(err, os.ErrNotExist) {
		t.Error("pid file left behind")
	}
}

func TestSupervisorExitDuringStartup(t *testing.T) {
	t.Parallel()
	s := testSupervisor(t)
	c := component{
		name: "crasher", bin: "/bin/sh", args: []string{"-c", "echo first line; echo boom: bad flag >&2; exit 3"},
		health: func(context.Context) error { return errors.New("not yet") },
	}
	_, err := s.ensure(context.Background(), c)
	if err == nil {
		t.Fatal("ensure succeeded")
	}
	for _, want := range []string{"crasher exited during startup", "boom: bad flag", "first line"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestSupervisorHealthTimeout(t *testing.T) {
	t.Parallel()
	s := testSupervisor(t)
	c := component{
		name: "stuck", bin: "/bin/sh", args: []string{"-c", "echo waiting forever; exec sleep 60"},
		health:  func(context.Context) error { return errors.New("connection refused") },
		timeout: 300 * time.Millisecond,
	}
	_, err := s.ensure(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "not healthy after 300ms") || !strings.Contains(err.Error(), "waiting forever") {
		t.Fatalf("ensure = %v", err)
	}
	if err := s.stop(context.Background(), "stuck", "/bin/sh", time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestSupervisorMissingBinary(t *testing.T) {
	t.Parallel()
	s := testSupervisor(t)
	_, err := s.ensure(context.Background(), component{name: "etcd", bin: "/nonexistent/etcd"})
	if err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Fatalf("ensure = %v", err)
	}
}

func TestPortFree(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	err = portFree(port)
	if err == nil {
		t.Fatal("busy port reported free")
	}
	for _, want := range []string{"port " + strconv.Itoa(port) + " is in use", "pid " + strconv.Itoa(os.Getpid()), "another state dir"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	l.Close()
	if err := portFree(port); err != nil {
		t.Errorf("free port reported busy: %v", err)
	}
}

func TestParseListenInodes(t *testing.T) {
	t.Parallel()
	const table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:404B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:404B 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 100 0 0 10 0
   2: 00000000:1C21 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3333 1 0000000000000000 100 0 0 10 0
`
	tests := []struct {
		name string
		port int
		want string
	}{
		{"listening", 16459, "1111"},
		{"other listener", 7201, "3333"},
		{"nothing", 80, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := strings.Join(parseListenInodes(bufio.NewScanner(strings.NewReader(table)), tt.port), ",")
			assertEq(t, got, tt.want)
		})
	}
}

func TestMountsUnder(t *testing.T) {
	t.Parallel()
	const info = `22 1 8:1 / / rw - ext4 /dev/vda rw
100 22 0:50 / /s/kubelet/root rw shared:1 - ext4 /dev/vda rw
101 100 0:51 / /s/kubelet/root/pods/p1/volumes/x/token rw - tmpfs tmpfs rw
102 22 0:52 / /s/containerd/state/run/sandboxes/a\040b/shm rw - tmpfs shm rw
103 22 0:53 / /s2/other rw - tmpfs t rw
104 22 0:54 / /s rw - tmpfs t rw
`
	got := mountsUnder([]byte(info), "/s")
	// deepest (longest) first, so a mount is unmounted before the one it sits on
	want := []string{"/s/containerd/state/run/sandboxes/a b/shm", "/s/kubelet/root/pods/p1/volumes/x/token", "/s/kubelet/root"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("mountsUnder = %q, want %q", got, want)
	}
}

func TestDetectCgroups(t *testing.T) {
	t.Parallel()
	v2 := t.TempDir()
	if err := os.WriteFile(v2+"/cgroup.controllers", []byte("cpuset cpu io memory pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v2bad := t.TempDir()
	if err := os.WriteFile(v2bad+"/cgroup.controllers", []byte("io\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v1 := t.TempDir()
	for _, c := range cgroupV1Required() {
		if err := os.MkdirAll(v1+"/"+c, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(v1+"/"+c+"/cgroup.procs", nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		root   string
		mode   cgroupMode
		reason string
	}{
		{"v2", v2, cgroupV2, ""},
		{"v2 without controllers", v2bad, cgroupNone, "without the cpu controller"},
		{"v1", v1, cgroupV1, ""},
		{"nothing", t.TempDir(), cgroupNone, "controllers missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mode, reason := detectCgroups(tt.root)
			if mode != tt.mode || !strings.Contains(reason, tt.reason) {
				t.Errorf("detectCgroups = %v %q, want %v %q", mode, reason, tt.mode, tt.reason)
			}
		})
	}
}
