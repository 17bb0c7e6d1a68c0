package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/store"
	"github.com/rainflow/rainflow/workers"
)

type workerConfig struct {
	Temporal         temporalConfig
	Kubeconfig       string
	DB               store.Config
	InsecureRegistry []string
	MaxActivities    int
	AdminListen      string
}

func (c *workerConfig) define(f *flags) {
	c.Temporal.define(f)
	f.str(&c.Kubeconfig, "kubeconfig", "RAINFLOW_KUBECONFIG", "", "kubeconfig path; empty uses the in-cluster config")
	defineDB(f, &c.DB)
	f.list(&c.InsecureRegistry, "insecure-registry", "RAINFLOW_INSECURE_REGISTRY", "", "registries reached over plain HTTP (loopback always is)")
	f.integer(&c.MaxActivities, "max-activities", "", 100, "activities run at once")
	f.str(&c.AdminListen, "admin-listen", "", "127.0.0.1:7483", "address of /healthz (200 once polling) and /metrics; empty for none")
}

func (c workerConfig) Validate() error {
	if err := c.Temporal.validate(); err != nil {
		return err
	}
	if c.MaxActivities <= 0 {
		return errors.New("max-activities must be positive")
	}
	return c.DB.Validate()
}

func runWorker(ctx context.Context, args []string) error {
	var cfg workerConfig
	f := newFlags("worker")
	cfg.define(f)
	if err := f.parse(args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid worker config: %w", err)
	}
	logger := newLogger("worker")

	kube, _, err := kubeClient(cfg.Kubeconfig, "rainflow-worker")
	if err != nil {
		return err
	}
	st, tc, closeAll, err := openStoreAndTemporal(ctx, cfg.DB, cfg.Temporal, logger)
	if err != nil {
		return err
	}
	defer closeAll()

	w := workers.NewOperations(tc, workers.Activities{
		Kube:     &activities.Kube{Client: kube},
		Registry: &activities.Registry{Insecure: cfg.InsecureRegistry},
		Store:    &activities.Store{Releases: st},
	}, workers.Options{MaxConcurrentActivities: cfg.MaxActivities})
	logger.Info("worker starting", "temporal", cfg.Temporal.Address, "namespace", cfg.Temporal.Namespace)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer w.Stop()
	if cfg.AdminListen != "" {
		if err := serveAdmin(ctx, cfg.AdminListen, logger); err != nil {
			return err
		}
	}
	<-ctx.Done()
	logger.Info("worker stopping")
	return nil
}

// defineDB defines the metadata database flags shared by the api and the worker.
func defineDB(f *flags, db *store.Config) {
	f.str(&db.Driver, "db-driver", "RAINFLOW_DB_DRIVER", "sqlite", "metadata database: sqlite or mysql")
	f.str(&db.DSN, "db-dsn", "RAINFLOW_DB_DSN", ".rainflow/rainflow.db", "metadata database DSN (a file for sqlite; user:pass@tcp(host:3306)/db?parseTime=true for mysql)")
}
