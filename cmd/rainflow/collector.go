package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/rainflow/rainflow/collector"
)

func runCollector(ctx context.Context, args []string) error {
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
