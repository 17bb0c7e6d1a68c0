package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// HTTPS through the fast path: a fast server with a TLS configuration runs the handshake of each
// client connection in that connection's goroutine (a slow handshake never holds the accept loop),
// serves HTTP/1.1 (ALPN "http/1.1" or none) itself over the *tls.Conn, and gives "h2" connections, as
// they are, to net/http's HTTP/2 server behind it. What it hands over mid-connection (upgrades, unusual
// requests) reaches that same server as a replayConn over the *tls.Conn; tlsConnContext and
// withTLSState give those requests the connection's TLS state, so that net/http's side sees them as
// HTTPS too (X-Forwarded-Proto, no force-https redirect).

// ALPN protocols of the HTTPS listener.
const (
	alpnHTTP2  = "h2"
	alpnHTTP11 = "http/1.1"
)

// startTLS runs the handshake of a client connection of the HTTPS fast server and reports whether the
// fast path serves it. The handshake has the header timeout (net/http's TLS handshake timeout is its
// smallest read timeout, the header one here); a failed handshake is logged at debug level and closes
// the connection, after net/http's answer to a client that spoke plain HTTP; an "h2" connection goes
// to net/http.
func (c *fastConn) startTLS(tc *tls.Conn) bool {
	s := c.srv
	_ = tc.SetDeadline(time.Now().Add(s.headerTimeout))
	if s.closing.Load() { // shutdown may have set its deadline before this one
		_ = tc.NetConn().Close()
		return false
	}
	if err := tc.HandshakeContext(c.ctx); err != nil {
		reason := err.Error()
		if re, ok := errors.AsType[tls.RecordHeaderError](err); ok && re.Conn != nil && recordLooksLikeHTTP(re.RecordHeader) {
			_, _ = io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			reason = "client sent an HTTP request to an HTTPS server"
		}
		s.logger.Debug("http: TLS handshake error", "remote", tc.RemoteAddr().String(), "err", reason)
		_ = tc.NetConn().Close()
		return false
	}
	_ = tc.SetDeadline(time.Time{})
	switch tc.ConnectionState().NegotiatedProtocol {
	case "", alpnHTTP11:
		s.tlsFast.Add(1)
		return true
	}
	s.tlsHTTP2.Add(1)
	if !s.handoff.deliver(tc) {
		_ = tc.NetConn().Close() // the net/http server is shut down
	}
	return false
}

// recordLooksLikeHTTP reports whether a TLS record header is the start of a plain HTTP request, like
// net/http's tlsRecordHeaderLooksLikeHTTP.
func recordLooksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// closeConn closes a client connection from outside its goroutine: a TLS one without its close_notify
// alert, whose write could wait for a client that does not read.
func closeConn(conn net.Conn) {
	if tc, ok := conn.(*tls.Conn); ok {
		_ = tc.NetConn().Close()
		return
	}
	_ = conn.Close()
}

// forwardedProtoLine is the X-Forwarded-Proto line (with the end of the line before it) the fast path
// writes into the requests it sends upstream.
func forwardedProtoLine(config *tls.Config) string {
	if config != nil {
		return "\r\nX-Forwarded-Proto: https\r\n"
	}
	return "\r\nX-Forwarded-Proto: http\r\n"
}

// tlsStateKey is the context key of a handed-over TLS connection's state; only the functions below
// use it.
type tlsStateKey struct{}

// tlsConnContext is the HTTPS server's ConnContext: a connection the fast path handed over keeps the
// state of the TLS connection under it (net/http only knows a *tls.Conn, which it is not).
func tlsConnContext(ctx context.Context, conn net.Conn) context.Context {
	rc, ok := conn.(*replayConn)
	if !ok {
		return ctx
	}
	tc, ok := rc.Conn.(*tls.Conn)
	if !ok {
		return ctx
	}
	state := tc.ConnectionState()
	return context.WithValue(ctx, tlsStateKey{}, &state)
}

// withTLSState sets Request.TLS of the requests of handed-over TLS connections, as net/http does for
// the connections it accepts itself.
func withTLSState(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			if state, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok {
				r2 := *r
				r2.TLS = state
				r = &r2
			}
		}
		next.ServeHTTP(w, r)
	})
}
