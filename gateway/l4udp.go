package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// udpListener serves one UDP route. Each client address is a session: its first datagram picks an
// endpoint with the route's policy (l4Balancer: least-connections counts sessions, consistent-hash
// keys on the datagram's source IP) and opens a socket connected to it; the client's datagrams go out
// on that socket and the endpoint's answers come back from the route's port. A session that sees no
// datagram either way for the idle timeout ends. A new client arriving while the route has no ready
// endpoint waits for one (l4udpwait.go).
type udpListener struct {
	conn        *net.UDPConn
	balancer    *l4Balancer
	ctx         context.Context
	idleTimeout time.Duration
	maxSessions int
	wait        udpWaitBounds
	drops       udpDrops
	logger      *slog.Logger

	mu       sync.Mutex
	sessions map[netip.AddrPort]*udpSession
	waiting  map[netip.AddrPort]*udpWaiter // new clients waiting for an endpoint
	closed   bool
	// fullWarned is when a datagram dropped for too many sessions was last logged, fullDropped how many
	// were dropped since (warnFull)
	fullWarned  time.Time
	fullDropped int
	wg          sync.WaitGroup // the read loop, every session's reply loop and every waiting client
	done        chan struct{}  // closed when the read loop returns
	closing     chan struct{}  // closed by close: the waiting clients give up
}

// udpSession is one client's flow to one endpoint; the endpoint counts it in progress until it ends.
type udpSession struct {
	client   netip.AddrPort
	up       *net.UDPConn
	endpoint *Upstream
	last     atomic.Int64 // unix nanoseconds of the last datagram either way
}

// maxDatagram is the largest UDP payload.
const maxDatagram = 65535

func listenUDP(ctx context.Context, addr string, balancer *l4Balancer, cfg L4Config, drops udpDrops, logger *slog.Logger) (*udpListener, error) {
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return nil, fmt.Errorf("bind route port: %w", err) // err names the address
	}
	l := &udpListener{
		conn: pc.(*net.UDPConn), balancer: balancer, ctx: ctx, idleTimeout: cfg.UDPIdleTimeout,
		maxSessions: cfg.UDPMaxSessions, wait: udpWaitBoundsOf(cfg), drops: drops, logger: logger,
		sessions: make(map[netip.AddrPort]*udpSession), waiting: make(map[netip.AddrPort]*udpWaiter),
		done: make(chan struct{}), closing: make(chan struct{}),
	}
	l.wg.Go(l.serve)
	return l, nil
}

// sessionsFullWarnEvery bounds the warnings of a route whose sessions are all taken: a flood of new
// clients logs one line this often, with how many datagrams were dropped since the last one (the metric
// counts each).
const sessionsFullWarnEvery = 10 * time.Second

// warnFull logs a datagram dropped because the route has too many sessions, at most once every
// sessionsFullWarnEvery. l.mu is held.
func (l *udpListener) warnFull(client netip.AddrPort) {
	l.fullDropped++
	now := time.Now()
	if now.Sub(l.fullWarned) < sessionsFullWarnEvery {
		return
	}
	l.logger.Warn("udp datagrams dropped: too many sessions", "client", client.String(), "sessions", len(l.sessions),
		"dropped", l.fullDropped)
	l.fullWarned, l.fullDropped = now, 0
}

func (l *udpListener) addr() net.Addr { return l.conn.LocalAddr() }

func (l *udpListener) setRoute(r L4Route) { l.balancer.set(r.Endpoints, r.Balance) }

// close stops the route's socket. Without drop the sessions keep their endpoint socket until they are
// idle, but their answers cannot reach the clients any more: a UDP route has no connection to finish.
// The clients waiting for an endpoint give up at once, their datagrams dropped.
func (l *udpListener) close(drop bool) {
	_ = l.conn.Close()
	<-l.done
	l.mu.Lock()
	l.closed = true
	select {
	case <-l.closing:
	default:
		close(l.closing)
	}
	for client, s := range l.sessions {
		_ = s.up.Close()
		delete(l.sessions, client)
	}
	l.mu.Unlock()
	if drop {
		l.wg.Wait()
	}
}

// serve reads the clients' datagrams until the socket is closed.
func (l *udpListener) serve() {
	defer close(l.done)
	buf := make([]byte, maxDatagram)
	for {
		n, client, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.logger.Debug("read udp datagram", "err", err)
			continue
		}
		s := l.session(client, buf[:n])
		if s == nil {
			continue // held for an endpoint, or dropped
		}
		_, err = s.up.Write(buf[:n])
		if errors.Is(err, net.ErrClosed) { // the route closed the session just now: open a new one
			if s = l.session(client, buf[:n]); s != nil {
				_, err = s.up.Write(buf[:n])
			}
		}
		if err != nil {
			// ECONNREFUSED from an earlier ICMP, or the session just ended: the datagram is lost, as
			// UDP allows.
			l.logger.Debug("forward udp datagram", "client", client.String(), "err", err)
		}
	}
}

// session returns the client's session, opening it on the endpoint the policy picks (the next ones
// when a socket cannot be opened), and marks it used now: under the lock, so that a session found here
// cannot expire (see expire) before the datagram it was found for is answered. It returns nil when the
// datagram is held for the client waiting for an endpoint (see hold), or dropped and counted: the
// route has too many sessions, or no endpoint socket could be opened. It never blocks on the network.
func (l *udpListener) session(client netip.AddrPort, datagram []byte) *udpSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.sessions[client]; s != nil {
		s.last.Store(time.Now().UnixNano())
		return s
	}
	if w := l.waiting[client]; w != nil {
		l.hold(w, datagram)
		return nil
	}
	if l.closed {
		return nil
	}
	if len(l.sessions)+len(l.waiting) >= l.maxSessions {
		l.drops.tooManySessions.Inc()
		l.warnFull(client)
		return nil
	}
	eps, start, _ := l.balancer.pick(client)
	if start < 0 {
		l.startWait(client, datagram)
		return nil
	}
	up, endpoint, err := dialUDP(l.ctx, eps, start)
	if err != nil {
		l.drops.noEndpoint.Inc()
		l.logger.Debug("udp datagram dropped: no endpoint socket", "client", client.String(), "err", err)
		return nil
	}
	return l.open(client, up, endpoint)
}

// open starts the client's session on an endpoint socket, counted by the endpoint; l.mu is held.
func (l *udpListener) open(client netip.AddrPort, up *net.UDPConn, endpoint *Upstream) *udpSession {
	s := &udpSession{client: client, up: up, endpoint: endpoint}
	s.last.Store(time.Now().UnixNano())
	l.sessions[client] = s
	l.wg.Go(func() { l.reply(s) })
	return s
}

// dialUDP opens a socket connected to the picked endpoint, or to the following ones when it cannot (a
// UDP dial sends nothing: it fails only on an address the host cannot route to), and returns the
// endpoint's Upstream, which counts the session until end (l4Dial).
func dialUDP(ctx context.Context, eps []*Upstream, start int) (*net.UDPConn, *Upstream, error) {
	return l4Dial(ctx, eps, start, func(ctx context.Context, addr string) (*net.UDPConn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "udp", addr)
		if err != nil {
			return nil, err
		}
		return c.(*net.UDPConn), nil
	})
}

// reply sends the endpoint's datagrams back to the client until the session is idle or closed.
func (l *udpListener) reply(s *udpSession) {
	defer l.end(s)
	buf := make([]byte, maxDatagram)
	for {
		deadline := time.Unix(0, s.last.Load()).Add(l.idleTimeout)
		if !time.Now().Before(deadline) {
			if l.expire(s) {
				return
			}
			continue // a datagram came just now
		}
		_ = s.up.SetReadDeadline(deadline)
		n, err := s.up.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue // the loop ends the session unless a datagram moved the deadline
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ECONNREFUSED: the endpoint's port is closed right now; later datagrams may find it.
			continue
		}
		s.last.Store(time.Now().UnixNano())
		if _, err := l.conn.WriteToUDPAddrPort(buf[:n], s.client); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.logger.Debug("reply udp datagram", "client", s.client.String(), "err", err)
		}
	}
}

// expire removes the session from the route when it is still idle, checked under the lock session
// marks use under: a datagram is either sent on a session that stays, or opens a new one.
func (l *udpListener) expire(s *udpSession) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Now().Before(time.Unix(0, s.last.Load()).Add(l.idleTimeout)) {
		return false
	}
	if l.sessions[s.client] == s {
		delete(l.sessions, s.client)
	}
	return true
}

// end removes an idle or closed session, and its count from its endpoint.
func (l *udpListener) end(s *udpSession) {
	l.mu.Lock()
	if l.sessions[s.client] == s {
		delete(l.sessions, s.client)
	}
	l.mu.Unlock()
	_ = s.up.Close()
	s.endpoint.end()
}

func (l *udpListener) idle() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sessions) == 0 && len(l.waiting) == 0
}

// sessionCount is the number of sessions open.
func (l *udpListener) sessionCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sessions)
}

// stats counts the clients: in a session, or waiting for an endpoint.
func (l *udpListener) stats() l4ListenerStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l4ListenerStats{active: len(l.sessions) + len(l.waiting), waiting: len(l.waiting)}
}
