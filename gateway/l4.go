package gateway

import (
	"cmp"
	"context"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// l4Proxy is the gateway's TCP and UDP side: it reconciles one listener per L4Route to the routes
// BuildL4 returns on every rebuild. A listener whose route stays is never restarted: a change of
// endpoints or of balancing policy is swapped into it and applies to the connections (or UDP sessions)
// that start after it; a listener whose route is gone is closed, and the connections it accepted run to
// their end.
type l4Proxy struct {
	cfg      L4Config
	logger   *slog.Logger
	metrics  *metrics
	udpDrops udpDrops
	buffers  *relayBuffers // the TCP routes' read buffers

	mu        sync.Mutex
	ctx       context.Context // from start; ends the dials on stop
	cancel    context.CancelFunc
	stopped   bool
	listeners map[l4Key]l4Listener
	retired   []l4Listener        // closed listeners whose connections still run, ended by stop
	routes    map[l4Key]L4Route   // the route each listener serves
	failed    map[l4Key]l4Failure // the routes whose port could not be bound, and why
	problems  map[Problem]bool
}

// l4Listener is one listening TCP or UDP socket of a route.
type l4Listener interface {
	// setRoute swaps the endpoints and the balancing policy of the route: they apply to the connections
	// or sessions that start after it.
	setRoute(r L4Route)
	// close stops listening; with drop it also ends the connections and sessions in progress. It
	// returns once the listener's goroutines are done (all of them, with drop).
	close(drop bool)
	// idle reports whether no connection or session is in progress.
	idle() bool
	// stats counts the connections or sessions in progress.
	stats() l4ListenerStats
	addr() net.Addr
}

// l4ListenerStats are the connections (TCP) or sessions (UDP) of a listener in progress, and how many
// of them wait for an endpoint.
type l4ListenerStats struct {
	active, waiting int
}

// l4Failure is a route whose port could not be bound, retried on every build.
type l4Failure struct {
	route L4Route
	err   string
}

// newL4Proxy prepares the L4 side; it serves nothing before start.
func newL4Proxy(cfg L4Config, logger *slog.Logger, m *metrics) *l4Proxy {
	return &l4Proxy{
		cfg: cfg.withDefaults(), logger: logger, metrics: m, udpDrops: udpDropsOf(m),
		buffers:   newRelayBuffers(cfg.withDefaults().TCPLargeBuffers),
		listeners: make(map[l4Key]l4Listener), routes: make(map[l4Key]L4Route),
		failed: make(map[l4Key]l4Failure),
	}
}

// start lets updates open listeners; their dials end with ctx.
func (p *l4Proxy) start(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ctx, p.cancel = context.WithCancel(ctx)
}

// update builds the L4 routes of the listed objects, reports their new problems and reconciles the
// listeners to them. The publisher calls it on every rebuild; it is cheap when nothing changed.
func (p *l4Proxy) update(objs Objects) {
	routes, problems := BuildL4(objs)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx == nil || p.stopped {
		return
	}
	p.report(problems)
	p.apply(routes)
}

// apply reconciles the listeners to routes; p.mu is held.
func (p *l4Proxy) apply(routes []L4Route) {
	want := make(map[l4Key]L4Route, len(routes))
	for _, r := range routes {
		want[r.key()] = r
	}
	p.retired = slices.DeleteFunc(p.retired, l4Listener.idle)
	for key, ln := range p.listeners {
		if _, ok := want[key]; !ok {
			ln.close(false)
			if !ln.idle() {
				p.retired = append(p.retired, ln)
			}
			delete(p.listeners, key)
			p.logger.Info("L4 route removed", "listen", key.String(), "service", p.routes[key].Service)
			delete(p.routes, key)
		}
	}
	for key := range p.failed {
		if _, ok := want[key]; !ok {
			delete(p.failed, key)
		}
	}
	for key, r := range want {
		if ln, ok := p.listeners[key]; ok {
			old := p.routes[key]
			if !slices.Equal(old.Endpoints, r.Endpoints) || old.Service != r.Service || old.Balance != r.Balance {
				ln.setRoute(r)
				p.logger.Info("L4 route updated", "listen", key.String(), "service", r.Service, "endpoints", len(r.Endpoints),
					"policy", l4PolicyName(r.Balance))
			}
			p.routes[key] = r
			continue
		}
		ln, err := p.listen(r)
		if err != nil {
			msg := err.Error()
			if p.failed[key].err != msg {
				p.logger.Error("L4 route not served", "listen", key.String(), "service", r.Service, "err", err)
			}
			p.failed[key] = l4Failure{route: r, err: msg}
			continue
		}
		delete(p.failed, key)
		p.listeners[key] = ln
		p.routes[key] = r
		p.logger.Info("L4 route listening", "listen", ln.addr().String(), "protocol", r.Protocol,
			"service", r.Service, "endpoints", len(r.Endpoints), "policy", l4PolicyName(r.Balance))
	}
}

// listen opens the listener of a route on the configured host.
func (p *l4Proxy) listen(r L4Route) (l4Listener, error) {
	addr := net.JoinHostPort(p.cfg.Host, strconv.Itoa(int(r.Port)))
	logger := p.logger.With("listen", r.key().String(), "service", r.Service)
	switch r.Protocol {
	case corev1.ProtocolUDP:
		return listenUDP(p.ctx, addr, newL4Balancer(r.Endpoints, r.Balance), p.cfg, p.udpDrops, logger)
	default:
		return listenTCP(p.ctx, addr, newL4Balancer(r.Endpoints, r.Balance), p.cfg, p.buffers, logger)
	}
}

// report logs and counts the problems that were not in the previous build; p.mu is held.
func (p *l4Proxy) report(problems []Problem) {
	next := make(map[Problem]bool, len(problems))
	for _, pr := range problems {
		next[pr] = true
		if !p.problems[pr] {
			p.metrics.problems.WithLabelValues(pr.Reason).Inc()
			p.logger.Warn("L4 route skipped", "object", pr.Object, "reason", pr.Reason, "detail", pr.Detail)
		}
	}
	for pr := range p.problems {
		if !next[pr] {
			p.logger.Info("L4 route problem resolved", "object", pr.Object, "reason", pr.Reason, "detail", pr.Detail)
		}
	}
	p.problems = next
}

// stop closes every listener and ends the connections and sessions in progress, those of removed
// routes too; later updates do nothing.
func (p *l4Proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	if p.cancel != nil {
		p.cancel()
	}
	for key, ln := range p.listeners {
		ln.close(true)
		delete(p.listeners, key)
	}
	for _, ln := range p.retired {
		ln.close(true)
	}
	p.retired = nil
}

// addr is the bound address of the listener of a port and protocol, nil when there is none.
func (p *l4Proxy) addr(port int32, protocol corev1.Protocol) net.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ln, ok := p.listeners[l4Key{port: port, protocol: protocol}]; ok {
		return ln.addr()
	}
	return nil
}

// L4Routes returns the TCP and UDP routes being served, sorted by port then protocol.
func (g *Gateway) L4Routes() []L4Route {
	p := g.l4
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]L4Route, 0, len(p.routes))
	for _, r := range p.routes {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b L4Route) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), strings.Compare(string(a.Protocol), string(b.Protocol)))
	})
	return out
}

// L4Addr is the address the TCP or UDP route of a listen port is bound to, nil when it is not served.
func (g *Gateway) L4Addr(port int32, protocol corev1.Protocol) net.Addr {
	return g.l4.addr(port, protocol)
}
