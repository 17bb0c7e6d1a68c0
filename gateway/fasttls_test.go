package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tlsPlane is an HTTPS data plane as Run builds it: the fast server with the gateway's TLS
// configuration and net/http's HTTPS server behind it.
type tlsPlane struct {
	addr  string
	fs    *fastServer
	roots *x509.CertPool // trusts the plane's certificate, for "shop.example.com"
	log   *syncBuffer    // the access log, as JSON lines
	m     *metrics
}

// startTLSPlane serves routes over HTTPS with the certificate of shop.example.com as the default one.
// headerTimeout is also the handshake timeout.
func startTLSPlane(t *testing.T, routes Routes, headerTimeout time.Duration) *tlsPlane {
	t.Helper()
	var table atomic.Pointer[Table]
	pool := NewPool()
	table.Store(Compile(routes, pool))
	cert, err := selfSigned("shop.example.com", time.Now())
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	require.NoError(t, err)
	config := newTLSConfig(&table, cert)
	sink := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(sink, nil))
	m := newMetrics()
	p := newProxy(&table, logger)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	fs := newFastServer(fastServerConfig{proxy: p, pool: pool, logger: logger, access: &accessLog{logger: logger}, metrics: m,
		addr: ln.Addr(), headerTimeout: headerTimeout, idleTimeout: httpIdleTimeout, tls: config})
	srv := httpsServer(withRequestID(withAccessLog(p, &accessLog{logger: logger}, m)), config, logger)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(fs.handoff) }()
	done := make(chan error, 1)
	go func() { done <- fs.serve(context.Background(), ln) }()
	t.Cleanup(func() {
		fs.closing.Store(true)
		_ = ln.Close()
		fs.closeAll()
		<-done
		fs.wg.Wait()
		_ = srv.Close()
		<-served
		pool.closeIdle()
		p.transport.CloseIdleConnections()
	})
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return &tlsPlane{addr: ln.Addr().String(), fs: fs, roots: roots, log: sink, m: m}
}

// client speaks HTTPS to the plane: HTTP/2 when h2, else HTTP/1.1 only, on at most one connection.
func (tp *tlsPlane) client(t *testing.T, h2 bool) *http.Client {
	t.Helper()
	config := &tls.Config{RootCAs: tp.roots, ServerName: "shop.example.com", NextProtos: []string{alpnHTTP11}}
	if h2 {
		config.NextProtos = []string{alpnHTTP2, alpnHTTP11}
	}
	tr := &http.Transport{TLSClientConfig: config, ForceAttemptHTTP2: h2, MaxConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// do sends a GET for path with the host shop.example.com and returns the answer and its body.
func (tp *tlsPlane) do(t *testing.T, client *http.Client, path, id string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+tp.addr+path, nil)
	require.NoError(t, err)
	req.Host = "shop.example.com"
	req.Header.Set(HeaderRequestID, id)
	res, err := client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(body)
}

// rawTLS writes request on a new TLS connection offering no ALPN protocol and reads one answer.
func (tp *tlsPlane) rawTLS(t *testing.T, request string) (*http.Response, string) {
	t.Helper()
	conn, err := tls.Dial("tcp", tp.addr, &tls.Config{RootCAs: tp.roots, ServerName: "shop.example.com"})
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	assert.Empty(t, conn.ConnectionState().NegotiatedProtocol)
	_, err = io.WriteString(conn, request)
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(body)
}

func tlsRoutes(backend string) Routes {
	be := Backend{Service: "shop/web", Port: "80", Endpoints: []string{backend}}
	return Routes{HTTP: []HTTPRoute{
		{Host: "shop.example.com", PathType: PathPrefix, Ingress: "shop/web", Backend: be},
		{Host: "shop.example.com", Path: "/secure", PathType: PathPrefix, Ingress: "shop/secure", Backend: be,
			Options: RouteOptions{ForceHTTPS: true}},
	}}
}

// TestFastTLSServesHTTP1: an HTTPS client speaking HTTP/1.1 is served by the fast path, several
// requests on one TLS connection, with X-Forwarded-Proto https and no redirect on a force-https rule;
// a client offering no ALPN protocol too.
func TestFastTLSServesHTTP1(t *testing.T) {
	t.Parallel()
	backend := echoBackend(t, "web")
	tp := startTLSPlane(t, tlsRoutes(hostPort(backend)), httpHeaderTimeout)
	client := tp.client(t, false)
	for i, path := range []string{"/cart", "/secure/pay", "/cart?x=1"} {
		res, body := tp.do(t, client, path, "req-"+path)
		assert.Equal(t, http.StatusOK, res.StatusCode, "request %d", i)
		assert.Equal(t, 1, res.ProtoMajor)
		assert.Equal(t, "web", body)
		assert.Equal(t, "https", res.Header.Get("X-Seen-Forwarded-Proto"))
		assert.Equal(t, "req-"+path, res.Header.Get(HeaderRequestID))
	}
	assert.EqualValues(t, 1, tp.fs.tlsFast.Load(), "one TLS connection kept alive for the three requests")
	assert.Zero(t, tp.fs.handedOff.Load(), "the fast path served every request")
	assert.Zero(t, tp.fs.tlsHTTP2.Load())

	res, body := tp.rawTLS(t, "GET /secure/x HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close\r\n\r\n")
	assert.Equal(t, http.StatusOK, res.StatusCode, "no ALPN: HTTP/1.1, served without a redirect")
	assert.Equal(t, "web", body)
	assert.Equal(t, "https", res.Header.Get("X-Seen-Forwarded-Proto"))
	assert.EqualValues(t, 2, tp.fs.tlsFast.Load())
	assert.Zero(t, tp.fs.handedOff.Load())
}

// TestFastTLSHTTP2: a client negotiating h2 is served by net/http's HTTP/2 server, as HTTPS.
func TestFastTLSHTTP2(t *testing.T) {
	t.Parallel()
	backend := echoBackend(t, "web")
	tp := startTLSPlane(t, tlsRoutes(hostPort(backend)), httpHeaderTimeout)
	client := tp.client(t, true)
	for _, path := range []string{"/cart", "/secure/pay"} {
		res, body := tp.do(t, client, path, "h2")
		assert.Equal(t, http.StatusOK, res.StatusCode, path)
		assert.Equal(t, 2, res.ProtoMajor, "HTTP/2 by ALPN")
		assert.Equal(t, "web", body)
		assert.Equal(t, "https", res.Header.Get("X-Seen-Forwarded-Proto"))
	}
	assert.EqualValues(t, 1, tp.fs.tlsHTTP2.Load())
	assert.Zero(t, tp.fs.tlsFast.Load())
}

// TestFastTLSHandOff: what the fast path hands over on a TLS connection (here HTTP/1.0, with the
// request's bytes already read from the TLS connection) is answered by net/http as HTTPS: no
// force-https redirect, X-Forwarded-Proto https.
func TestFastTLSHandOff(t *testing.T) {
	t.Parallel()
	backend := echoBackend(t, "web")
	tp := startTLSPlane(t, tlsRoutes(hostPort(backend)), httpHeaderTimeout)
	res, body := tp.rawTLS(t, "GET /secure/a?b=1 HTTP/1.0\r\nHost: shop.example.com\r\n\r\n")
	assert.Equal(t, http.StatusOK, res.StatusCode, "no redirect over HTTPS")
	assert.Equal(t, "web", body)
	assert.Equal(t, "https", res.Header.Get("X-Seen-Forwarded-Proto"))
	assert.Equal(t, "/secure/a?b=1", res.Header.Get("X-Seen-Path"))
	assert.EqualValues(t, 1, tp.fs.handedOff.Load())
}

// TestFastTLSWebSocket: a WebSocket upgrade over TLS is handed to net/http and proxied both ways.
func TestFastTLSWebSocket(t *testing.T) {
	t.Parallel()
	backend := wsEchoBackend(t, func(r *http.Request) string { return r.Header.Get("X-Forwarded-Proto") + " echo: " })
	tp := startTLSPlane(t, Routes{HTTP: []HTTPRoute{{Host: "shop.example.com", Path: "/ws", PathType: PathPrefix,
		Backend: Backend{Service: "shop/ws", Port: "80", Endpoints: []string{hostPort(backend)}}}}}, httpHeaderTimeout)

	ctx := t.Context()
	c, res, err := websocket.Dial(ctx, "wss://"+tp.addr+"/ws", &websocket.DialOptions{Host: "shop.example.com",
		HTTPClient: tp.client(t, false)})
	require.NoError(t, err)
	defer c.CloseNow()
	assert.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	requireEchoes(t, ctx, c, "https echo: ")
	require.NoError(t, c.Close(websocket.StatusNormalClosure, "done"))
	assert.EqualValues(t, 1, tp.fs.handedOff.Load(), "the upgrade went to net/http")
	assert.EqualValues(t, 1, tp.fs.tlsFast.Load())
}

// TestFastTLSAccessLog: HTTPS requests served by the fast path log the same access lines and count
// the same metrics as the same requests served by net/http (over HTTP/2).
func TestFastTLSAccessLog(t *testing.T) {
	t.Parallel()
	backend := echoBackend(t, "web")
	var got [2][]map[string]any
	for i, h2 := range []bool{true, false} {
		tp := startTLSPlane(t, tlsRoutes(hostPort(backend)), httpHeaderTimeout)
		client := tp.client(t, h2)
		for _, r := range []struct{ path, id string }{{"/cart", "req-1"}, {"/secure/x", "req-2"}, {"/a/b", "req-3"}} {
			res, _ := tp.do(t, client, r.path, r.id)
			assert.Equal(t, r.id, res.Header.Get(HeaderRequestID))
		}
		require.Eventually(t, func() bool { return len(tp.log.accessLines(t)) == 3 }, 5*time.Second, 10*time.Millisecond)
		got[i] = tp.log.accessLines(t)
		assert.InDelta(t, 2, value(t, tp.m.routeRequests.WithLabelValues("shop/web", "2xx")), 0, "h2 %v", h2)
		assert.InDelta(t, 1, value(t, tp.m.routeRequests.WithLabelValues("shop/secure", "2xx")), 0, "h2 %v", h2)
		if !h2 {
			assert.Zero(t, tp.fs.handedOff.Load())
			assert.EqualValues(t, 1, tp.fs.tlsFast.Load())
		}
	}
	assert.Equal(t, got[0], got[1])
	assert.Equal(t, "shop/secure", got[1][1]["ingress"])
}

// TestFastTLSHandshake: a client that sends nothing is closed at the handshake timeout without holding
// up other clients' handshakes, and plain HTTP on the HTTPS port gets net/http's 400.
func TestFastTLSHandshake(t *testing.T) {
	t.Parallel()
	backend := echoBackend(t, "web")
	tp := startTLSPlane(t, tlsRoutes(hostPort(backend)), 300*time.Millisecond)

	silent, err := net.Dial("tcp", tp.addr)
	require.NoError(t, err)
	defer silent.Close()
	res, body := tp.rawTLS(t, "GET /cart HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close\r\n\r\n")
	assert.Equal(t, http.StatusOK, res.StatusCode, "served while another handshake waits")
	assert.Equal(t, "web", body)
	require.NoError(t, silent.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = silent.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the silent client is closed at the handshake timeout")

	plain, err := net.Dial("tcp", tp.addr)
	require.NoError(t, err)
	defer plain.Close()
	require.NoError(t, plain.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(plain, "GET / HTTP/1.1\r\nHost: shop.example.com\r\n\r\n")
	require.NoError(t, err)
	answer, err := io.ReadAll(plain)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(answer), "HTTP/1.0 400 Bad Request"), "%q", answer)
	assert.Contains(t, string(answer), "Client sent an HTTP request to an HTTPS server")
}

// TestGatewayHTTPSFastPath runs a gateway with an HTTPS listener: an HTTP/1.1 client and an HTTP/2
// client are both served with X-Forwarded-Proto https, and Run ends while the HTTP/1.1 client's
// connection is kept alive.
func TestGatewayHTTPSFastPath(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	g, _, leaf, done := runHTTPSGateway(t, ctx)

	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	tp := &tlsPlane{addr: g.HTTPSAddr().String(), roots: roots}
	for _, h2 := range []bool{false, true} {
		client := tp.client(t, h2)
		for range 2 {
			res, body := tp.do(t, client, "/cart", "gw")
			assert.Equal(t, http.StatusOK, res.StatusCode)
			assert.Equal(t, "web", body)
			assert.Equal(t, map[bool]int{false: 1, true: 2}[h2], res.ProtoMajor)
			assert.Equal(t, "https", res.Header.Get("X-Seen-Forwarded-Proto"))
		}
	}
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not end with kept-alive HTTPS connections open")
	}
}
