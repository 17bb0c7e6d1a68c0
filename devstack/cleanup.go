package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stopRuntime removes every pod from containerd (the kubelet is already stopped, so nothing restarts
// them), stops containerd, and then cleans what a hard kill leaves behind: shims still serving our
// socket, container processes still in our cgroup tree, mounts under the state folder.
func (r *runner) stopRuntime(ctx context.Context) error {
	var errs []error
	c := r.containerd(r.tools)
	if _, _, ok := r.sup.running(c.name, c.bin); ok {
		begin := time.Now()
		n, err := removeAllPods(ctx, r.containerdSock())
		if err != nil {
			errs = append(errs, fmt.Errorf("remove pods: %w", err))
		}
		r.log.Info("pods removed", "count", n, "took", time.Since(begin).Round(time.Millisecond))
	}
	if c.bin != "" {
		errs = append(errs, r.sup.stop(ctx, c.name, c.bin, 15*time.Second))
	} else {
		_ = os.Remove(r.sup.pidFile(c.name))
	}
	for _, pid := range shimsOf(r.containerdSock()) {
		r.log.Info("killing leftover shim", "pid", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if pid, ok := kubeletRunning(); ok {
		// the cgroup root is host-wide: with another stack's kubelet up, its containers are not ours
		r.log.Warn("another kubelet runs, leaving the cgroup tree alone", "pid", pid, "cgroup", CgroupRoot)
	} else if pids := cgroupProcs(cgroupDirs("/sys/fs/cgroup")); len(pids) > 0 {
		for _, pid := range pids {
			r.log.Info("killing leftover container process", "pid", pid, "comm", procComm(pid))
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) && len(cgroupProcs(cgroupDirs("/sys/fs/cgroup"))) > 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	errs = append(errs, unmountUnder(r.p.state))
	return errors.Join(errs...)
}

// shimsOf finds containerd-shim processes started for the containerd listening on sock.
func shimsOf(sock string) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		raw, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if !strings.HasPrefix(filepath.Base(argv[0]), "containerd-shim") {
			continue
		}
		for i := 0; i+1 < len(argv); i++ {
			if (argv[i] == "-address" || argv[i] == "--address") && argv[i+1] == sock {
				if pid, err := strconv.Atoi(filepath.Base(d)); err == nil {
					pids = append(pids, pid)
				}
				break
			}
		}
	}
	return pids
}

// kubeletRunning finds a running kubelet process, whichever stack it belongs to.
func kubeletRunning() (int, bool) {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if exe, _, ok := processExe(pid); ok && filepath.Base(exe) == "kubelet" {
			return pid, true
		}
	}
	return 0, false
}

// cgroupProcs lists the processes anywhere under the given cgroup folders.
func cgroupProcs(dirs []string) []int {
	seen := map[int]bool{}
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			data, _ := os.ReadFile(path)
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
					seen[pid] = true
				}
			}
			return nil
		})
	}
	pids := make([]int, 0, len(seen))
	for pid := range seen {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids
}

func procComm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// mountsUnder lists the mount points strictly under dir, deepest first, from a mountinfo file.
func mountsUnder(mountinfo []byte, dir string) []string {
	prefix := filepath.Clean(dir) + "/"
	var out []string
	for _, line := range bytes.Split(mountinfo, []byte("\n")) {
		fields := strings.Fields(string(line))
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if strings.HasPrefix(mp, prefix) {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] > out[j]
	})
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space, ...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountUnder unmounts every mount under dir (pod volumes, container root filesystems, network
// namespaces, the kubelet's shared root), deepest first, lazily when busy.
func unmountUnder(dir string) error {
	var errs []error
	for range 3 { // a mount can hide others stacked on the same point
		info, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			return fmt.Errorf("read mountinfo: %w", err)
		}
		mounts := mountsUnder(info, dir)
		if len(mounts) == 0 {
			return nil
		}
		errs = errs[:0]
		for _, m := range mounts {
			if err := syscall.Unmount(m, 0); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
					errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Clean stops the stack of cfg and removes what it made: the pod bridge, the cgroup root, and the
// state folder except the pinned binaries and kwok's stage file. The next Start is a cold one.
func Clean(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("validate config: %w", err)
	}
	r := newRunner(cfg)
	errs := []error{r.shutdown(ctx)}
	if pid, ok := kubeletRunning(); cfg.localKubernetes() && ok {
		errs = append(errs, fmt.Errorf("clean host objects: a kubelet of another state dir runs (pid %d); bridge and cgroups kept", pid))
	} else if cfg.localKubernetes() {
		errs = append(errs, r.stopRuntime(ctx), deleteBridge(r.tools.ip))
		for _, d := range cgroupDirs("/sys/fs/cgroup") {
			errs = append(errs, removeCgroupTree(d))
		}
		// paths the kubelet and libcni use outside the state folder: only our entries
		links, _ := filepath.Glob("/var/log/containers/*")
		for _, l := range links {
			if t, err := os.Readlink(l); err == nil && strings.HasPrefix(t, cfg.StateDir+"/") {
				_ = os.Remove(l)
			}
		}
		results, _ := filepath.Glob("/var/lib/cni/results/rainflow-*")
		for _, f := range append(results, "/var/lib/kubelet/device-plugins/kubelet.sock") {
			_ = os.Remove(f)
		}
	}
	entries, err := os.ReadDir(cfg.StateDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("read state dir: %w", err))
	}
	keep := map[string]bool{cfg.BinDir: true, cfg.KwokStages: true}
	for _, e := range entries {
		p := filepath.Join(cfg.StateDir, e.Name())
		if keep[p] || strings.HasPrefix(cfg.BinDir, p+"/") {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// removeCgroupTree removes a cgroup folder and its children, deepest first (cgroup folders are removed
// with rmdir, never with their files).
func removeCgroupTree(dir string) error {
	var dirs []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	var last error
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, syscall.ENOENT) {
			last = fmt.Errorf("remove cgroup %s: %w", dirs[i], err)
		}
	}
	return last
}
