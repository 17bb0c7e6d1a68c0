package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuClock reads the CPU time of a process and of its children (nginx's workers) from /proc.
type cpuClock struct {
	ticksPerSecond float64
}

func newCPUClock() cpuClock {
	hz := 100.0 // USER_HZ on every Linux build that matters; getconf confirms it when present
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && v > 0 {
			hz = v
		}
	}
	return cpuClock{ticksPerSecond: hz}
}

// of returns utime+stime of pid and of its direct children.
func (c cpuClock) of(pid int) (time.Duration, error) {
	total, _, err := c.stat(pid)
	if err != nil {
		return 0, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("list processes: %w", err)
	}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		t, ppid, err := c.stat(child)
		if err == nil && ppid == pid {
			total += t
		}
	}
	return total, nil
}

// stat reads utime+stime and the parent of one process from /proc/<pid>/stat.
func (c cpuClock) stat(pid int) (time.Duration, int, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, fmt.Errorf("read process stat: %w", err)
	}
	// The command name may hold spaces; the fields after its closing parenthesis are fixed.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, 0, fmt.Errorf("read process stat of %d: too few fields", pid)
	}
	ppid, _ := strconv.Atoi(fields[1])
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return time.Duration((utime + stime) / c.ticksPerSecond * float64(time.Second)), ppid, nil
}
