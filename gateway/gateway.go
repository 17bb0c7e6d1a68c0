package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/kubernetes"
)

// Gateway is one gateway process: the watch, the snapshot publisher, the HTTP data plane and the admin
// endpoints.
type Gateway struct {
	cfg       Config
	logger    *slog.Logger
	table     atomic.Pointer[Table]
	pool      *Pool
	metrics   *metrics
	watcher   *watcher
	publisher *publisher
	proxy     *proxy
	access    *accessLog       // the access log
	accessLog *accessCollector // its collector side, nil without Config.AccessLog.CollectorURL
	l4        *l4Proxy         // TCP and UDP routes
	handler   http.Handler
	admin     http.Handler
	tlsConfig *tls.Config // nil without an HTTPS listener

	httpAddr  atomic.Pointer[net.TCPAddr]
	adminAddr atomic.Pointer[net.TCPAddr]
	httpsAddr atomic.Pointer[net.TCPAddr]
}

// New prepares a gateway on the kube client (main builds it from cfg.Kubeconfig); nothing runs until
// Run. A nil logger discards logs.
func New(cfg Config, kube kubernetes.Interface, logger *slog.Logger) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("validate gateway config: %w", err)
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if kube == nil {
		return nil, errors.New("create gateway: no kubernetes client")
	}
	g := &Gateway{cfg: cfg, logger: logger, pool: NewPoolWith(cfg.Health), metrics: newMetrics()}
	if cfg.HTTPSListen != "" {
		cert, err := defaultCertificate(cfg.DefaultCert, cfg.DefaultKey, time.Now())
		if err != nil {
			return nil, fmt.Errorf("create gateway: %w", err)
		}
		g.tlsConfig = newTLSConfig(&g.table, cert)
	}
	// Informer events only signal the publisher; nothing runs before Run starts the informers.
	w, err := newWatcher(kube, cfg.Namespaces, cfg.Resync, cfg.IngressClass, func() { g.publisher.signal() })
	if err != nil {
		return nil, fmt.Errorf("watch ingresses: %w", err)
	}
	g.watcher = w
	g.publisher = newPublisher(cfg.IngressClass, w.objects, g.pool, &g.table, cfg.Throttle, logger, g.metrics)
	g.l4 = newL4Proxy(l4ConfigFor(cfg), logger.With("log", "l4"), g.metrics)
	g.access, g.accessLog = newAccessLog(cfg.AccessLog, logger, g.metrics)
	g.publisher.l4 = func(objs Objects) {
		g.l4.update(objs)
		g.accessLog.update(objs)
	}
	g.publisher.events = newEventSink(kube)
	g.proxy = newProxy(&g.table, logger)
	g.handler = withRequestID(withAccessLog(g.proxy, g.access, g.metrics))
	g.admin = newAdminHandler(&g.table, g.metrics, g.l4.status)
	return g, nil
}

// Handler is the data plane: routing, proxying, request ids and the access log.
func (g *Gateway) Handler() http.Handler { return g.handler }

// AdminHandler serves /healthz, /readyz, /metrics and /debug/routes.
func (g *Gateway) AdminHandler() http.Handler { return g.admin }

// Ready reports whether a routing snapshot is published.
func (g *Gateway) Ready() bool { return g.table.Load() != nil }

// Routes returns the running routing configuration, and false before the first snapshot.
func (g *Gateway) Routes() (Routes, bool) {
	t := g.table.Load()
	if t == nil {
		return Routes{}, false
	}
	return t.Routes(), true
}

// Pool is the per-endpoint runtime state (in-flight and request counts by address).
func (g *Gateway) Pool() *Pool { return g.pool }

// HTTPAddr is the address the data plane listens on, nil until Run has bound it.
func (g *Gateway) HTTPAddr() *net.TCPAddr { return g.httpAddr.Load() }

// HTTPSAddr is the address the HTTPS data plane listens on, nil until Run has bound it or without one.
func (g *Gateway) HTTPSAddr() *net.TCPAddr { return g.httpsAddr.Load() }

// AdminAddr is the address the admin endpoints listen on, nil until Run has bound it.
func (g *Gateway) AdminAddr() *net.TCPAddr { return g.adminAddr.Load() }

// Run serves until ctx is done, then stops accepting, waits up to ShutdownTimeout for in-flight requests
// and stops the watch. The data plane answers 503 until the informers have synced and the first
// snapshot is published. It returns an error when a listener cannot be bound or a server fails.
func (g *Gateway) Run(ctx context.Context) error {
	httpLn, err := listen(g.cfg.HTTPListen, &g.httpAddr)
	if err != nil {
		return fmt.Errorf("listen http: %w", err)
	}
	adminLn, err := listen(g.cfg.AdminListen, &g.adminAddr)
	if err != nil {
		_ = httpLn.Close()
		return fmt.Errorf("listen admin: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Plain HTTP goes to the fast server, which hands what it does not serve to the net/http one; so
	// does HTTPS, after the handshake, to its own fast server and net/http one (h2 goes to net/http).
	fastCfg := fastServerConfig{proxy: g.proxy, pool: g.pool, logger: g.logger, access: g.access,
		metrics: g.metrics, addr: httpLn.Addr(), headerTimeout: httpHeaderTimeout, idleTimeout: httpIdleTimeout}
	fast := newFastServer(fastCfg)
	fasts, fastLns := []*fastServer{fast}, []net.Listener{httpLn}
	servers := []*http.Server{
		{Handler: g.handler, ReadHeaderTimeout: httpHeaderTimeout, IdleTimeout: httpIdleTimeout,
			ErrorLog: slog.NewLogLogger(g.logger.Handler(), slog.LevelDebug)},
		{Handler: g.admin, ReadHeaderTimeout: httpHeaderTimeout},
	}
	listeners := []net.Listener{fast.handoff, adminLn}
	if g.tlsConfig != nil {
		httpsLn, err := listen(g.cfg.HTTPSListen, &g.httpsAddr)
		if err != nil {
			_, _ = httpLn.Close(), adminLn.Close()
			return fmt.Errorf("listen https: %w", err)
		}
		fastCfg.addr, fastCfg.tls = httpsLn.Addr(), g.tlsConfig
		fastTLS := newFastServer(fastCfg)
		fasts, fastLns = append(fasts, fastTLS), append(fastLns, httpsLn)
		servers = append(servers, httpsServer(g.handler, g.tlsConfig, g.logger))
		listeners = append(listeners, fastTLS.handoff)
	}
	serveErr := make(chan error, len(servers)+len(fasts))
	for i, fs := range fasts {
		go func() {
			if err := fs.serve(ctx, fastLns[i]); !errors.Is(err, http.ErrServerClosed) {
				serveErr <- fmt.Errorf("serve %s: %w", fastLns[i].Addr(), err)
			}
		}()
	}
	for i, ln := range listeners {
		go func() {
			if err := servers[i].Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				serveErr <- fmt.Errorf("serve %s: %w", ln.Addr(), err)
			}
		}()
	}
	g.logger.Info("gateway listening", "http", httpLn.Addr().String(), "admin", adminLn.Addr().String(),
		"https", g.cfg.HTTPSListen,
		"ingress_class", g.cfg.IngressClass, "namespaces", g.cfg.Namespaces)

	var wg sync.WaitGroup
	stopAccessLog := g.accessLog.start(ctx) // stopped after the servers, to send their last lines
	g.l4.start(ctx)
	g.watcher.start(ctx)
	wg.Go(func() {
		if err := g.watcher.waitForSync(ctx); err != nil {
			return // ctx is done
		}
		g.logger.Info("informer caches synced")
		g.publisher.signal()
		g.publisher.run(ctx)
	})

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-serveErr:
		cancel()
	}
	g.logger.Info("gateway shutting down")
	shutdownCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.ShutdownTimeout)
	defer stop()
	var errs []error
	for i, fs := range fasts {
		fs.closing.Store(true)
		_ = fastLns[i].Close()
	}
	for _, fs := range fasts {
		if err := fs.shutdown(shutdownCtx); err != nil {
			errs = append(errs, fmt.Errorf("shut down fast server: %w", err))
		}
	}
	for _, s := range servers {
		if err := s.Shutdown(shutdownCtx); err != nil {
			errs = append(errs, fmt.Errorf("shut down server: %w", err))
		}
	}
	g.proxy.transport.CloseIdleConnections()
	stopAccessLog()
	g.watcher.shutdown()
	wg.Wait()
	g.l4.stop()
	return errors.Join(append([]error{runErr}, errs...)...)
}

// Timeouts of the data plane's client connections: for a request head once its first byte arrived, and
// for the next request on a kept-alive connection.
const (
	httpHeaderTimeout = 10 * time.Second
	httpIdleTimeout   = 120 * time.Second
)

// listen binds addr and publishes the bound address (useful with port 0).
func listen(addr string, bound *atomic.Pointer[net.TCPAddr]) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		bound.Store(a)
	}
	return ln, nil
}
