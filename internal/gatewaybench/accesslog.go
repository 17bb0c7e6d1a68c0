package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rainflow/rainflow/collector"
)

// The access log's cost: a third gateway process sends every request's access line to a collector
// (this program re-executed as "collector <data-dir>", a real collector with its fsync'd ingest) and
// is measured beside the one that only logs.

// runCollector runs a collector on a port of 127.0.0.1 over dataDir, prints "ready <addr>" and serves
// until ctx is done.
func runCollector(ctx context.Context, args []string, out io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("collector: want one argument, the data folder; got %q", args)
	}
	c, err := collector.New(collector.Config{Listen: "127.0.0.1:0", DataDir: args[0]}, nil)
	if err != nil {
		return fmt.Errorf("create collector: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	for c.Addr() == nil {
		select {
		case err := <-done:
			return fmt.Errorf("run collector: %w", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	fmt.Fprintf(out, "ready %s\n", c.Addr())
	return <-done
}

// accessLogCounts reads the gateway's access-log counters (sent, and dropped by reason) from its
// admin /metrics.
func accessLogCounts(ctx context.Context, admin string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/metrics", nil)
	if err != nil {
		return "", fmt.Errorf("read gateway metrics: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("read gateway metrics: %w", err)
	}
	defer func() { _ = res.Body.Close() }()
	var counts []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "rainflow_gateway_access_log_") {
			counts = append(counts, strings.TrimPrefix(line, "rainflow_gateway_access_log_"))
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read gateway metrics: %w", err)
	}
	return strings.Join(counts, "  "), nil
}
