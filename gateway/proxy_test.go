package gateway

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dataPlane is the gateway's handler chain over a table the test controls.
func dataPlane(t *testing.T, routes *Routes) (*httptest.Server, *Pool) {
	t.Helper()
	var table atomic.Pointer[Table]
	pool := NewPool()
	if routes != nil {
		table.Store(Compile(*routes, pool))
	}
	logger := slog.New(slog.DiscardHandler)
	p := newProxy(&table, logger)
	srv := serveDataPlane(t, p, pool, logger) // net/http, or the fast path under TestFastPathSuite
	t.Cleanup(srv.Close)
	t.Cleanup(p.transport.CloseIdleConnections)
	return srv, pool
}

// echoBackend answers with its name and the request headers the test looks at.
func echoBackend(t *testing.T, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		w.Header().Set("X-Seen-Host", r.Host)
		w.Header().Set("X-Seen-Path", r.URL.RequestURI())
		w.Header().Set("X-Seen-Forwarded-For", r.Header.Get("X-Forwarded-For"))
		w.Header().Set("X-Seen-Forwarded-Host", r.Header.Get("X-Forwarded-Host"))
		w.Header().Set("X-Seen-Forwarded-Proto", r.Header.Get("X-Forwarded-Proto"))
		w.Header().Set("X-Seen-Request-ID", r.Header.Get(HeaderRequestID))
		w.Header().Set(HeaderRequestID, "backend-echo") // must not reach the client twice
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func hostPort(srv *httptest.Server) string { return strings.TrimPrefix(srv.URL, "http://") }

func get(t *testing.T, url, host string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Host = host
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(body)
}

func TestProxyForwards(t *testing.T) {
	t.Parallel()
	backend := echoBackend(t, "web")
	srv, _ := dataPlane(t, &Routes{HTTP: []HTTPRoute{{Host: "shop.example.com", PathType: PathPrefix,
		Backend: Backend{Service: "shop/web", Port: "80", Endpoints: []string{hostPort(backend)}}}}})

	tests := []struct {
		name      string
		header    http.Header
		wantXFF   string // suffix is the gateway's client, 127.0.0.1
		wantReqID string // "" means generated
	}{
		{name: "fresh request", wantXFF: "127.0.0.1"},
		{name: "forwarded for is appended", header: http.Header{"X-Forwarded-For": {"203.0.113.7"}}, wantXFF: "203.0.113.7, 127.0.0.1"},
		{name: "request id is kept", header: http.Header{HeaderRequestID: {"abc-123"}}, wantXFF: "127.0.0.1", wantReqID: "abc-123"},
		{name: "insane request id is replaced", header: http.Header{HeaderRequestID: {"has space"}}, wantXFF: "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, body := get(t, srv.URL+"/cart/items?x=1", "shop.example.com", tt.header)
			assert.Equal(t, http.StatusOK, res.StatusCode)
			assert.Equal(t, "web", body)
			assert.Equal(t, "shop.example.com", res.Header.Get("X-Seen-Host"), "client Host kept")
			assert.Equal(t, "/cart/items?x=1", res.Header.Get("X-Seen-Path"))
			assert.Equal(t, tt.wantXFF, res.Header.Get("X-Seen-Forwarded-For"))
			assert.Equal(t, "shop.example.com", res.Header.Get("X-Seen-Forwarded-Host"))
			assert.Equal(t, "http", res.Header.Get("X-Seen-Forwarded-Proto"))
			ids := res.Header.Values(HeaderRequestID)
			require.Len(t, ids, 1, "one request id on the answer")
			assert.Equal(t, res.Header.Get("X-Seen-Request-ID"), ids[0], "backend and client see the same id")
			if tt.wantReqID != "" {
				assert.Equal(t, tt.wantReqID, ids[0])
			} else {
				assert.Len(t, ids[0], 26)
			}
		})
	}
}

func TestProxyOwnAnswers(t *testing.T) {
	t.Parallel()
	// A listener closed at once gives an address where nothing answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	require.NoError(t, ln.Close())

	routes := &Routes{HTTP: []HTTPRoute{
		{Host: "empty.example.com", PathType: PathPrefix, Backend: Backend{Service: "shop/empty", Port: "80"}},
		{Host: "dead.example.com", PathType: PathPrefix, Backend: Backend{Service: "shop/dead", Port: "80", Endpoints: []string{dead}}},
	}}
	tests := []struct {
		name     string
		routes   *Routes
		host     string
		wantCode int
		wantBody string
	}{
		{name: "no snapshot yet", routes: nil, host: "empty.example.com", wantCode: http.StatusServiceUnavailable, wantBody: "gateway not ready: no routing snapshot yet\n"},
		{name: "no route", routes: routes, host: "nope.example.com", wantCode: http.StatusNotFound, wantBody: "no route for this host and path\n"},
		{name: "no ready endpoint", routes: routes, host: "empty.example.com", wantCode: http.StatusServiceUnavailable, wantBody: "no ready endpoint for service shop/empty:80\n"},
		{name: "upstream down", routes: routes, host: "dead.example.com", wantCode: http.StatusBadGateway, wantBody: "bad gateway: the upstream did not answer\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := dataPlane(t, tt.routes)
			res, body := get(t, srv.URL+"/", tt.host, nil)
			assert.Equal(t, tt.wantCode, res.StatusCode)
			assert.Equal(t, tt.wantBody, body)
			assert.Equal(t, "text/plain; charset=utf-8", res.Header.Get("Content-Type"))
			assert.NotEmpty(t, res.Header.Get(HeaderRequestID))
		})
	}
}

func TestProxyRoundRobin(t *testing.T) {
	t.Parallel()
	a, b := echoBackend(t, "a"), echoBackend(t, "b")
	srv, pool := dataPlane(t, &Routes{HTTP: []HTTPRoute{{PathType: PathPrefix,
		Backend: Backend{Service: "shop/web", Port: "80", Endpoints: []string{hostPort(a), hostPort(b)}}}}})
	counts := map[string]int{}
	for range 10 {
		_, body := get(t, srv.URL+"/", "x.test", nil)
		counts[body]++
	}
	assert.Equal(t, map[string]int{"a": 5, "b": 5}, counts)
	assert.EqualValues(t, 5, pool.Upstream(hostPort(a)).Requests())
	assert.EqualValues(t, 0, pool.Upstream(hostPort(a)).Inflight())
}

func TestProxyWebSocket(t *testing.T) {
	t.Parallel()
	backend := wsEchoBackend(t, func(*http.Request) string { return "echo: " })
	srv, _ := dataPlane(t, &Routes{HTTP: []HTTPRoute{{Host: "ws.example.com", Path: "/ws", PathType: PathPrefix,
		Backend: Backend{Service: "shop/ws", Port: "80", Endpoints: []string{hostPort(backend)}}}}})

	ctx := t.Context()
	c, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", &websocket.DialOptions{Host: "ws.example.com"})
	require.NoError(t, err)
	defer c.CloseNow()
	assert.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	requireEchoes(t, ctx, c, "echo: ")
	require.NoError(t, c.Close(websocket.StatusNormalClosure, "done"))
}

// wsEchoBackend is a WebSocket server sending every message back after prefix(the upgrade request).
func wsEchoBackend(t *testing.T, prefix func(*http.Request) string) *httptest.Server {
	t.Helper()
	return httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte(prefix(r)), msg...)); err != nil {
				return
			}
		}
	}))
}

// requireEchoes sends two messages on c and requires each back with prefix before it.
func requireEchoes(t *testing.T, ctx context.Context, c *websocket.Conn, prefix string) {
	t.Helper()
	for _, msg := range []string{"hello", "again"} {
		require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(msg)))
		_, got, err := c.Read(ctx)
		require.NoError(t, err)
		assert.Equal(t, prefix+msg, string(got))
	}
}

// BenchmarkProxy proxies GET requests through the whole handler chain (request id, access log, routing,
// reverse proxy) to a backend on 127.0.0.1, with a plain rule and with a rule using the options that
// act on every request (retries, body limit, response headers, sticky cookie held, header match).
func BenchmarkProxy(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer backend.Close()
	addr := hostPort(backend)
	be := Backend{Service: "shop/web", Port: "80", Endpoints: []string{addr}}
	var table atomic.Pointer[Table]
	pool := NewPool()
	table.Store(Compile(Routes{HTTP: []HTTPRoute{
		{Host: "shop.example.com", PathType: PathPrefix, Ingress: "shop/web", Backend: be},
		{Host: "shop.example.com", Path: "/opts", PathType: PathPrefix, Ingress: "shop/opts", Backend: be,
			Header: &ValueMatch{Name: "X-Beta", Value: "1"},
			Options: RouteOptions{Retries: 2, MaxBodySize: 1 << 20, StickyCookie: "rf",
				ResponseHeaders: []HeaderValue{{Name: "X-Frame-Options", Value: "DENY"}}}},
	}}, pool))
	logger := slog.New(slog.DiscardHandler)
	p := newProxy(&table, logger)
	defer p.transport.CloseIdleConnections()
	h := withRequestID(withAccessLog(p, &accessLog{logger: logger}, newMetrics()))
	sticky := "rf=" + strconv.FormatUint(pool.Upstream(addr).hash, 16)
	for _, bc := range []struct {
		name, path string
		header     http.Header
	}{
		{name: "plain", path: "/", header: http.Header{}},
		{name: "options", path: "/opts/x", header: http.Header{"X-Beta": {"1"}, "Cookie": {sticky}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "http://shop.example.com"+bc.path, nil)
				req.Header = bc.header.Clone()
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
