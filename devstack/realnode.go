package devstack

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Host tools of the real node: Debian's containerd, runc and CNI plugins (scripts/install-deps.sh).
type hostTools struct {
	containerd, shim, runc, cniDir, ip string
}

func findHostTools() hostTools {
	look := func(fallback, name string) string {
		if _, err := os.Stat(fallback); err == nil {
			return fallback
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		return ""
	}
	return hostTools{
		containerd: look("/usr/bin/containerd", "containerd"),
		shim:       look("/usr/bin/containerd-shim-runc-v2", "containerd-shim-runc-v2"),
		runc:       look("/usr/sbin/runc", "runc"),
		cniDir:     "/usr/lib/cni",
		ip:         look("/usr/sbin/ip", "ip"),
	}
}

// cgroupMode is how this machine mounts cgroups.
type cgroupMode int

const (
	cgroupNone cgroupMode = iota
	cgroupV1
	cgroupV2
)

// cgroup v1 hierarchies the kubelet needs a root folder in (systemd's named one when present).
func cgroupV1Required() []string {
	return []string{"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "pids"}
}

func cgroupV1Optional() []string {
	return []string{"blkio", "systemd", "hugetlb", "net_cls", "net_prio", "perf_event"}
}

func detectCgroups(root string) (cgroupMode, string) {
	if data, err := os.ReadFile(filepath.Join(root, "cgroup.controllers")); err == nil {
		have := strings.Fields(string(data))
		for _, c := range []string{"cpu", "memory", "pids"} {
			if !contains(have, c) {
				return cgroupNone, "cgroup v2 without the " + c + " controller (have: " + strings.Join(have, " ") + ")"
			}
		}
		return cgroupV2, ""
	}
	var missing []string
	for _, c := range cgroupV1Required() {
		if _, err := os.Stat(filepath.Join(root, c, "cgroup.procs")); err != nil {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return cgroupNone, "no cgroup v2 and cgroup v1 controllers missing under " + root + ": " + strings.Join(missing, " ")
	}
	return cgroupV1, ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// realNodePreflight says why this machine cannot run the real node, or "" when it can.
func (r *runner) realNodePreflight(tools hostTools) string {
	if os.Geteuid() != 0 {
		return "not root: the kubelet and containerd need root (run as root, or use RealNode=off)"
	}
	if r.registryAddr == "" {
		return "no registry: the real node pulls its pause image from it"
	}
	for name, path := range map[string]string{
		"containerd": tools.containerd, "containerd-shim-runc-v2": tools.shim, "runc": tools.runc, "ip (iproute2)": tools.ip,
	} {
		if path == "" {
			return name + " not found: run `make deps` (scripts/install-deps.sh)"
		}
	}
	for _, plugin := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join(tools.cniDir, plugin)); err != nil {
			return "CNI plugin " + plugin + " missing in " + tools.cniDir + ": run `make deps` (containernetworking-plugins)"
		}
	}
	if _, err := os.Stat(filepath.Join(r.p.bin, "kubelet")); err != nil {
		return "kubelet binary missing in " + r.p.bin + ": run `make tools`"
	}
	if mode, why := detectCgroups("/sys/fs/cgroup"); mode == cgroupNone {
		return why
	}
	if fs, err := os.ReadFile("/proc/filesystems"); err != nil || !bytes.Contains(fs, []byte("overlay")) {
		return "the kernel has no overlay filesystem (containerd's snapshotter needs it)"
	}
	return ""
}

// prepareCgroups creates the kubelet's cgroup root. On cgroup v1 it is one folder per hierarchy, and the
// cpuset one needs cpus and mems copied from its parent or no task can join it.
func prepareCgroups(root string) error {
	mode, why := detectCgroups(root)
	switch mode {
	case cgroupV2:
		dir := filepath.Join(root, CgroupRoot)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		// controllers must be enabled in every ancestor for the kubelet's children to get them
		for _, c := range []string{"cpuset", "cpu", "io", "memory", "pids", "hugetlb"} {
			_ = os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+"+c), 0o644)
			_ = os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+"+c), 0o644)
		}
		return nil
	case cgroupV1:
		for _, c := range append(cgroupV1Required(), cgroupV1Optional()...) {
			if _, err := os.Stat(filepath.Join(root, c, "cgroup.procs")); err != nil {
				continue
			}
			if err := os.MkdirAll(filepath.Join(root, c, CgroupRoot), 0o755); err != nil {
				return fmt.Errorf("create cgroup %s/%s: %w", c, CgroupRoot, err)
			}
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			cur, _ := os.ReadFile(filepath.Join(root, "cpuset", CgroupRoot, f))
			if len(bytes.TrimSpace(cur)) > 0 {
				continue
			}
			parent, err := os.ReadFile(filepath.Join(root, "cpuset", f))
			if err != nil {
				return fmt.Errorf("read cpuset %s: %w", f, err)
			}
			if err := os.WriteFile(filepath.Join(root, "cpuset", CgroupRoot, f), parent, 0o644); err != nil {
				return fmt.Errorf("write cpuset %s: %w", f, err)
			}
		}
		return nil
	default:
		return fmt.Errorf("prepare cgroups: %s", why)
	}
}

// cgroupDirs are the folders of the kubelet's cgroup root on this machine (v1: one per hierarchy).
func cgroupDirs(root string) []string {
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		return []string{filepath.Join(root, CgroupRoot)}
	}
	var dirs []string
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		d := filepath.Join(root, e.Name(), CgroupRoot)
		if _, err := os.Stat(d); err == nil {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// prepareBridge creates the pod bridge with the host's address on it. It is made here rather than by the
// CNI bridge plugin so the plugin can run with isGateway=false and leave the host's ip_forward alone.
func prepareBridge(ip string) error {
	run := func(args ...string) error {
		out, err := exec.Command(ip, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if exec.Command(ip, "link", "show", BridgeName).Run() != nil {
		if err := run("link", "add", BridgeName, "type", "bridge"); err != nil {
			return fmt.Errorf("create bridge: %w", err)
		}
	}
	if err := run("addr", "replace", bridgeHostIP, "dev", BridgeName); err != nil {
		return fmt.Errorf("address bridge: %w", err)
	}
	if err := run("link", "set", BridgeName, "up"); err != nil {
		return fmt.Errorf("bring bridge up: %w", err)
	}
	return nil
}

func deleteBridge(ip string) error {
	if ip == "" || exec.Command(ip, "link", "show", BridgeName).Run() != nil {
		return nil
	}
	if out, err := exec.Command(ip, "link", "del", BridgeName).CombinedOutput(); err != nil {
		return fmt.Errorf("delete bridge %s: %w: %s", BridgeName, err, strings.TrimSpace(string(out)))
	}
	return nil
}
