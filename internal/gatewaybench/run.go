package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// target is one thing wrk or the TCP reader loads: an address and the process whose CPU it costs.
type target struct {
	name  string
	addr  string
	pid   int
	https bool // wrk speaks HTTPS to it
}

// url is what wrk loads.
func (t target) url() string {
	if t.https {
		return "https://" + t.addr + "/"
	}
	return "http://" + t.addr + "/"
}

// httpSample and tcpSample are one round's measurement of one target.
type httpSample struct {
	wrkResult
	cpuPerRequest time.Duration
	// allPerRequest is the CPU of everything the request passed through: wrk, the backend and the
	// proxy; busy is the share of the machine's CPUs they used during the run (near 1: CPU-bound).
	allPerRequest time.Duration
	busy          float64
}

type tcpSample struct {
	mbPerSecond float64
	cpuPerGB    time.Duration
}

func run(ctx context.Context, cfg Config) error {
	for _, tool := range []string{"wrk", "nginx"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("find %s: %w (make deps installs it)", tool, err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program: %w", err)
	}
	dir, err := os.MkdirTemp("", "gatewaybench-")
	if err != nil {
		return fmt.Errorf("create temp dir: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	var procs children
	defer procs.stop()

	backend, lines, err := procs.start(ctx, "backend", self, "backend")
	if err != nil {
		return err
	}
	backendHTTP, source := lines[1], lines[2]
	ports, err := freePorts(6)
	if err != nil {
		return err
	}
	certFile, keyFile, err := benchCertificate(dir, time.Now())
	if err != nil {
		return err
	}
	nl := nginxListen{http: "127.0.0.1:" + ports[0], stream: "127.0.0.1:" + ports[1], https: "127.0.0.1:" + ports[5],
		certFile: certFile, keyFile: keyFile}
	gatewayHTTP := "127.0.0.1:" + ports[2]
	conf, err := writeNginxConfig(dir, backendHTTP, source, nl)
	if err != nil {
		return err
	}
	nginx, err := procs.startNginx(ctx, conf, dir, nl.http, nl.stream, nl.https)
	if err != nil {
		return err
	}
	gw, lines, err := procs.start(ctx, "gateway", self, "gateway", "-http", gatewayHTTP, "-backend", backendHTTP,
		"-source", source, "-l4-port", ports[3], "-cpuprofile", cfg.CPUProfile,
		"-gomaxprocs", strconv.Itoa(cfg.GatewayProcs),
		"-https", "127.0.0.1:0", "-cert", certFile, "-key", keyFile)
	if err != nil {
		return err
	}
	gatewayHTTP, gatewayHTTPS := lines[1], lines[3]
	gatewayL4 := "127.0.0.1:" + ports[3]
	// The fast-path gateway again, sending its access log to a collector (its TCP route unused).
	_, lines, err = procs.start(ctx, "collector", self, "collector", filepath.Join(dir, "collector"))
	if err != nil {
		return err
	}
	accessGW, lines, err := procs.start(ctx, "gateway-accesslog", self, "gateway", "-http", "127.0.0.1:0",
		"-backend", backendHTTP, "-source", source, "-l4-port", ports[4], "-collector-url", "http://"+lines[1],
		"-gomaxprocs", strconv.Itoa(cfg.GatewayProcs))
	if err != nil {
		return err
	}
	accessHTTP, accessAdmin := lines[1], lines[2]

	httpTargets := []target{{name: "backend", addr: backendHTTP, pid: backend}, {name: "nginx", addr: nl.http, pid: nginx},
		{name: "gateway", addr: gatewayHTTP, pid: gw}, {name: "gateway-accesslog", addr: accessHTTP, pid: accessGW},
		{name: "nginx-https", addr: nl.https, pid: nginx, https: true},
		{name: "gateway-https", addr: gatewayHTTPS, pid: gw, https: true}}
	tcpTargets := []target{{name: "nginx-stream", addr: nl.stream, pid: nginx}, {name: "gateway-l4", addr: gatewayL4, pid: gw}}
	clock := newCPUClock()
	fmt.Printf("gateway bench: %d interleaved rounds; wrk -t%d -c%d -d%s; TCP %d connections for %s; GOMAXPROCS of the gateway: %s\n",
		cfg.Rounds, cfg.Threads, cfg.Connections, cfg.Duration, cfg.TCPConns, cfg.TCPDuration, goMaxProcs(cfg.GatewayProcs))
	for _, t := range httpTargets { // warm up: connections, caches, the gateway's pools
		if _, _, err := runWrk(ctx, t.url(), cfg.Threads, cfg.Connections, time.Second); err != nil {
			return fmt.Errorf("warm up %s: %w", t.name, err)
		}
	}

	httpSamples := make(map[string][]httpSample)
	tcpSamples := make(map[string][]tcpSample)
	for round := range cfg.Rounds {
		for _, t := range httpTargets {
			s, err := measureHTTP(ctx, clock, t, backend, cfg)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round+1, t.name, err)
			}
			httpSamples[t.name] = append(httpSamples[t.name], s)
			fmt.Printf("  round %d %-17s %9.0f req/s  p50 %-9s p99 %-9s CPU/req %-8s all %-8s busy %.2f\n", round+1, t.name,
				s.PerSecond, s.P50.Round(time.Microsecond), s.P99.Round(time.Microsecond),
				s.cpuPerRequest.Round(100*time.Nanosecond), s.allPerRequest.Round(100*time.Nanosecond), s.busy)
		}
		for _, t := range tcpTargets {
			s, err := measureTCP(ctx, clock, t, cfg)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round+1, t.name, err)
			}
			tcpSamples[t.name] = append(tcpSamples[t.name], s)
			fmt.Printf("  round %d %-12s %8.0f MB/s  CPU/GB %s\n", round+1, t.name, s.mbPerSecond, s.cpuPerGB.Round(time.Millisecond))
		}
	}
	report(os.Stdout, httpTargets, httpSamples, tcpTargets, tcpSamples)
	counts, err := accessLogCounts(ctx, accessAdmin)
	if err != nil {
		return err
	}
	fmt.Printf("  gateway-accesslog lines (warm-up included): %s\n", counts)
	return nil
}

// measureHTTP runs wrk against one target and charges the CPU its process used meanwhile; it also
// adds up the CPU of wrk and of the backend (once, when the target is the backend itself).
func measureHTTP(ctx context.Context, clock cpuClock, t target, backend int, cfg Config) (httpSample, error) {
	before, err := clock.of(t.pid)
	if err != nil {
		return httpSample{}, err
	}
	backendBefore, err := clock.of(backend)
	if err != nil {
		return httpSample{}, err
	}
	start := time.Now()
	res, wrkCPU, err := runWrk(ctx, t.url(), cfg.Threads, cfg.Connections, cfg.Duration)
	if err != nil {
		return httpSample{}, err
	}
	elapsed := time.Since(start)
	after, err := clock.of(t.pid)
	if err != nil {
		return httpSample{}, err
	}
	backendAfter, err := clock.of(backend)
	if err != nil {
		return httpSample{}, err
	}
	if res.Errors > 0 {
		return httpSample{}, fmt.Errorf("wrk saw %d errors or non-2xx answers", res.Errors)
	}
	s := httpSample{wrkResult: res}
	all := wrkCPU + (after - before)
	if t.pid != backend {
		all += backendAfter - backendBefore
	}
	s.busy = all.Seconds() / elapsed.Seconds() / float64(runtime.NumCPU())
	if res.Requests > 0 {
		s.cpuPerRequest = (after - before) / time.Duration(res.Requests)
		s.allPerRequest = all / time.Duration(res.Requests)
	}
	return s, nil
}

// runWrk runs wrk once and returns what it measured and the CPU it used itself.
func runWrk(ctx context.Context, url string, threads, conns int, d time.Duration) (wrkResult, time.Duration, error) {
	cmd := exec.CommandContext(ctx, "wrk", "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(conns),
		"-d"+strconv.Itoa(int(d.Seconds()))+"s", "--latency", url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, 0, fmt.Errorf("run wrk: %w: %s", err, out)
	}
	res, err := parseWrk(string(out))
	return res, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), err
}

// measureTCP reads through one target on cfg.TCPConns connections for cfg.TCPDuration.
func measureTCP(ctx context.Context, clock cpuClock, t target, cfg Config) (tcpSample, error) {
	before, err := clock.of(t.pid)
	if err != nil {
		return tcpSample{}, err
	}
	var total atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, cfg.TCPConns)
	start := time.Now()
	deadline := start.Add(cfg.TCPDuration)
	for range cfg.TCPConns {
		wg.Go(func() {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", t.addr)
			if err != nil {
				errs <- err
				return
			}
			defer func() { _ = c.Close() }()
			_ = c.SetReadDeadline(deadline)
			n, err := io.CopyBuffer(io.Discard, c, make([]byte, 256<<10))
			total.Add(n)
			if ne, ok := errors.AsType[net.Error](err); err != nil && !(ok && ne.Timeout()) {
				errs <- err
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return tcpSample{}, fmt.Errorf("read through %s: %w", t.addr, err)
	}
	after, err := clock.of(t.pid)
	if err != nil {
		return tcpSample{}, err
	}
	bytes := float64(total.Load())
	if bytes == 0 {
		return tcpSample{}, fmt.Errorf("read through %s: no byte came through", t.addr)
	}
	return tcpSample{
		mbPerSecond: bytes / 1e6 / elapsed.Seconds(),
		cpuPerGB:    time.Duration(float64(after-before) * 1e9 / bytes),
	}, nil
}

// children are the processes the bench started; stop ends them all.
type children struct {
	cmds []*exec.Cmd
}

// start runs this program in a mode and waits for its "ready ..." line, whose fields it returns.
func (c *children) start(ctx context.Context, name, self string, args ...string) (int, []string, error) {
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return 0, nil, fmt.Errorf("start %s: %w", name, err)
	}
	c.cmds = append(c.cmds, cmd)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready") {
				lines <- sc.Text()
			}
		}
	}()
	select {
	case line := <-lines:
		return cmd.Process.Pid, strings.Fields(line), nil
	case <-time.After(30 * time.Second):
		return 0, nil, fmt.Errorf("start %s: not ready within 30s", name)
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
}

// startNginx runs nginx on the config and waits until both its ports accept connections.
func (c *children) startNginx(ctx context.Context, conf, dir string, addrs ...string) (int, error) {
	cmd := exec.CommandContext(ctx, "nginx", "-c", conf, "-p", dir, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start nginx: %w", err)
	}
	c.cmds = append(c.cmds, cmd)
	for _, addr := range addrs {
		if err := waitListening(ctx, addr); err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			return 0, fmt.Errorf("start nginx: %w; error log: %s", err, log)
		}
	}
	return cmd.Process.Pid, nil
}

// stop sends SIGTERM to every child (nginx's master stops its workers) and waits for them.
func (c *children) stop() {
	for i := len(c.cmds) - 1; i >= 0; i-- {
		cmd := c.cmds[i]
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
}

func waitListening(ctx context.Context, addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("wait for %s: nothing listens after 10s", addr)
}

// freePorts are n ports of 127.0.0.1 free right now.
func freePorts(n int) ([]string, error) {
	var out []string
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		out = append(out, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
	return out, nil
}

func goMaxProcs(procs int) string {
	if procs > 0 {
		return strconv.Itoa(procs)
	}
	if v := os.Getenv("GOMAXPROCS"); v != "" {
		return v
	}
	return "default (the CPUs)"
}
