// Package api is Rainflow's REST API: tenants, apps, components, and the operations that change them,
// which it starts as Temporal workflows through Workflows and reads back from Temporal. Every error is
// an RFC 9457 problem+json.
package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rainflow/rainflow/store"
)

// Server is the API. Build it with New.
type Server struct {
	cfg     Config
	store   *store.Store
	wf      Workflows
	images  ImageChecker
	logger  *slog.Logger
	auth    Authenticator
	metrics *metrics
	reg     *prometheus.Registry
	handler http.Handler
	// componentLocks holds a *sync.Mutex per component id (see lockComponent); one small entry per
	// component ever scaled through this process.
	componentLocks sync.Map
	// sources keeps uploaded source archives for their builds.
	sources SourceStore
	// collector reads logs from the collector; collectorTail dials its tails (no time limit).
	collector, collectorTail *http.Client
	// stopping is closed when the server shuts down: it ends the log tails (hijacked connections,
	// which a graceful shutdown does not wait for).
	stopping     chan struct{}
	stoppingOnce sync.Once
}

// New answers the API over its store, workflows and image checker. cfg should have passed Validate;
// unset fields take their defaults.
func New(cfg Config, st *store.Store, wf Workflows, images ImageChecker, logger *slog.Logger) *Server {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := cfg.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Server{
		cfg: cfg, store: st, wf: wf, images: images, logger: logger,
		auth: newAuthenticator(cfg, st), metrics: newMetrics(reg), reg: reg,
		collector: &http.Client{Timeout: 30 * time.Second}, collectorTail: &http.Client{},
		stopping: make(chan struct{}),
	}
	s.sources = cfg.Sources
	if s.sources == nil {
		s.sources = NewRegistrySources(cfg.RegistryInsecure, nil)
	}
	s.handler = s.routes()
	return s
}

// Handler answers the API's requests.
func (s *Server) Handler() http.Handler { return s.handler }

// Run serves on cfg.Listen until ctx is done, then shuts down gracefully: it stops accepting, and lets
// requests in flight finish for up to cfg.ShutdownTimeout.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener the caller opened (tests listen on port 0). With TLS configured it
// serves HTTPS on it.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.cfg.tlsEnabled() {
		tc, err := s.cfg.tlsConfig()
		if err != nil {
			_ = ln.Close()
			return err
		}
		ln = tls.NewListener(ln, tc)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	srv.RegisterOnShutdown(func() { s.stoppingOnce.Do(func() { close(s.stopping) }) })
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.logger.InfoContext(ctx, "api serving", "address", ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("serve api: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-errc; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	if err != nil {
		return fmt.Errorf("shut down api: %w", err)
	}
	s.logger.InfoContext(ctx, "api stopped", "address", ln.Addr().String())
	return nil
}

// handlerFunc is a handler that answers an error as a problem: a *Problem as it is, anything else
// as a logged 500 that still says what failed.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var p *Problem
		if errors.As(err, &p) {
			writeProblem(w, r, p)
			return
		}
		s.logger.ErrorContext(r.Context(), "request failed",
			"request_id", RequestIDFrom(r.Context()), "method", r.Method, "path", r.URL.Path, "error", err)
		writeProblem(w, r, &Problem{Type: typeInternal, Status: http.StatusInternalServerError, Detail: err.Error()})
	}
}

// temporalWorkflowLink answers the Temporal Web UI's list of the runs of a workflow id (an operation's
// one run once its queue started it), "" without a configured UI.
func (s *Server) temporalWorkflowLink(workflowID string) string {
	if s.cfg.TemporalUIURL == "" {
		return ""
	}
	return fmt.Sprintf("%s/namespaces/%s/workflows?query=%s", strings.TrimRight(s.cfg.TemporalUIURL, "/"),
		url.PathEscape(s.cfg.TemporalNamespace), url.QueryEscape(fmt.Sprintf("WorkflowId=%q", workflowID)))
}

// temporalLink answers the Temporal Web UI's page of a workflow run, "" without a configured UI.
func (s *Server) temporalLink(workflowID, runID string) string {
	if s.cfg.TemporalUIURL == "" || runID == "" {
		return ""
	}
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s/history",
		strings.TrimRight(s.cfg.TemporalUIURL, "/"), url.PathEscape(s.cfg.TemporalNamespace), url.PathEscape(workflowID), url.PathEscape(runID))
}
