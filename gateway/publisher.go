package gateway

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// publisher is the one goroutine that turns "something changed" signals into published snapshots:
// it lists every object, builds the Routes, reports new problems, and swaps a compiled Table in when the
// Routes differ from the running ones. Signals arriving during a build or the throttle wait coalesce
// into one more build, which reads the newest state.
type publisher struct {
	class    string
	list     func() (Objects, error)
	pool     *Pool
	table    *atomic.Pointer[Table]
	throttle time.Duration
	logger   *slog.Logger
	metrics  *metrics
	l4       func(Objects) // the TCP and UDP side, given every build's objects; nil in tests
	events   *eventSink    // Kubernetes Events about problems; nil: only the log and the metrics

	dirty    chan struct{} // capacity 1: a pending signal
	problems map[Problem]bool
}

func newPublisher(class string, list func() (Objects, error), pool *Pool, table *atomic.Pointer[Table],
	throttle time.Duration, logger *slog.Logger, m *metrics) *publisher {
	return &publisher{
		class: class, list: list, pool: pool, table: table, throttle: throttle, logger: logger, metrics: m,
		dirty: make(chan struct{}, 1),
	}
}

// signal marks the configuration dirty. It never blocks.
func (p *publisher) signal() {
	select {
	case p.dirty <- struct{}{}:
	default:
	}
}

// run rebuilds on every signal, at most once per throttle period, until ctx is done.
func (p *publisher) run(ctx context.Context) {
	if p.events != nil {
		p.events.start()
		defer p.events.stop()
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.dirty:
		}
		p.rebuild()
		timer.Reset(p.throttle)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
	}
}

// rebuild builds the configuration once and publishes it if it changed (or if nothing is published yet).
func (p *publisher) rebuild() {
	objs, err := p.list()
	if err != nil {
		p.logger.Error("list watched objects", "err", err)
		return
	}
	if p.l4 != nil {
		p.l4(objs)
	}
	routes, problems := Build(p.class, objs)
	p.metrics.builds.Inc()
	p.report(problems)

	current := p.table.Load()
	if current != nil && current.Routes().Equal(routes) {
		return
	}
	t := Compile(routes, p.pool)
	p.table.Store(t)
	p.pool.retain(t)
	if current != nil {
		p.metrics.forgetRoutes(current.Routes(), routes)
	}
	p.metrics.publishes.Inc()
	p.metrics.routes.Set(float64(len(routes.HTTP)))
	p.metrics.upstreams.Set(float64(t.upstreams))
	p.logger.Info("routing snapshot published", "routes", len(routes.HTTP), "backends", len(t.backends),
		"upstreams", t.upstreams, "default_backend", routes.Default != nil, "problems", len(problems))
}

// report logs and counts the problems that were not in the previous build, so a bad Ingress is reported
// once when it appears, not on every resync.
func (p *publisher) report(problems []Problem) {
	next := make(map[Problem]bool, len(problems))
	for _, pr := range problems {
		next[pr] = true
		if p.problems[pr] {
			continue
		}
		p.metrics.problems.WithLabelValues(pr.Reason).Inc()
		p.logger.Warn("ingress rule skipped or unresolved", "object", pr.Object, "reason", pr.Reason, "detail", pr.Detail)
		if p.events != nil {
			p.events.appeared(pr)
		}
	}
	for pr := range p.problems {
		if !next[pr] {
			p.logger.Info("ingress problem resolved", "object", pr.Object, "reason", pr.Reason, "detail", pr.Detail)
			if p.events != nil {
				p.events.resolved(pr)
			}
		}
	}
	p.problems = next
	p.metrics.invalid.Set(float64(len(next)))
}
