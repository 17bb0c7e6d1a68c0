package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// fastServer is the data plane's plain-HTTP/1.1 server: one goroutine per client connection reading
// request heads with the fast parser and proxying them over pooled upstream connections (fastproxy.go).
// Whatever it does not handle (HTTP/1.0, Upgrade, Expect, unusual framing or targets, rules whose
// options it leaves to net/http) it hands over, with the bytes it already read, to the net/http server
// serving handoff: that server keeps the connection to its end. With a TLS configuration it serves
// HTTPS the same way (fasttls.go).
type fastServer struct {
	proxy   *proxy
	pool    *Pool // closed idle upstream connections at shutdown
	logger  *slog.Logger
	access  *accessLog
	metrics *metrics
	handoff *handoffListener
	buffers fastBuffers
	date    dateCache

	headerTimeout, idleTimeout time.Duration
	tlsConfig                  *tls.Config // nil: plain HTTP
	forwardedProto             string      // the X-Forwarded-Proto line of requests sent upstream

	closing   atomic.Bool
	handedOff atomic.Uint64 // connections given to net/http
	tlsFast   atomic.Uint64 // TLS connections the fast path serves after their handshake
	tlsHTTP2  atomic.Uint64 // TLS connections that negotiated h2, given to net/http
	mu        sync.Mutex
	conns     map[*fastConn]struct{}
	wg        sync.WaitGroup
}

// fastServerConfig is what a fastServer takes from the gateway.
type fastServerConfig struct {
	proxy         *proxy
	pool          *Pool
	logger        *slog.Logger // the gateway's
	access        *accessLog   // the access log
	metrics       *metrics
	addr          net.Addr // the listener's, for the handoff listener
	headerTimeout time.Duration
	idleTimeout   time.Duration
	tls           *tls.Config // serve HTTPS with it; nil: plain HTTP
}

func newFastServer(cfg fastServerConfig) *fastServer {
	return &fastServer{
		proxy: cfg.proxy, pool: cfg.pool, logger: cfg.logger, access: cfg.access, metrics: cfg.metrics,
		handoff:       newHandoffListener(cfg.addr),
		headerTimeout: cfg.headerTimeout, idleTimeout: cfg.idleTimeout,
		tlsConfig: cfg.tls, forwardedProto: forwardedProtoLine(cfg.tls),
		conns: make(map[*fastConn]struct{}),
	}
}

// serve accepts connections on ln until it is closed; ctx is the requests' context (logging).
func (s *fastServer) serve(ctx context.Context, ln net.Listener) error {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return err
		}
		if s.tlsConfig != nil {
			conn = tls.Server(conn, s.tlsConfig) // its handshake runs in the connection's goroutine
		}
		c := &fastConn{srv: s, conn: conn, ctx: ctx}
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			_ = conn.Close()
			return http.ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

// shutdown stops the idle connections, lets the busy ones finish their request and waits for them
// until ctx is done, when it closes the rest. The caller closes the listener.
func (s *fastServer) shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.mu.Lock()
	for c := range s.conns {
		_ = c.conn.SetReadDeadline(time.Now()) // wakes a connection waiting for a request
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	defer s.pool.closeIdle()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.closeAll()
		<-done
		return ctx.Err()
	}
}

// closeAll closes every connection the server still holds.
func (s *fastServer) closeAll() {
	s.closing.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		closeConn(c.conn)
	}
}

func (s *fastServer) forget(c *fastConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// fastConn is one client connection of the fast server.
type fastConn struct {
	srv    *fastServer
	conn   net.Conn
	ctx    context.Context
	rd     *armedReader // under br
	flush  func() error // bw.Flush, armed on rd to send the answers before waiting for a request
	br     *bufio.Reader
	bw     *bufio.Writer
	remote string // the client's address, for the access log
	ip     string // the client's IP, for X-Forwarded-For
	head   h1Head // the request being served
	resp   h1Head // its upstream's answer
	ex     exchange
	ids    requestIDs

	// logged is whether the access log takes the request being served; without it, the request's
	// strings (its head, a generated id) live in buffers of the connection reused by the next request
	// (headBuf, ids), since nothing keeps them past the request: no allocation.
	logged  bool
	headBuf []byte

	// now is the latest clock reading of the request being served (its start, then the arrival of the
	// upstream's answer), reused instead of a time.Now per use; end is when its answer was written.
	now, end time.Time
	// deadline is the read deadline last set on conn (zero: none).
	deadline time.Time
}

// serve reads and answers requests until the client or an error ends the connection, or hands it to
// net/http.
func (c *fastConn) serve() {
	defer c.srv.forget(c)
	if tc, ok := c.conn.(*tls.Conn); ok && !c.startTLS(tc) {
		return // the handshake failed, or the connection went to net/http's HTTP/2 server
	}
	s := c.srv
	c.rd = newArmedReader(c.conn)
	c.br, c.bw = s.buffers.reader(c.rd), s.buffers.writer(c.conn)
	c.flush = c.bw.Flush
	c.remote = c.conn.RemoteAddr().String()
	c.ip = c.remote
	if host, _, err := net.SplitHostPort(c.remote); err == nil {
		c.ip = host
	}
	handedOff := false
	defer func() {
		if !handedOff {
			_ = c.rd.runBefore() // answers not flushed yet
			_ = c.conn.Close()
		}
		s.buffers.putReader(c.br)
		s.buffers.putWriter(c.bw)
	}()
	for !s.closing.Load() {
		c.idleDeadline()
		if s.closing.Load() && c.br.Buffered() == 0 {
			return // shutdown may have set its deadline before this one
		}
		if _, err := c.br.Peek(1); err != nil {
			return
		}
		n, err := peekHead(c.br, func() { c.setDeadline(time.Now().Add(s.headerTimeout)) })
		if errors.Is(err, errHeadTooLarge) {
			handedOff = c.handOff()
			return
		}
		if err != nil {
			return // the client went away or was too slow: nothing to answer
		}
		raw, _ := c.br.Peek(n)
		if err := parseRequestHead(c.headString(raw), &c.head); err != nil {
			c.badRequest()
			return
		}
		if c.head.slow != "" {
			handedOff = c.handOff()
			return
		}
		plan := c.route()
		if plan.handOff {
			handedOff = c.handOff()
			return
		}
		_, _ = c.br.Discard(n)
		if c.head.contentLength > 0 || c.head.chunked {
			c.setDeadline(time.Time{}) // a body streams as long as it takes
		}
		if !c.forward(plan) {
			_ = c.bw.Flush()
			return
		}
		// The answer goes out before the next read of the client waits; pipelined requests already
		// buffered are answered in the same write.
		c.rd.arm(c.flush)
	}
}

// headString returns the parser's input for the request head raw: a string of its own when the access
// log takes the request (a log handler may keep the line's strings), otherwise a copy in headBuf,
// valid until the next request's head. It sets c.logged.
func (c *fastConn) headString(raw []byte) string {
	c.logged = c.srv.access.Enabled(c.ctx, slog.LevelInfo)
	if c.logged {
		return string(raw)
	}
	c.headBuf = append(c.headBuf[:0], raw...)
	return unsafe.String(unsafe.SliceData(c.headBuf), len(c.headBuf))
}

// idleDeadline sets the read deadline for the wait for the next request: idleTimeout after the last
// answer was written. A deadline already set that falls within idleSlack before that one is kept, so a
// busy connection updates its deadline (a runtime timer, under a lock) about once per idleSlack, not
// once a request: an idle connection closes between idleTimeout-idleSlack and idleTimeout after its
// last answer.
func (c *fastConn) idleDeadline() {
	last := c.end
	if last.IsZero() { // the connection's first request
		last = time.Now()
	}
	want := last.Add(c.srv.idleTimeout)
	if !c.deadline.IsZero() && !c.deadline.After(want) && !c.deadline.Before(want.Add(-idleSlack(c.srv.idleTimeout))) {
		return
	}
	c.setDeadline(want)
}

// idleSlack is how much earlier than idleTimeout an idle connection may close: a sixteenth of it, at
// most a second.
func idleSlack(idleTimeout time.Duration) time.Duration {
	return min(idleTimeout/16, time.Second)
}

func (c *fastConn) setDeadline(t time.Time) {
	_ = c.conn.SetReadDeadline(t)
	c.deadline = t
}

// handOff gives the connection, with the bytes read and not yet answered, to the net/http server. It
// reports false when that server is shut down (the caller closes the connection).
func (c *fastConn) handOff() bool {
	c.rd.before = nil // the flush below sends everything
	if err := c.bw.Flush(); err != nil {
		return false
	}
	buffered, _ := c.br.Peek(c.br.Buffered())
	rc := &replayConn{Conn: c.conn, pending: bytes.Clone(buffered)}
	c.srv.handedOff.Add(1)
	return c.srv.handoff.deliver(rc)
}

// badRequest answers a malformed head with 400 and closes.
func (c *fastConn) badRequest() {
	_, _ = c.bw.WriteString("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Connection: close\r\nContent-Length: 12\r\n\r\nbad request\n")
	_ = c.bw.Flush()
}

// handoffListener is the net.Listener of the net/http server behind the fast server: it accepts the
// connections the fast server hands over.
type handoffListener struct {
	addr      net.Addr
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

// deliver passes conn to the server's Accept; false when the listener is closed.
func (l *handoffListener) deliver(conn net.Conn) bool {
	select {
	case l.conns <- conn:
		return true
	case <-l.closed:
		return false
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// replayConn is a handed-over connection whose first reads return the bytes the fast server read.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// dateCache is the Date header's value, formatted once a second.
type dateCache struct {
	v atomic.Pointer[dateValue]
}

type dateValue struct {
	sec int64
	s   string
}

func (d *dateCache) get(now time.Time) string {
	sec := now.Unix()
	if v := d.v.Load(); v != nil && v.sec == sec {
		return v.s
	}
	v := &dateValue{sec: sec, s: now.UTC().Format(http.TimeFormat)}
	d.v.Store(v)
	return v.s
}
