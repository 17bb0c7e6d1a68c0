package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// CPU time is what the deploy benchmarks count besides wall time: on a small machine shared with other
// work, the wall time of an operation swings with the load, the CPU time it costs each process much less.

// clockTick is the unit of /proc/<pid>/stat's times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuSample is the CPU time used so far by this process (the in-process worker and the Temporal
// client), by each direct child of a `rainflow dev` process (Temporal, etcd, kube-apiserver, ...),
// and by the whole machine.
type cpuSample struct {
	at      time.Time
	self    time.Duration
	procs   map[string]time.Duration // by name
	machine time.Duration            // busy time of all CPUs
}

// sampleCPU reads the CPU times of this process, of devPID's children, and of the machine.
func sampleCPU(devPID int) cpuSample {
	s := cpuSample{at: time.Now(), procs: map[string]time.Duration{}}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		ppid, cpu, ok := procStat(path)
		if !ok || ppid != devPID {
			continue
		}
		s.procs[procName(filepath.Dir(path))] += cpu
	}
	s.machine = machineBusy()
	return s
}

// procStat reads a process's parent and CPU time (user + system) from its stat file.
func procStat(path string) (ppid int, cpu time.Duration, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:])) // state ppid pgrp ... utime(12) stime(13)
	if len(f) < 13 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return ppid, time.Duration(utime+stime) * clockTick, true
}

// procName names a process by its binary, and the rainflow binary by its subcommand too.
func procName(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	name := filepath.Base(args[0])
	if name == "rainflow" && len(args) > 1 {
		name += " " + args[1]
	}
	return name
}

// machineBusy is the time all CPUs spent not idle, from /proc/stat.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 && i < 8 { // not idle, not iowait, not guest (counted in user)
			busy += n
		}
	}
	return time.Duration(busy) * clockTick
}

// reportCPU adds the CPU time per operation of Temporal (temporal-cpu-ms) and of this process
// (bench-cpu-ms) to b's metrics, and logs every process's and the machine's share.
func reportCPU(b *testing.B, from, to cpuSample, ops int, what string) {
	per := func(d time.Duration) float64 { return ms(d) / float64(max(ops, 1)) }
	b.ReportMetric(per(to.procs["temporal"]-from.procs["temporal"]), "temporal-cpu-ms")
	b.ReportMetric(per(to.self-from.self), "bench-cpu-ms")

	wall := to.at.Sub(from.at)
	names := make([]string, 0, len(to.procs))
	for name := range to.procs {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := []string{fmt.Sprintf("this process (worker+client) %.1f", per(to.self-from.self))}
	for _, name := range names {
		if d := to.procs[name] - from.procs[name]; d > 0 {
			parts = append(parts, fmt.Sprintf("%s %.1f", name, per(d)))
		}
	}
	// one line: the framework keeps only the first 10 lines of a benchmark's log
	b.Logf("CPU ms per %s over %s (machine busy %.0f%% of %d CPUs): %s", what, wall.Round(time.Millisecond),
		100*float64(to.machine-from.machine)/float64(wall)/float64(runtime.NumCPU()), runtime.NumCPU(),
		strings.Join(parts, ", "))
}
