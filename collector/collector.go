package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// Collector is one collector process: the store under DataDir, the committer, and the HTTP API.
type Collector struct {
	cfg      Config
	logger   *slog.Logger
	metrics  *metrics
	handler  http.Handler
	addr     atomic.Pointer[net.TCPAddr]
	listener CommitListener
	// syncFile replaces (*os.File).Sync in tests that watch or hold the fsyncs.
	syncFile func(*os.File) error
	// running is the open store and its committer while Run runs, nil before and after.
	running atomic.Pointer[running]
	// cluster is the members sharing the apps and the runtime follower (forward.go, follow.go).
	cluster
	// drain is this replica's drain and the imports handed to it (drain.go).
	drain drainer
}

// running is what Run opens and closes.
type running struct {
	store      *store
	committer  *committer
	hub        *hub
	maintainer *maintainer
}

// New prepares a collector; nothing is opened until Run. A nil logger discards logs.
func New(cfg Config, logger *slog.Logger) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("validate collector config: %w", err)
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	c := &Collector{cfg: cfg, logger: logger, metrics: newMetrics()}
	if err := c.initCluster(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/ingest", c.handleIngest)
	mux.HandleFunc("GET /v1/streams/{kind}/{tenant}/{app}/{name}/lines", c.handleRead)
	mux.HandleFunc("GET /v1/streams/{kind}/{tenant}/{app}/{name}/tail", c.handleTail)
	mux.Handle("GET /metrics", c.metrics.handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /v1/follow/positions", c.handlePositions)
	c.drainRoutes(mux)
	c.handler = c.forwarding(mux)
	return c, nil
}

// OnCommit sets the listener told about every committed group of lines (the live tail's seam). It must
// be called before Run and must not block.
func (c *Collector) OnCommit(l CommitListener) { c.listener = l }

// Handler is the HTTP API. It works while Run runs; before and after, it answers 503.
func (c *Collector) Handler() http.Handler { return c.handler }

// Addr is the address the API listens on, nil until Run has bound it.
func (c *Collector) Addr() *net.TCPAddr { return c.addr.Load() }

// Run locks DataDir, serves until ctx is done, then stops accepting, waits up to ShutdownTimeout for
// in-flight requests, commits what is queued and closes the store.
func (c *Collector) Run(ctx context.Context) error {
	rn, err := c.start()
	if err != nil {
		return err
	}
	stopBackground, err := c.startBackground(ctx, rn)
	if err != nil {
		return errors.Join(err, c.stop(rn))
	}
	ln, err := net.Listen("tcp", c.cfg.Listen)
	if err != nil {
		stopBackground()
		return errors.Join(fmt.Errorf("listen: %w", err), c.stop(rn))
	}
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		c.addr.Store(a)
	}
	srv := &http.Server{Handler: c.handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(c.logger.Handler(), slog.LevelDebug)}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	c.logger.Info("collector listening", "addr", ln.Addr().String(), "data_dir", c.cfg.DataDir)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-serveErr:
		runErr = fmt.Errorf("serve: %w", runErr)
	}
	c.logger.Info("collector shutting down")
	rn.hub.close() // live tails are hijacked connections: Shutdown does not wait for them
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("shut down server: %w", err))
	}
	c.stopDrain()
	stopBackground()
	return errors.Join(runErr, c.stop(rn))
}

// start opens the store and starts the committer.
func (c *Collector) start() (*running, error) {
	st, err := openStore(c.cfg.DataDir, c.logger)
	if err != nil {
		return nil, err
	}
	if err := cleanImportLeftovers(c.cfg.DataDir); err != nil {
		return nil, errors.Join(err, st.close())
	}
	h := newHub(func(n int) { c.metrics.dropped.Add(float64(n)) })
	rn := &running{store: st, committer: newCommitter(st, c.cfg, c.listener, c.logger), hub: h,
		maintainer: newMaintainer(st, c.cfg, c.metrics, c.logger)}
	rn.committer.hub, rn.committer.metrics, rn.committer.sealed = h, c.metrics, rn.maintainer.sealedSegment
	if c.syncFile != nil {
		rn.committer.syncFile = c.syncFile
	}
	go rn.committer.run()
	go rn.maintainer.run()
	if !c.running.CompareAndSwap(nil, rn) {
		rn.committer.shutdown()
		rn.maintainer.shutdown()
		return nil, errors.Join(errors.New("collector is already running"), st.close())
	}
	return rn, nil
}

// stop commits what is queued, stops the committer and closes the store.
func (c *Collector) stop(rn *running) error {
	c.running.Store(nil)
	rn.hub.close()
	rn.hub.wait()
	rn.maintainer.shutdown()
	rn.committer.shutdown()
	if err := rn.store.close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// live returns the running store and committer, or answers 503 and returns nil.
func (c *Collector) live(w http.ResponseWriter) *running {
	rn := c.running.Load()
	if rn == nil {
		writeProblem(w, http.StatusServiceUnavailable, "collector is not running", 0)
	}
	return rn
}
