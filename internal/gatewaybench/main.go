// Command gatewaybench is `make bench-gateway`: it compares the gateway with nginx as a reverse proxy of
// one small HTTP backend (over HTTP and HTTPS), and as a TCP stream proxy, on 127.0.0.1, in one bounded run.
//
// It starts the backend, nginx (2 workers, upstream keepalive, config in a temp dir) and the gateway
// (this program re-executed, on a fake clientset holding the backend's Ingress, Service and
// EndpointSlice, and a TCP route), each in a process of its own. Then, in interleaved rounds, wrk
// loads the backend directly, through nginx and through the gateway (plain HTTP, then HTTPS with the
// same certificate for both), and a reader pulls bytes through
// nginx's stream proxy and the gateway's TCP route. It prints req/s, p50/p99 latency and CPU per
// request (utime+stime of the proxy's processes, from /proc), MB/s and CPU per GB, the medians of the
// rounds and the gateway/nginx ratios.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Config is one bench run.
type Config struct {
	Rounds      int
	Duration    time.Duration // of one wrk run
	Threads     int
	Connections int
	TCPDuration time.Duration // of one TCP throughput run
	TCPConns    int
	// CPUProfile, when set, is where the gateway process writes its CPU profile (go tool pprof).
	CPUProfile string
	// GatewayProcs is the GOMAXPROCS of the gateway processes, 0 for Go's default (the CPUs).
	GatewayProcs int
}

// Validate bounds the run so that it stays under 3 minutes.
func (c Config) Validate() error {
	if c.Rounds < 1 || c.Threads < 1 || c.Connections < c.Threads || c.TCPConns < 1 {
		return fmt.Errorf("bench config %+v: rounds, threads and TCP connections must be positive, connections at least threads", c)
	}
	if c.Duration < time.Second || c.TCPDuration < time.Second {
		return fmt.Errorf("bench config: runs of %s and %s are too short to measure (at least 1s)", c.Duration, c.TCPDuration)
	}
	if total := time.Duration(c.Rounds) * (6*c.Duration + 2*c.TCPDuration); total > 150*time.Second {
		return fmt.Errorf("bench config: %s of load is over the 150s bound", total)
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "backend":
		err = runBackend(ctx, os.Stdout)
	case len(os.Args) > 1 && os.Args[1] == "gateway":
		err = runGateway(ctx, os.Args[2:], os.Stdout)
	case len(os.Args) > 1 && os.Args[1] == "collector":
		err = runCollector(ctx, os.Args[2:], os.Stdout)
	default:
		cfg := Config{}
		flag.IntVar(&cfg.Rounds, "rounds", 3, "interleaved rounds")
		flag.DurationVar(&cfg.Duration, "duration", 4*time.Second, "duration of one wrk run")
		flag.IntVar(&cfg.Threads, "threads", 2, "wrk threads")
		flag.IntVar(&cfg.Connections, "connections", 64, "wrk connections")
		flag.DurationVar(&cfg.TCPDuration, "tcp-duration", 3*time.Second, "duration of one TCP throughput run")
		flag.IntVar(&cfg.TCPConns, "tcp-connections", 4, "parallel TCP connections")
		flag.StringVar(&cfg.CPUProfile, "gateway-cpuprofile", "", "write the gateway's CPU profile to this file")
		flag.IntVar(&cfg.GatewayProcs, "gateway-gomaxprocs", 0, "GOMAXPROCS of the gateway processes (0: Go's default)")
		flag.Parse()
		if err = cfg.Validate(); err == nil {
			err = run(ctx, cfg)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatewaybench:", err)
		os.Exit(1)
	}
}
