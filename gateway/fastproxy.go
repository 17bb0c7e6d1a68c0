package gateway

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// fastPlan is where the fast path sends one request: its rule and backend, or net/http.
type fastPlan struct {
	handOff bool
	route   *route
	be      *backend // nil: no rule and no default backend (404)
	path    string   // the request target's path
}

// route matches the parsed request with the current snapshot and decides whether the fast path serves
// it. Rules with options it leaves to net/http (force-https, a body limit on a chunked body) and
// consistent hashing (its key may be the client's headers or address in net/http terms) hand the
// connection over.
func (c *fastConn) route() fastPlan {
	t := c.srv.proxy.table.Load()
	if t == nil {
		return fastPlan{handOff: true} // net/http answers 503
	}
	path, _, _ := strings.Cut(c.head.target, "?")
	rt, be := t.match(c.head.host, path, &c.head)
	if be == nil {
		return fastPlan{path: path}
	}
	if rt != nil {
		// A body limit on a chunked body needs net/http's MaxBytesReader; a declared length is checked here.
		if o := &rt.Options; (o.ForceHTTPS && c.srv.tlsConfig == nil) || (o.MaxBodySize > 0 && c.head.chunked) {
			return fastPlan{handOff: true}
		}
	}
	if _, ok := be.policy.(*ConsistentHash); ok {
		return fastPlan{handOff: true}
	}
	return fastPlan{route: rt, be: be, path: path}
}

// forward answers one routed request, logs it, and reports whether the connection goes on.
func (c *fastConn) forward(plan fastPlan) bool {
	start := time.Now()
	c.now, c.end = start, time.Time{}
	c.ex = exchange{}
	id := c.head.get(HeaderRequestID)
	switch {
	case saneRequestID(id):
	case c.logged:
		id = c.ids.next()
	default:
		id = c.ids.nextInPlace()
	}
	status, n, keep := c.answer(plan, id)
	if c.end.IsZero() { // no answer written (the client went away)
		c.end = time.Now()
	}
	logAccess(c.ctx, c.srv.access, c.srv.metrics, &c.ex, accessEntry{
		requestID: id, method: c.head.method, host: c.head.host, path: plan.path,
		remote: c.remote, status: status, bytes: n, start: start, end: c.end,
		unlogged: !c.logged, // the line's strings are the connection's buffers: decided once, at the head
	})
	return keep && !c.head.close
}

// answer proxies the request to an upstream of plan's backend, or answers it itself: 404 without a
// backend, 503 without a ready endpoint, 502 when the upstream cannot be reached or breaks the exchange,
// 504 when it does not answer within the rule's read timeout.
func (c *fastConn) answer(plan fastPlan, id string) (status int, n int64, keep bool) {
	ex := &c.ex
	if plan.be == nil {
		return c.ownAnswer(http.StatusNotFound, "no route for this host and path", id)
	}
	be, rt := plan.be, plan.route
	ex.backend, ex.be = be.key, be
	var u *Upstream
	if rt != nil {
		ex.ingress, ex.route = rt.Ingress, rt
		if limit := rt.Options.MaxBodySize; limit > 0 && c.head.contentLength > limit {
			c.head.close = true // the body is not read: the connection ends with the answer
			return c.ownAnswer(http.StatusRequestEntityTooLarge, "request body too large", id)
		}
		if name := rt.Options.StickyCookie; name != "" {
			if h, err := strconv.ParseUint(c.head.cookie(name), 16, 64); err == nil {
				ex.sticky, ex.hasSticky = h, true
				u = be.sticky(h)
			}
		}
	}
	if u == nil {
		u = be.pick(nil) // the policies the fast path serves do not look at the request
	}
	if u == nil {
		return c.ownAnswer(http.StatusServiceUnavailable, "no ready endpoint for service "+be.key, id)
	}
	ex.upstream = u
	u.begin()
	defer func() { ex.upstream.end() }() // a retry may have moved to another upstream
	retries := 0
	if rt != nil && replayableMethod(c.head.method) && c.head.contentLength <= 0 && !c.head.chunked {
		retries = rt.Options.Retries
	}
	for attempt := 0; ; attempt++ {
		u = ex.upstream
		uc, err := c.send(u, rt, id)
		if attempt < retries && (isDialError(err) || (err == nil && c.resp.status == http.StatusBadGateway)) {
			now := time.Now()
			c.now = now
			ex.tried |= bit(be.index(u))
			if next := be.next(u, ex.tried, now); next != nil {
				if err != nil {
					u.failed(now)
				} else {
					uc.close() // the 502's body is not wanted
				}
				ex.upstreamErrors++
				u.end()
				next.begin()
				ex.upstream = next
				continue
			}
		}
		if err != nil {
			return c.upstreamFailed(u, err, id)
		}
		return c.relay(uc, u, rt, id)
	}
}

// replayableMethod reports whether a request of this method may be sent again when it has no body,
// like replayable.
func replayableMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// clientBodyError is a failure reading the client's request body: the client went away.
type clientBodyError struct{ err error }

func (e clientBodyError) Error() string { return "read request body: " + e.err.Error() }
func (e clientBodyError) Unwrap() error { return e.err }

// upstreamFailed answers a request whose upstream exchange failed before an answer: nothing when the
// client went away, 504 on a timeout, 502 otherwise. The upstream's passive health counts the failure.
func (c *fastConn) upstreamFailed(u *Upstream, err error, id string) (int, int64, bool) {
	var body clientBodyError
	if errors.As(err, &body) {
		c.ex.clientGone = true
		return 0, 0, false
	}
	u.failed(time.Now())
	c.ex.upstreamErrors++
	code, msg := http.StatusBadGateway, "bad gateway: the upstream did not answer"
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		code, msg = http.StatusGatewayTimeout, "gateway timeout: the upstream did not answer in time"
	}
	c.srv.logger.Warn("proxy to upstream", "request_id", strings.Clone(id), "backend", c.ex.backend, "upstream", u.Addr,
		"status", code, "err", err)
	status, n, _ := c.ownAnswer(code, msg, id)
	return status, n, c.head.contentLength <= 0 && !c.head.chunked // an unread body ends the connection
}

// send writes the request to a connection of u and reads the answer's head into c.resp. A request whose
// body is already buffered (or has none) takes an idle pooled connection and, when that one turns out
// closed by the upstream, is sent again on a new one; a request still streaming its body dials.
func (c *fastConn) send(u *Upstream, rt *route, id string) (*upConn, error) {
	h := &c.head
	bodyLen := max(h.contentLength, 0)
	replayable := !h.chunked && bodyLen <= int64(c.br.Buffered())
	var connectTimeout, readTimeout time.Duration
	if rt != nil {
		connectTimeout, readTimeout = rt.Options.ConnectTimeout, rt.Options.ReadTimeout
	}
	for attempt := 0; ; attempt++ {
		sent := c.now // the request's start, or the retry's
		var uc *upConn
		if replayable && attempt == 0 {
			uc = u.idle.get(sent)
		}
		reused := uc != nil
		if uc == nil {
			var err error
			if uc, err = dialUpstream(u.Addr, connectTimeout, &c.srv.buffers); err != nil {
				return nil, err
			}
			sent = time.Now()
		}
		err := c.writeRequest(uc, rt, id, replayable, bodyLen)
		if err == nil {
			uc.rd.arm(uc.flush) // the head goes out once the answer's read is armed
			if readTimeout > 0 {
				_ = uc.conn.SetReadDeadline(sent.Add(readTimeout))
			}
			err = c.readResponseHead(uc)
		}
		if err != nil {
			stale := reused && replayable && uc.br.Buffered() == 0 && !isTimeout(err)
			uc.close()
			if stale {
				continue // the classic keep-alive race: the upstream closed it while idle
			}
			return nil, err
		}
		if readTimeout > 0 {
			_ = uc.conn.SetReadDeadline(time.Time{})
		}
		if replayable && bodyLen > 0 {
			_, _ = c.br.Discard(int(bodyLen))
		}
		now := time.Now()
		c.now = now
		u.succeeded()
		u.ewma.observe(now.Sub(sent), now)
		c.ex.upstreamStatus = c.resp.status
		return uc, nil
	}
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// readResponseHead reads the upstream's answer head into c.resp, skipping interim (1xx) answers.
func (c *fastConn) readResponseHead(uc *upConn) error {
	for {
		n, err := peekHead(uc.br, nil)
		if errors.Is(err, io.EOF) && uc.br.Buffered() > 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
		raw, _ := uc.br.Peek(n)
		// c.resp's strings alias uc.br's buffer instead of a copy of the head: they are read only until
		// relay has written the answer's head, before anything reads uc.br again (and a 1xx answer's
		// only until the next parse); they never reach the access log.
		if err := parseResponseHead(unsafe.String(unsafe.SliceData(raw), len(raw)), &c.resp); err != nil {
			return err
		}
		_, _ = uc.br.Discard(n)
		switch {
		case c.resp.status == http.StatusSwitchingProtocols:
			return errors.New("read response head: 101 answer to a request without upgrade")
		case c.resp.status >= 200:
			return nil
		}
	}
}

// writeRequest writes the request head for the upstream and its body, re-framed: the client's Host
// kept, hop-by-hop headers dropped, X-Forwarded-For appended to, X-Forwarded-Host and -Proto and the
// request id set, and the path rewritten when the rule says so.
func (c *fastConn) writeRequest(uc *upConn, rt *route, id string, replayable bool, bodyLen int64) error {
	h, bw := &c.head, uc.bw
	target := h.target
	if rt != nil && rt.Options.RewritePath != "" {
		path, query, hasQuery := strings.Cut(target, "?")
		target = rewritePath(rt, path)
		if hasQuery {
			target += "?" + query
		}
	}
	_, _ = bw.WriteString(h.method)
	_ = bw.WriteByte(' ')
	_, _ = bw.WriteString(target)
	_, _ = bw.WriteString(" HTTP/1.1\r\nHost: ")
	_, _ = bw.WriteString(h.host)
	_, _ = bw.WriteString("\r\n")
	te, xff := false, false
	for _, f := range h.fields {
		switch {
		case dropped(f.name, requestHopHeaders) || h.namedInConnection(f.name):
		case strings.EqualFold(f.name, "X-Forwarded-For"):
			xff = true
		case strings.EqualFold(f.name, "Te"):
			te = te || strings.EqualFold(f.value, "trailers")
		default:
			writeField(bw, f.name, f.value)
		}
	}
	_, _ = bw.WriteString("X-Forwarded-For: ")
	if xff { // the client's values, joined, then its address
		for _, f := range h.fields {
			if strings.EqualFold(f.name, "X-Forwarded-For") {
				_, _ = bw.WriteString(f.value)
				_, _ = bw.WriteString(", ")
			}
		}
	}
	_, _ = bw.WriteString(c.ip)
	_, _ = bw.WriteString("\r\nX-Forwarded-Host: ")
	_, _ = bw.WriteString(h.host)
	_, _ = bw.WriteString(c.srv.forwardedProto)
	writeField(bw, "X-Request-Id", id)
	if te {
		_, _ = bw.WriteString("Te: trailers\r\n")
	}
	switch {
	case h.chunked:
		_, _ = bw.WriteString("Transfer-Encoding: chunked\r\n")
	case bodyLen > 0 || (h.contentLength == 0 && methodSendsBody(h.method)):
		writeContentLength(bw, bodyLen)
	}
	_, _ = bw.WriteString("\r\n")

	var err error
	switch {
	case h.chunked:
		buf := c.srv.buffers.copyBuffer()
		_, err = copyChunked(bw, c.br, *buf, false)
		c.srv.buffers.putCopyBuffer(buf)
	case bodyLen > 0 && replayable:
		body, _ := c.br.Peek(int(bodyLen))
		_, err = bw.Write(body)
	case bodyLen > 0:
		buf := c.srv.buffers.copyBuffer()
		_, err = flushingCopy(bw, c.br, bodyLen, *buf)
		c.srv.buffers.putCopyBuffer(buf)
	}
	if err != nil {
		if _, upstreamSide := errors.AsType[writeError](err); !upstreamSide {
			return clientBodyError{err}
		}
		return err
	}
	return nil // the caller flushes bw
}

// methodSendsBody reports whether net/http's transport sends "Content-Length: 0" for an empty body.
func methodSendsBody(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch
}

// requestHopHeaders are the client's headers not forwarded as they are: hop-by-hop (RFC 9110 7.6.1),
// framing (re-written), and the ones the gateway sets itself.
var requestHopHeaders = []string{"Host", "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization",
	"Trailer", "Transfer-Encoding", "Upgrade", "Content-Length", "Forwarded", "X-Forwarded-Host",
	"X-Forwarded-Proto", HeaderRequestID}

// responseHopHeaders are the upstream's headers not relayed as they are.
var responseHopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Te",
	"Transfer-Encoding", "Upgrade", "Content-Length", HeaderRequestID}

// dropped reports whether name is one of names, case-insensitively.
func dropped(name string, names []string) bool {
	for _, d := range names {
		if len(d) == len(name) && strings.EqualFold(d, name) {
			return true
		}
	}
	return false
}

// namedInConnection reports whether the message's Connection header declares name hop-by-hop.
func (h *h1Head) namedInConnection(name string) bool {
	for _, c := range h.connection {
		if strings.EqualFold(c, name) {
			return true
		}
	}
	return false
}

func writeField(bw *bufio.Writer, name, value string) {
	_, _ = bw.WriteString(name)
	_, _ = bw.WriteString(": ")
	_, _ = bw.WriteString(value)
	_, _ = bw.WriteString("\r\n")
}
