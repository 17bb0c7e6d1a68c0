package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// tcpListener accepts the connections of one TCP route and pipes each to an endpoint, chosen by the
// route's policy (l4Balancer); when a dial fails the connection tries the next endpoint. A connection
// accepted while the route has no endpoint waits up to EndpointWait for one. A connection that gets no
// endpoint is closed without a reset (refuse).
type tcpListener struct {
	ln           *net.TCPListener
	balancer     *l4Balancer
	dialer       net.Dialer
	endpointWait time.Duration
	buffers      *relayBuffers
	ctx          context.Context
	logger       *slog.Logger

	waiting atomic.Int64 // connections waiting for an endpoint

	mu      sync.Mutex
	conns   map[*net.TCPConn]struct{} // client connections in progress, for close(drop)
	wg      sync.WaitGroup            // the accept loop and every connection
	done    chan struct{}             // closed when the accept loop returns
	closing chan struct{}             // closed by close: the connections waiting for an endpoint give up
}

// refuseDrain bounds how long a refused connection reads what its client sent before it is closed.
const refuseDrain = time.Second

func listenTCP(ctx context.Context, addr string, balancer *l4Balancer, cfg L4Config, buffers *relayBuffers,
	logger *slog.Logger) (*tcpListener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("bind route port: %w", err) // err names the address
	}
	l := &tcpListener{
		ln: ln.(*net.TCPListener), balancer: balancer, ctx: ctx, logger: logger,
		dialer: net.Dialer{Timeout: cfg.DialTimeout}, endpointWait: cfg.EndpointWait, buffers: buffers,
		conns: make(map[*net.TCPConn]struct{}), done: make(chan struct{}), closing: make(chan struct{}),
	}
	l.wg.Go(l.serve)
	return l, nil
}

func (l *tcpListener) addr() net.Addr { return l.ln.Addr() }

func (l *tcpListener) setRoute(r L4Route) { l.balancer.set(r.Endpoints, r.Balance) }

func (l *tcpListener) idle() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns) == 0
}

func (l *tcpListener) stats() l4ListenerStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l4ListenerStats{active: len(l.conns), waiting: int(l.waiting.Load())}
}

func (l *tcpListener) close(drop bool) {
	_ = l.ln.Close()
	<-l.done
	select {
	case <-l.closing:
	default:
		close(l.closing)
	}
	if !drop {
		return
	}
	l.mu.Lock()
	for c := range l.conns {
		_ = c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// serve accepts until the listener is closed. A temporary accept error (out of file descriptors)
// backs off briefly rather than spinning.
func (l *tcpListener) serve() {
	defer close(l.done)
	for {
		c, err := l.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.logger.Warn("accept tcp connection", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		l.mu.Lock()
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		l.wg.Go(func() {
			defer func() {
				l.mu.Lock()
				delete(l.conns, c)
				l.mu.Unlock()
				_ = c.Close()
			}()
			l.handle(c)
		})
	}
}

// handle dials an endpoint for the client connection and pipes the two until both directions end; the
// endpoint counts the connection in progress until then.
func (l *tcpListener) handle(client *net.TCPConn) {
	up, endpoint, err := l.dial(client)
	if err != nil {
		l.logger.Warn("tcp connection refused", "client", client.RemoteAddr().String(), "err", err)
		refuse(client)
		return
	}
	defer endpoint.end()
	defer func() { _ = up.Close() }()
	pipeTCP(client, up, l.buffers)
}

// dial connects to the endpoint the policy picks for the client, then to the following ones until one
// answers (l4Dial), and returns the endpoint's Upstream, whose count the caller ends.
func (l *tcpListener) dial(client *net.TCPConn) (*net.TCPConn, *Upstream, error) {
	var from netip.AddrPort
	if a, ok := client.RemoteAddr().(*net.TCPAddr); ok {
		from = a.AddrPort()
	}
	eps, start, err := l.waitEndpoints(from)
	if err != nil {
		return nil, nil, err
	}
	return l4Dial(l.ctx, eps, start, func(ctx context.Context, addr string) (*net.TCPConn, error) {
		c, err := l.dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			l.logger.Debug("dial tcp endpoint", "endpoint", addr, "err", err)
			return nil, err
		}
		return c.(*net.TCPConn), nil
	})
}

// waitEndpoints picks the route's endpoints for the client like l4Balancer.pick, waiting up to
// endpointWait for the route to have one. It gives up early when the listener closes or the proxy
// stops.
func (l *tcpListener) waitEndpoints(client netip.AddrPort) ([]*Upstream, int, error) {
	var timeout <-chan time.Time
	for {
		eps, start, changed := l.balancer.pick(client)
		if start >= 0 {
			return eps, start, nil
		}
		if timeout == nil {
			timer := time.NewTimer(l.endpointWait)
			defer timer.Stop()
			timeout = timer.C
			l.waiting.Add(1)
			defer l.waiting.Add(-1)
			l.logger.Debug("tcp connection waits for an endpoint", "wait", l.endpointWait)
		}
		select {
		case <-changed:
		case <-timeout:
			return nil, -1, fmt.Errorf("wait for endpoint: the route had no ready endpoint for %s", l.endpointWait)
		case <-l.closing:
			return nil, -1, errors.New("wait for endpoint: the route was removed")
		case <-l.ctx.Done():
			return nil, -1, fmt.Errorf("wait for endpoint: %w", l.ctx.Err())
		}
	}
}

// refuse ends a client connection that got no endpoint with an orderly close rather than a reset: it
// half-closes the connection (the client reads EOF), then discards what the client sent, up to
// refuseDrain, so the final close finds no unread data (closing a socket with unread data sends RST).
func refuse(c *net.TCPConn) {
	_ = c.CloseWrite()
	_ = c.SetReadDeadline(time.Now().Add(refuseDrain))
	_, _ = io.Copy(io.Discard, c)
}

// pipeTCP copies both ways between two connections until both directions are done. Each direction ends
// with a half-close of its writer (CloseWrite), so a peer that shuts down its sending side still gets
// the answer. The bytes pass through buffers lent by buffers (copyRelay says why not splice).
func pipeTCP(a, b *net.TCPConn, buffers *relayBuffers) {
	var wg sync.WaitGroup
	wg.Go(func() { copyHalf(b, a, buffers) })
	copyHalf(a, b, buffers)
	wg.Wait()
}

// copyHalf copies src to dst until src ends, then half-closes dst. On an error (a reset) it closes both
// connections' reading sides too, so the other direction does not wait forever on a dead peer.
func copyHalf(dst, src *net.TCPConn, buffers *relayBuffers) {
	if _, err := copyRelay(dst, src, buffers); err != nil {
		_ = src.CloseRead()
		_ = dst.CloseRead()
	}
	_ = dst.CloseWrite()
}
