package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// procSpec is one platform process `rainflow dev` runs from its own binary.
type procSpec struct {
	name   string
	args   []string
	health string // URL answering 200 once the process is ready; empty: none
}

type proc struct {
	spec procSpec
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// procGroup runs the platform's processes, each with its log file, and reports the first that exits.
type procGroup struct {
	logDir string
	env    []string
	logger *slog.Logger
	procs  []*proc
	exited chan error
}

func newProcGroup(logDir string, env []string, logger *slog.Logger) *procGroup {
	return &procGroup{logDir: logDir, env: env, logger: logger, exited: make(chan error, 8)}
}

func (g *procGroup) start(ctx context.Context, s procSpec) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	logPath := filepath.Join(g.logDir, s.name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open %s log: %w", s.name, err)
	}
	cmd := exec.Command(exe, s.args...)
	cmd.Env = append(os.Environ(), g.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", s.name, err)
	}
	p := &proc{spec: s, cmd: cmd, log: logPath, done: make(chan struct{})}
	g.procs = append(g.procs, p)
	g.logger.Info("started", "process", s.name, "pid", cmd.Process.Pid, "log", logPath)
	go func() {
		err := cmd.Wait()
		logf.Close()
		close(p.done)
		if ctx.Err() == nil {
			g.exited <- fmt.Errorf("%s exited (%v); last lines of %s:\n%s", s.name, err, logPath, tail(logPath, 15))
		}
	}()
	return nil
}

// waitHealthy waits until every process with a health URL answers 200.
func (g *procGroup) waitHealthy(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for _, p := range g.procs {
		if p.spec.health == "" {
			continue
		}
		for {
			resp, err := client.Get(p.spec.health)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case err := <-g.exited:
				return err
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not healthy at %s after %s; last lines of %s:\n%s", p.spec.name, p.spec.health, timeout, p.log, tail(p.log, 15))
			}
		}
	}
	return nil
}

// stop sends SIGTERM to every process (newest first) and SIGKILL to those still running after grace.
func (g *procGroup) stop(grace time.Duration) {
	for i := len(g.procs) - 1; i >= 0; i-- {
		p := g.procs[i]
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			g.logger.Warn("did not stop in time, killing", "process", p.spec.name)
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
