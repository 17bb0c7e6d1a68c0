package gateway

import (
	"bytes"
	"net"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// A UDP client whose first datagram arrives while its route has no ready endpoint (the Service seen
// before its EndpointSlice, a rollout with no pod ready) waits for one, as a TCP connection does: its
// datagrams are held in a small buffer of its own for up to EndpointWait and sent in order once an
// endpoint appears, then the client is a session like any other. The read loop only appends to the
// buffer; one goroutine per waiting client does the waiting. What does not fit in the buffer, what is
// still held when the wait ends, and the first datagrams of clients beyond the route's bound of waiting
// clients are dropped and counted by reason.

// udpWaitBounds bound what a route holds for the clients waiting for an endpoint.
type udpWaitBounds struct {
	wait      time.Duration // how long a client waits
	datagrams int           // datagrams held per client
	bytes     int           // payload bytes held per client
	clients   int           // clients waiting at once
}

func udpWaitBoundsOf(cfg L4Config) udpWaitBounds {
	cfg = cfg.withDefaults()
	return udpWaitBounds{wait: cfg.EndpointWait, datagrams: cfg.UDPWaitDatagrams, bytes: cfg.UDPWaitBytes,
		clients: cfg.UDPMaxWaiting}
}

// udpWaiter is one client waiting for an endpoint, and the datagrams it sent meanwhile, in order.
type udpWaiter struct {
	client netip.AddrPort
	queue  [][]byte
	bytes  int
}

// Reasons of rainflow_gateway_l4_udp_dropped_total.
const (
	udpDropNoEndpoint      = "no_endpoint"
	udpDropBufferFull      = "buffer_full"
	udpDropTooManySessions = "too_many_sessions"
)

// newUDPDroppedMetric is the counter of the UDP datagrams the gateway drops, by reason.
func newUDPDroppedMetric() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rainflow_gateway_l4_udp_dropped_total",
		Help: "UDP datagrams of clients dropped by the gateway, by reason: no_endpoint (the route had no ready " +
			"endpoint within the endpoint wait, or was removed meanwhile), buffer_full (the client's held datagrams " +
			"or the route's waiting clients were at their bound), too_many_sessions (the route's session bound).",
	}, []string{"reason"})
}

// udpDrops are the children of rainflow_gateway_l4_udp_dropped_total, resolved once.
type udpDrops struct {
	noEndpoint, bufferFull, tooManySessions prometheus.Counter
}

// udpDropsOf resolves the children, which also shows every reason at 0 before the first drop.
func udpDropsOf(m *metrics) udpDrops {
	return udpDrops{
		noEndpoint:      m.udpDropped.WithLabelValues(udpDropNoEndpoint),
		bufferFull:      m.udpDropped.WithLabelValues(udpDropBufferFull),
		tooManySessions: m.udpDropped.WithLabelValues(udpDropTooManySessions),
	}
}

// startWait makes a new client wait for an endpoint, holding its first datagram, unless the route has
// as many clients waiting as it may; l.mu is held.
func (l *udpListener) startWait(client netip.AddrPort, datagram []byte) {
	if len(l.waiting) >= l.wait.clients {
		l.drops.bufferFull.Inc()
		l.logger.Debug("udp datagram dropped: too many clients wait for an endpoint", "client", client.String(),
			"waiting", len(l.waiting))
		return
	}
	w := &udpWaiter{client: client}
	l.hold(w, datagram)
	l.waiting[client] = w
	l.logger.Debug("udp client waits for an endpoint", "client", client.String(), "wait", l.wait.wait)
	l.wg.Go(func() { l.waitEndpoint(w) })
}

// hold appends a copy of the datagram to what the client has waiting, or drops it when that is at its
// bound; l.mu is held.
func (l *udpListener) hold(w *udpWaiter, datagram []byte) {
	if len(w.queue) >= l.wait.datagrams || w.bytes+len(datagram) > l.wait.bytes {
		l.drops.bufferFull.Inc()
		return
	}
	w.queue = append(w.queue, bytes.Clone(datagram))
	w.bytes += len(datagram)
}

// waitEndpoint waits up to the endpoint wait for the route to have an endpoint, then sends the client's
// held datagrams to it and makes it a session. It gives up early when the listener closes or the proxy
// stops.
func (l *udpListener) waitEndpoint(w *udpWaiter) {
	timer := time.NewTimer(l.wait.wait)
	defer timer.Stop()
	for {
		eps, start, changed := l.balancer.pick(w.client)
		if start >= 0 {
			up, endpoint, err := dialUDP(l.ctx, eps, start)
			if err == nil {
				l.release(w, up, endpoint)
				return
			}
			// No socket could be opened to any endpoint: wait for the next change.
			l.logger.Debug("open udp session", "client", w.client.String(), "err", err)
		}
		select {
		case <-changed:
		case <-timer.C:
			l.giveUp(w, "no ready endpoint within the wait")
			return
		case <-l.closing:
			l.giveUp(w, "the route was removed")
			return
		case <-l.ctx.Done():
			l.giveUp(w, "the gateway stops")
			return
		}
	}
}

// release sends the client's held datagrams on the endpoint socket, in order, then makes the client a
// session on it, counted by the endpoint. The read loop keeps appending to the client's buffer until
// the session replaces it, so the datagrams arriving meanwhile go out after the held ones.
func (l *udpListener) release(w *udpWaiter, up *net.UDPConn, endpoint *Upstream) {
	for {
		l.mu.Lock()
		if l.closed {
			dropped := len(w.queue)
			w.queue = nil
			delete(l.waiting, w.client)
			l.mu.Unlock()
			_ = up.Close()
			endpoint.end()
			l.drops.noEndpoint.Add(float64(dropped))
			return
		}
		queue := w.queue
		if len(queue) == 0 {
			delete(l.waiting, w.client)
			l.open(w.client, up, endpoint)
			l.mu.Unlock()
			l.logger.Debug("udp client got an endpoint", "client", w.client.String(), "endpoint", up.RemoteAddr().String())
			return
		}
		w.queue, w.bytes = nil, 0
		l.mu.Unlock()
		for _, d := range queue {
			if _, err := up.Write(d); err != nil {
				l.logger.Debug("forward held udp datagram", "client", w.client.String(), "err", err)
			}
		}
	}
}

// giveUp ends the client's wait, dropping and counting what it held.
func (l *udpListener) giveUp(w *udpWaiter, why string) {
	l.mu.Lock()
	dropped := len(w.queue)
	w.queue = nil
	if l.waiting[w.client] == w {
		delete(l.waiting, w.client)
	}
	l.mu.Unlock()
	l.drops.noEndpoint.Add(float64(dropped))
	l.logger.Debug("udp datagrams dropped: no endpoint", "client", w.client.String(), "reason", why, "datagrams", dropped)
}
