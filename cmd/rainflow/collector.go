package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rainflow/rainflow/collector"
)

func runCollector(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "drain" {
		return runCollectorDrain(ctx, args[1:])
	}
	var cfg collector.Config
	f := newFlags("collector")
	f.str(&cfg.Listen, "listen", "", "127.0.0.1:7482", "address of the ingest and query API")
	f.str(&cfg.DataDir, "data-dir", "", ".rainflow/collector", "folder of the log segments")
	var maxAge time.Duration
	var maxMiB int
	f.duration(&maxAge, "retention-max-age", "", collector.DefaultRetentionMaxAge, "remove sealed segments of every stream written longer ago")
	f.integer(&maxMiB, "retention-max-mib", "", collector.DefaultRetentionMaxBytes>>20, "keep at most this many MiB of segments per stream (plus its active one)")
	f.duration(&cfg.Retention.SweepInterval, "sweep-interval", "", collector.DefaultSweepInterval, "how often retention and compression of sealed segments run (negative: never)")
	f.integer(&cfg.Tail.Buffer, "tail-buffer", "", collector.DefaultTailBuffer, "lines a live tail holds for a slow reader before dropping (and reporting) lines")
	f.after(func() {
		r := collector.Retention{MaxAge: maxAge, MaxBytes: int64(maxMiB) << 20}
		cfg.Retention.Event, cfg.Retention.Build, cfg.Retention.Runtime, cfg.Retention.Access = r, r, r, r
	})
	var kubeconfig, follow string
	f.str(&cfg.Self, "self", "", "", "this replica's member name, the pod name in a cluster (empty: one collector owning every app)")
	f.list(&cfg.Members, "members", "", "", "the replicas sharing the apps as name=http://host:port, this one included")
	f.str(&cfg.MembersService, "members-service", "", "", "namespace/name of the collector Service whose ready endpoints are the members")
	f.str(&cfg.MembersPort, "members-port", "", "", "API port of the members found through --members-service (default: the port of --listen)")
	f.str(&follow, "follow-runtime", "", "false", "follow the output of the pods of the apps this replica owns (true or false)")
	f.str(&cfg.FollowNamespace, "follow-namespace", "", "", "follow pods of this namespace only (empty: all)")
	f.str(&kubeconfig, "kubeconfig", "RAINFLOW_KUBECONFIG", "", "kubeconfig for following runtime output and finding members (empty: in-cluster)")
	if err := f.parse(args); err != nil {
		return err
	}
	var err error
	if cfg.FollowRuntime, err = strconv.ParseBool(follow); err != nil {
		return fmt.Errorf("--follow-runtime %q: %w", follow, err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid collector config: %w", err)
	}
	logger := newLogger("collector")
	c, err := collector.New(cfg, logger)
	if err != nil {
		return fmt.Errorf("create collector: %w", err)
	}
	if cfg.FollowRuntime || cfg.MembersService != "" {
		kube, _, err := kubeClient(kubeconfig, "rainflow-collector")
		if err != nil {
			return err
		}
		c.UseKubernetes(kube)
	}
	logger.Info("collector starting", "listen", cfg.Listen, "data", cfg.DataDir)
	return c.Run(ctx)
}

// runCollectorDrain is `rainflow collector drain --url URL`: it starts the drain of the collector replica
// at URL (POST /v1/admin/drain), prints its progress until it ends, and fails when the drain fails. Run
// it again after a failure or an interruption: what was handed over is not sent again.
func runCollectorDrain(ctx context.Context, args []string) error {
	var base string
	var every time.Duration
	f := newFlags("collector-drain")
	f.str(&base, "url", "", "", "base URL of the collector replica to drain, e.g. http://10.0.0.7:7482")
	f.duration(&every, "poll", "", time.Second, "how often the progress is asked for and printed")
	if err := f.parse(args); err != nil {
		return err
	}
	if base == "" {
		return fmt.Errorf("--url is required")
	}
	base = strings.TrimSuffix(base, "/")
	hc := &http.Client{Timeout: 30 * time.Second}
	st, err := drainCall(ctx, hc, http.MethodPost, base)
	if err != nil {
		return err
	}
	for {
		fmt.Fprintf(os.Stdout, "drain %s: pass %d, %d of %d streams, %d segments (%d MiB) sent, %d follow positions handed\n",
			st.State, st.Pass, st.StreamsDone, st.Streams, st.SegmentsSent, st.BytesSent>>20, st.Positions)
		switch st.State {
		case collector.DrainDone:
			fmt.Fprintln(os.Stdout, "drain done: the replica can be removed from the members")
			return nil
		case collector.DrainFailed:
			return fmt.Errorf("drain failed (run it again to resume): %s", st.Error)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
		if st, err = drainCall(ctx, hc, http.MethodGet, base); err != nil {
			return err
		}
	}
}

// drainCall asks the collector to start the drain (POST) or for its progress (GET).
func drainCall(ctx context.Context, hc *http.Client, method, base string) (collector.DrainStatus, error) {
	var st collector.DrainStatus
	req, err := http.NewRequestWithContext(ctx, method, base+"/v1/admin/drain", nil)
	if err != nil {
		return st, fmt.Errorf("build drain request: %w", err)
	}
	res, err := hc.Do(req)
	if err != nil {
		return st, fmt.Errorf("call collector: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return st, fmt.Errorf("read drain answer: %w", err)
	}
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusAccepted {
		var p collector.Problem
		if json.Unmarshal(body, &p) == nil && p.Detail != "" {
			return st, fmt.Errorf("drain: %d %s", res.StatusCode, p.Detail)
		}
		return st, fmt.Errorf("drain: %d %s", res.StatusCode, body)
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("decode drain progress: %w", err)
	}
	return st, nil
}
