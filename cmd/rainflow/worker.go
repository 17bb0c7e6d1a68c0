package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/interceptor"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/collector/client"
	"github.com/rainflow/rainflow/opevents"
	"github.com/rainflow/rainflow/seal"
	"github.com/rainflow/rainflow/store"
	"github.com/rainflow/rainflow/workers"
)

type workerConfig struct {
	Temporal         temporalConfig
	Kubeconfig       string
	DB               store.Config
	InsecureRegistry []string
	MaxActivities    int
	StopTimeout      time.Duration
	AdminListen      string
	CollectorURL     string
	Builds           buildsConfig
	// KubeCacheSync bounds the wait for the Kubernetes cache at start; 0 runs without the cache.
	KubeCacheSync     time.Duration
	KeepReleaseLabels bool
}

func (c *workerConfig) define(f *flags) {
	c.Temporal.define(f)
	f.str(&c.Kubeconfig, "kubeconfig", "RAINFLOW_KUBECONFIG", "", "kubeconfig path; empty uses the in-cluster config")
	defineDB(f, &c.DB)
	f.list(&c.InsecureRegistry, "insecure-registry", "RAINFLOW_INSECURE_REGISTRY", "", "registries reached over plain HTTP (loopback always is)")
	f.integer(&c.MaxActivities, "max-activities", "", 100, "activities run at once")
	f.duration(&c.StopTimeout, "stop-timeout", "", 20*time.Second,
		"on SIGTERM, how long running activities may take to end before they are canceled (a rollout wait hands over at once)")
	f.str(&c.AdminListen, "admin-listen", "", "127.0.0.1:7483",
		"address of /healthz (200 while polling) and /metrics (the Temporal SDK's and the process's); a second worker on the same machine needs another address, or empty for none")
	f.str(&c.CollectorURL, "collector-url", "RAINFLOW_COLLECTOR_URL", "",
		"the collector that receives operations' event logs (http://host:port); empty sends none")
	f.duration(&c.KubeCacheSync, "kube-cache-sync", "", 30*time.Second,
		"how long to wait at start for the cache of the Kubernetes objects rainflow manages (read instead of the API, skips applies that change nothing, wakes rollout waits); "+
			"not synced by then, the activities read the API until it is; 0 runs without the cache")
	f.BoolVar(&c.KeepReleaseLabels, "keep-release-labels", true,
		"with the cache: an object a deploy would not change otherwise keeps the release label of the release that last changed it (no apply at all)")
	c.Builds.define(f)
}

func (c workerConfig) Validate() error {
	if err := c.Temporal.validate(); err != nil {
		return err
	}
	if c.MaxActivities <= 0 {
		return errors.New("max-activities must be positive")
	}
	if err := c.Builds.validate(); err != nil {
		return err
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
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cfg.Temporal.Metrics, err = workers.NewMetricsHandler(reg); err != nil {
		return fmt.Errorf("register temporal metrics: %w", err)
	}
	st, tc, closeAll, err := openStoreAndTemporal(ctx, cfg.DB, cfg.Temporal, logger)
	if err != nil {
		return err
	}
	defer closeAll()

	var intercept []interceptor.WorkerInterceptor
	var events *opevents.Emitter
	if cfg.CollectorURL != "" {
		events = opevents.NewEmitter(ctx, &client.Client{BaseURL: cfg.CollectorURL}, opevents.EmitterOptions{}, logger.With("log", "events"))
		defer func() {
			// the events of the activities that ended during the stop go out before the process ends
			closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = events.Close(closeCtx)
		}()
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rainflow_worker_events_sent_total",
				Help: "Operation event lines the collector stored."}, func() float64 { return float64(events.Sent()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rainflow_worker_events_dropped_total",
				Help: "Operation event lines dropped because the collector was away longer than the queue lasts."},
				func() float64 { return float64(events.Dropped()) }))
		intercept = append(intercept, opevents.NewInterceptor(events))
	}
	var kubeCache *activities.KubeCache
	if cfg.KubeCacheSync > 0 {
		kubeCache = activities.NewKubeCache(kube, activities.KubeCacheConfig{SyncTimeout: cfg.KubeCacheSync,
			KeepReleaseLabels: cfg.KeepReleaseLabels}, logger.With("log", "kube-cache"))
		kubeCache.Start(ctx)
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rainflow_worker_kube_applies_sent_total",
				Help: "Server-side applies the Kubernetes cache let through."}, func() float64 { sent, _ := kubeCache.ApplyCounts(); return float64(sent) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rainflow_worker_kube_applies_skipped_total",
				Help: "Server-side applies skipped: the object was as this worker's last apply of the same configuration left it."},
				func() float64 { _, skipped := kubeCache.ApplyCounts(); return float64(skipped) }))
	}
	w := workers.NewOperations(tc, workers.Activities{
		Kube:     &activities.Kube{Client: kube, SecretEnv: st, Cache: kubeCache},
		Registry: &activities.Registry{Insecure: cfg.InsecureRegistry},
		Store:    &activities.Store{Releases: st},
		Routes:   &activities.Routes{Client: kube, Store: st},
	}, workers.Options{MaxConcurrentActivities: cfg.MaxActivities, StopTimeout: cfg.StopTimeout, Interceptors: intercept})
	logger.Info("worker starting", "temporal", cfg.Temporal.Address, "namespace", cfg.Temporal.Namespace)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	if cfg.Builds.Enabled {
		bw, err := newBuildsWorker(tc, st, cfg, events, intercept, logger)
		if err != nil {
			w.Stop()
			return err
		}
		if err := bw.Start(); err != nil {
			w.Stop()
			return fmt.Errorf("start builds worker: %w", err)
		}
		defer bw.Stop()
		logger.Info("builds worker started", "go_base", cfg.Builds.GoBase, "registry", cfg.Builds.Registry)
	}
	var admin *workerAdmin
	if cfg.AdminListen != "" {
		if admin, err = startWorkerAdmin(cfg.AdminListen, reg, logger); err != nil {
			w.Stop()
			return err
		}
		defer admin.close()
	}
	<-ctx.Done()

	// Stop polling, then let the tasks in hand end; /healthz says so, /metrics still answers.
	logger.Info("worker stopping")
	admin.setStopping()
	t0 := time.Now()
	w.Stop()
	// Activities the stop cancelled report their failure a moment later, through the client; closing
	// it at once would lose those reports, and Temporal would retry the activities elsewhere only
	// after their heartbeat or start-to-close timeout instead of at once.
	time.Sleep(reportGrace)
	logger.Info("worker stopped", "took", time.Since(t0).Round(time.Millisecond))
	return nil
}

// reportGrace is how long a stopped worker keeps its client open for the reports of the activities
// the stop cancelled.
const reportGrace = time.Second

// workerAdmin serves the worker's /healthz and /metrics.
type workerAdmin struct {
	srv      *http.Server
	stopping atomic.Bool
	logger   *slog.Logger
}

func startWorkerAdmin(addr string, metrics prometheus.Gatherer, logger *slog.Logger) (*workerAdmin, error) {
	a := &workerAdmin{logger: logger}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if a.stopping.Load() {
			http.Error(w, "stopping", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (a second worker on this machine needs another --admin-listen, or empty): %w", addr, err)
	}
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin server", "err", err)
		}
	}()
	return a, nil
}

// setStopping makes /healthz answer 503; a nil admin does nothing.
func (a *workerAdmin) setStopping() {
	if a != nil {
		a.stopping.Store(true)
	}
}

func (a *workerAdmin) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		a.logger.Warn("stop admin server", "err", err)
	}
}

// defineDB defines the metadata database flags shared by the api and the worker.
func defineDB(f *flags, db *store.Config) {
	f.str(&db.Driver, "db-driver", "RAINFLOW_DB_DRIVER", "sqlite", "metadata database: sqlite, mysql (MySQL, MariaDB) or postgres (PostgreSQL)")
	f.str(&db.DSN, "db-dsn", "RAINFLOW_DB_DSN", ".rainflow/rainflow.db", "metadata database DSN (a file for sqlite; user:pass@tcp(host:3306)/db?parseTime=true for mysql; "+
		"postgres://user:pass@host:5432/db?sslmode=verify-full or host=... user=... dbname=... for postgres)")
	var keys string
	f.str(&keys, "encryption-keys", "RAINFLOW_ENCRYPTION_KEYS", "",
		"keys that encrypt secrets at rest, id:base64 (32 bytes), comma-separated, the first one seals; without one, writing a secret fails")
	f.after(func() {
		if keys == "" {
			return
		}
		parsed, err := seal.ParseKeys(keys)
		if err == nil {
			db.Keyring, err = seal.NewKeyring(parsed...)
		}
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("--encryption-keys: %w", err))
		}
	})
}
