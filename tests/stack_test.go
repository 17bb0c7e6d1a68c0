// Package tests holds the integration and end-to-end tests: they run against the real stack that
// `rainflow dev` starts (Temporal dev server, local Kubernetes with a real node, registry) and drive it
// the way a user does, through the REST API.
package tests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rainflow/rainflow/devstack"
)

var (
	stack    devstack.Info
	repoRoot string
	stateDir string
	devBin   string // the rainflow binary under test
	toolsDir string // the pinned tools (make tools)
)

func TestMain(m *testing.M) {
	code, err := runWithStack(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// noStackEnv, set to 1, runs the tests without starting the stack: for benchmarks that need only MariaDB.
const noStackEnv = "RAINFLOW_TESTS_NO_STACK"

// runWithStack builds the rainflow binary, starts `rainflow dev` in its own state folder, runs the
// tests against it, and stops it.
func runWithStack(m *testing.M) (int, error) {
	wd, err := os.Getwd()
	if err != nil {
		return 0, err
	}
	repoRoot = filepath.Dir(wd)
	if os.Getenv(noStackEnv) == "1" {
		// benchmarks that need only MariaDB (make bench-api) measure without the stack's load
		stateDir = filepath.Join(repoRoot, ".rainflow", "test")
		return m.Run(), nil
	}
	tools := filepath.Join(repoRoot, ".rainflow", "bin")
	if _, err := os.Stat(filepath.Join(tools, "kube-apiserver")); err != nil {
		return 0, fmt.Errorf("the pinned tools are missing in %s: run `make tools` (or `make test`, which does)", tools)
	}
	stateDir = filepath.Join(repoRoot, ".rainflow", "test")
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return 0, err
	}
	bin := filepath.Join(stateDir, "rainflow")
	devBin, toolsDir = bin, tools
	build := exec.Command("go", "build", "-o", bin, "./cmd/rainflow")
	build.Dir, build.Stdout, build.Stderr = repoRoot, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return 0, fmt.Errorf("build rainflow: %w", err)
	}

	t0 := time.Now()
	info, stop, err := startDev(bin, stateDir, "--bin", tools)
	if err != nil {
		return 0, err
	}
	stack = info
	fmt.Fprintf(os.Stderr, "tests: stack up in %s (real node: %v %s)\n", time.Since(t0).Round(time.Millisecond), stack.RealNode, stack.RealNodeReason)
	if err := removeStaleNamespaces(info.Kubeconfig); err != nil {
		_ = stop()
		return 0, err
	}
	code := m.Run()
	if err := stop(); err != nil {
		return code, err
	}
	return code, nil
}

// removeStaleNamespaces deletes the namespaces earlier runs left in the test stack's Kubernetes state
// (tests that create tenants through the API leave their namespaces, and the state outlives a run), and
// waits until they are gone: their pods would otherwise start again on the one real node at every boot
// and hold new pods back for minutes. A fresh state has none, and costs one List.
func removeStaleNamespaces(kubeconfig string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("remove stale namespaces: %w", err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("remove stale namespaces: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	list, err := kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("remove stale namespaces: %w", err)
	}
	var stale []string
	for _, ns := range list.Items {
		if ns.Name == metav1.NamespaceDefault || strings.HasPrefix(ns.Name, "kube-") {
			continue
		}
		stale = append(stale, ns.Name)
		if err := kube.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("remove stale namespace %s: %w", ns.Name, err)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	t0 := time.Now()
	for _, name := range stale {
		for {
			_, err := kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("stale namespace %s still there after 5 minutes", name)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	fmt.Fprintf(os.Stderr, "tests: removed %d namespaces of earlier runs in %s\n", len(stale), time.Since(t0).Round(time.Millisecond))
	return nil
}

// startDev runs `rainflow dev` with its state in state and waits until it is up; stop stops it.
func startDev(bin, state string, args ...string) (info devstack.Info, stop func() error, err error) {
	logPath := filepath.Join(state, "dev.log")
	if err := os.MkdirAll(state, 0o755); err != nil {
		return info, nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return info, nil, err
	}
	infoPath := devstack.InfoPath(state)
	_ = os.Remove(infoPath)
	dev := exec.Command(bin, append([]string{"dev", "--state", state}, args...)...)
	dev.Stdout, dev.Stderr = logf, logf
	// the worker may build from git repositories in the tests' temp dirs (file:// URLs)
	dev.Env = append(os.Environ(), "RAINFLOW_ALLOW_LOCAL_GIT=true")
	dev.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := dev.Start(); err != nil {
		logf.Close()
		return info, nil, fmt.Errorf("start rainflow dev: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- dev.Wait(); logf.Close() }()
	stop = func() error {
		_ = dev.Process.Signal(os.Interrupt)
		select {
		case <-exited:
			return nil
		case <-time.After(3 * time.Minute):
			_ = syscall.Kill(-dev.Process.Pid, syscall.SIGKILL)
			return errors.New("rainflow dev did not stop within 3 minutes")
		}
	}
	deadline := time.After(10 * time.Minute)
	for {
		if info, err = devstack.ReadInfo(infoPath); err == nil {
			return info, stop, nil
		}
		select {
		case err := <-exited:
			return info, nil, fmt.Errorf("rainflow dev exited before it was up (%v); last lines of %s:\n%s", err, logPath, tail(logPath, 30))
		case <-deadline:
			_ = stop()
			return info, nil, fmt.Errorf("rainflow dev not up after 10 minutes; last lines of %s:\n%s", logPath, tail(logPath, 30))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// testContext is a context bounded by the test's deadline (or 5 minutes).
func testContext(t *testing.T) context.Context {
	t.Helper()
	d := 5 * time.Minute
	if dl, ok := t.Deadline(); ok && time.Until(dl) < d {
		d = time.Until(dl) - 5*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
