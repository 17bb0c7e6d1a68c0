package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// component is one long-running process of the stack.
type component struct {
	name    string   // log file, pid file and error messages
	bin     string   // absolute path of the executable
	args    []string // without argv[0]
	env     []string // added to the parent's environment
	ports   []int    // loopback ports it listens on, checked free before a launch
	health  func(ctx context.Context) error
	timeout time.Duration       // health wait; the supervisor's default when zero
	cred    *syscall.Credential // the user it runs as; nil: the parent's
}

// supervisor launches components in their own process groups, records their pids, finds the ones a
// previous run left behind (by pid file and /proc/<pid>/exe) and stops them.
type supervisor struct {
	logs, pids string
	timeout    time.Duration
	log        *slog.Logger

	mu     sync.Mutex
	exited map[int]chan struct{} // children of this process: closed when reaped
}

func newSupervisor(logs, pids string, timeout time.Duration, log *slog.Logger) *supervisor {
	return &supervisor{logs: logs, pids: pids, timeout: timeout, log: log, exited: map[int]chan struct{}{}}
}

func (s *supervisor) pidFile(name string) string { return filepath.Join(s.pids, name+".pid") }
func (s *supervisor) logFile(name string) string { return filepath.Join(s.logs, name+".log") }

// running returns the pid of name when its pid file names a live process running bin. stale is true
// when that process runs an older build of bin (the file was replaced since it started).
func (s *supervisor) running(name, bin string) (pid int, stale bool, ok bool) {
	data, err := os.ReadFile(s.pidFile(name))
	if err != nil {
		return 0, false, false
	}
	pid, err = strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false, false
	}
	exe, deleted, ok := processExe(pid)
	if !ok || !sameFile(exe, bin) {
		return 0, false, false
	}
	return pid, deleted, true
}

// processExe is the executable of a live (not zombie) process; deleted is true when that file was
// removed or replaced after the process started.
func processExe(pid int) (exe string, deleted bool, ok bool) {
	if !alive(pid) {
		return "", false, false
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return "", false, false
	}
	if trimmed, found := strings.CutSuffix(exe, " (deleted)"); found {
		return trimmed, true, true
	}
	return exe, false, true
}

func sameFile(a, b string) bool {
	if ra, err := filepath.EvalSymlinks(b); err == nil {
		b = ra
	}
	return filepath.Clean(a) == filepath.Clean(b)
}

// alive is true for a process that exists and is not a zombie.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces and parentheses, the state follows the last ')'.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// ensure makes c run and be healthy: a process left by an earlier run is reused, a stale one (its
// binary was rebuilt) is replaced. It reports whether c was already running.
func (s *supervisor) ensure(ctx context.Context, c component) (reused bool, err error) {
	if pid, stale, ok := s.running(c.name, c.bin); ok {
		if !stale {
			if err := s.waitHealthy(ctx, c, pid); err != nil {
				return false, err
			}
			s.log.Info("reusing running process", "component", c.name, "pid", pid)
			return true, nil
		}
		s.log.Info("binary was rebuilt, restarting", "component", c.name, "pid", pid)
		if err := s.stop(ctx, c.name, c.bin, 15*time.Second); err != nil {
			return false, err
		}
	}
	if _, err := os.Stat(c.bin); err != nil {
		return false, fmt.Errorf("start %s: missing binary %s (run `make tools`): %w", c.name, c.bin, err)
	}
	for _, p := range c.ports {
		if err := portFree(p); err != nil {
			return false, fmt.Errorf("start %s: %w", c.name, err)
		}
	}
	start := time.Now()
	pid, err := s.launch(c)
	if err != nil {
		return false, err
	}
	if err := s.waitHealthy(ctx, c, pid); err != nil {
		return false, err
	}
	s.log.Info("started", "component", c.name, "pid", pid, "took", time.Since(start).Round(time.Millisecond))
	return false, nil
}

// launch starts c in its own process group with its output appended to its log file.
func (s *supervisor) launch(c component) (int, error) {
	if err := os.MkdirAll(s.logs, 0o755); err != nil {
		return 0, fmt.Errorf("create log dir: %w", err)
	}
	if err := os.MkdirAll(s.pids, 0o755); err != nil {
		return 0, fmt.Errorf("create pid dir: %w", err)
	}
	out, err := os.OpenFile(s.logFile(c.name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("open log of %s: %w", c.name, err)
	}
	defer out.Close()
	fmt.Fprintf(out, "\n==== %s devstack: starting %s %s\n", time.Now().Format(time.RFC3339), c.bin, strings.Join(c.args, " "))
	cmd := exec.Command(c.bin, c.args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), c.env...)
	// Own process group: a Ctrl-C in the terminal reaches `rainflow dev`, which stops the stack in order,
	// and not every child at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.cred}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", c.name, err)
	}
	pid := cmd.Process.Pid
	done := make(chan struct{})
	s.mu.Lock()
	s.exited[pid] = done
	s.mu.Unlock()
	go func() {
		_ = cmd.Wait() // reaps the child; the exit status is in its log's last lines
		close(done)
	}()
	if err := os.WriteFile(s.pidFile(c.name), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		return 0, fmt.Errorf("write pid file of %s: %w", c.name, err)
	}
	return pid, nil
}

// waitHealthy polls c.health until it passes, the process dies, or the deadline passes.
func (s *supervisor) waitHealthy(ctx context.Context, c component, pid int) error {
	timeout := c.timeout
	if timeout == 0 {
		timeout = s.timeout
	}
	if c.health == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		probe, cancelProbe := context.WithTimeout(ctx, 2*time.Second)
		last = c.health(probe)
		cancelProbe()
		if last == nil {
			return nil
		}
		if !alive(pid) {
			return fmt.Errorf("%s exited during startup; last lines of %s:\n%s", c.name, s.logFile(c.name), tailFile(s.logFile(c.name), 25))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy after %s (%v); last lines of %s:\n%s", c.name, timeout, last, s.logFile(c.name), tailFile(s.logFile(c.name), 25))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop ends name's process (SIGTERM, then SIGKILL after grace) when its pid file names a live process
// running bin, and removes the pid file. A missing process is not an error.
func (s *supervisor) stop(ctx context.Context, name, bin string, grace time.Duration) error {
	pid, _, ok := s.running(name, bin)
	if !ok {
		_ = os.Remove(s.pidFile(name))
		return nil
	}
	start := time.Now()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s (pid %d): %w", name, pid, err)
	}
	if !s.waitExit(ctx, pid, grace) {
		s.log.Warn("did not exit in time, killing", "component", name, "pid", pid, "grace", grace)
		_ = syscall.Kill(pid, syscall.SIGKILL)
		if !s.waitExit(ctx, pid, 5*time.Second) {
			return fmt.Errorf("stop %s: pid %d survived SIGKILL", name, pid)
		}
	}
	_ = os.Remove(s.pidFile(name))
	s.log.Info("stopped", "component", name, "pid", pid, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// waitExit waits until pid is gone (or a zombie not ours to reap) for at most d.
func (s *supervisor) waitExit(ctx context.Context, pid int, d time.Duration) bool {
	s.mu.Lock()
	done, ours := s.exited[pid]
	s.mu.Unlock()
	timer := time.NewTimer(d)
	defer timer.Stop()
	if ours {
		select {
		case <-done:
			return true
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for alive(pid) {
		select {
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
	return true
}

// tailFile returns the last n lines of a file, for error messages.
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	const maxTail = 64 << 10
	st, err := f.Stat()
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	off := max(st.Size()-maxTail, 0)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return "(unreadable log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

func firstExisting(candidates ...string) string {
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return candidates[0]
}
