package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fastPathMark in a test's name makes dataPlane serve through the fast server (with net/http behind it
// for what it hands over) instead of net/http alone.
const fastPathMark = "FastPath"

// serveDataPlane serves the handler chain over p: with net/http, or, in a test whose name holds
// fastPathMark, with the fast server the gateway runs.
func serveDataPlane(t *testing.T, p *proxy, pool *Pool, logger *slog.Logger) *httptest.Server {
	t.Helper()
	srv, _ := startDataPlane(t, strings.Contains(t.Name(), fastPathMark), p, pool, logger, newMetrics())
	return srv
}

// startDataPlane serves the handler chain over p with net/http alone, or with the fast server, which
// it returns too (nil with net/http alone).
func startDataPlane(t testing.TB, fast bool, p *proxy, pool *Pool, logger *slog.Logger, m *metrics) (*httptest.Server, *fastServer) {
	t.Helper()
	h := withRequestID(withAccessLog(p, &accessLog{logger: logger}, m))
	if !fast {
		return httptest.NewServer(h), nil
	}
	return startFastServer(t, h, fastServerConfig{proxy: p, pool: pool, logger: logger, access: &accessLog{logger: logger}, metrics: m,
		headerTimeout: httpHeaderTimeout, idleTimeout: httpIdleTimeout})
}

// startFastServer serves with a fast server of cfg (its addr set here), with net/http serving h behind
// it for what it hands over.
func startFastServer(t testing.TB, h http.Handler, cfg fastServerConfig) (*httptest.Server, *fastServer) {
	t.Helper()
	pool := cfg.pool
	srv := httptest.NewUnstartedServer(h)
	ln := srv.Listener
	cfg.addr = ln.Addr()
	fs := newFastServer(cfg)
	srv.Listener = fs.handoff
	srv.Start()
	done := make(chan error, 1)
	go func() { done <- fs.serve(context.Background(), ln) }()
	t.Cleanup(func() {
		fs.closing.Store(true)
		_ = ln.Close()
		fs.closeAll()
		<-done
		fs.wg.Wait()
		pool.closeIdle()
	})
	return srv, fs
}

// TestFastPathSuite runs the data plane's tests against the fast server.
func TestFastPathSuite(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		test func(*testing.T)
	}{
		{name: "forwards", test: TestProxyForwards},
		{name: "own answers", test: TestProxyOwnAnswers},
		{name: "round robin", test: TestProxyRoundRobin},
		{name: "websocket", test: TestProxyWebSocket},
		{name: "redirects to https", test: TestProxyRedirectsToHTTPS},
		{name: "rewrites path", test: TestProxyRewritesPath},
		{name: "response headers", test: TestProxySetsResponseHeaders},
		{name: "body size", test: TestProxyLimitsBodySize},
		{name: "read timeout", test: TestProxyReadTimeout},
		{name: "retries", test: TestProxyRetries},
		{name: "sticky cookie", test: TestProxyStickyCookie},
		{name: "passive health", test: TestProxyPassiveHealth},
	} {
		t.Run(tt.name, tt.test)
	}
}

// rawUpstream serves each connection with handle on a loopback listener and counts connections.
func rawUpstream(t *testing.T, handle func(conn net.Conn, br *bufio.Reader)) (addr string, conns func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	accepted := make(chan struct{}, 1000)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			go func() {
				defer conn.Close()
				handle(conn, bufio.NewReader(conn))
			}()
		}
	}()
	return ln.Addr().String(), func() int { return len(accepted) }
}

// readRequest reads one request head and its Content-Length body.
func readRequest(br *bufio.Reader) (*http.Request, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, req.Body)
	return req, err
}

func fastPlane(t *testing.T, upstream string) string {
	t.Helper()
	srv, _ := dataPlane(t, &Routes{HTTP: []HTTPRoute{{Host: "shop.example.com", PathType: PathPrefix,
		Ingress: "shop/web", Backend: Backend{Service: "shop/web", Port: "80", Endpoints: []string{upstream}}}}})
	return strings.TrimPrefix(srv.URL, "http://")
}

// exchangeRaw writes request to the gateway and reads n answers.
func exchangeRaw(t *testing.T, gw, request string, n int) []*http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", gw)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(conn, request)
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	var out []*http.Response
	for len(out) < n {
		res, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		if res.StatusCode == http.StatusContinue {
			continue
		}
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		res.Body = io.NopCloser(strings.NewReader(string(body)))
		out = append(out, res)
	}
	return out
}

func bodyOf(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(b)
}

func TestFastPathFraming(t *testing.T) {
	t.Parallel()
	backend := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Seen-TE", strings.Join(r.TransferEncoding, ","))
		w.Header().Set("X-Seen-Length", r.Header.Get("Content-Length"))
		if r.URL.Path == "/chunked" { // a flushed answer goes out chunked
			_, _ = io.WriteString(w, "part1-")
			w.(http.Flusher).Flush()
		}
		_, _ = w.Write(body)
	}))
	gw := fastPlane(t, hostPort(backend))
	tests := []struct {
		name, request      string
		answers            int
		wantStatus         []int
		wantBody           []string
		wantTE, wantLength string
	}{
		{name: "chunked request body", answers: 1,
			request:    "POST /echo HTTP/1.1\r\nHost: shop.example.com\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
			wantStatus: []int{200}, wantBody: []string{"hello world"}, wantTE: "chunked"},
		{name: "chunked response", answers: 1,
			request:    "POST /chunked HTTP/1.1\r\nHost: shop.example.com\r\nContent-Length: 3\r\n\r\nabc",
			wantStatus: []int{200}, wantBody: []string{"part1-abc"}, wantLength: "3"},
		{name: "pipelined", answers: 3,
			request: "GET /a HTTP/1.1\r\nHost: shop.example.com\r\n\r\n" +
				"POST /b HTTP/1.1\r\nHost: shop.example.com\r\nContent-Length: 4\r\n\r\nbody" +
				"GET /c HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close\r\n\r\n",
			wantStatus: []int{200, 200, 200}, wantBody: []string{"", "body", ""}},
		{name: "both lengths", answers: 1,
			request:    "POST / HTTP/1.1\r\nHost: shop.example.com\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			wantStatus: []int{400}, wantBody: []string{"bad request\n"}},
		{name: "differing lengths", answers: 1,
			request:    "POST / HTTP/1.1\r\nHost: shop.example.com\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
			wantStatus: []int{400}, wantBody: []string{"bad request\n"}},
		{name: "obs-fold", answers: 1,
			request:    "GET / HTTP/1.1\r\nHost: shop.example.com\r\nX-A: 1\r\n 2\r\n\r\n",
			wantStatus: []int{400}, wantBody: []string{"bad request\n"}},
		{name: "http/1.0 handed over", answers: 1,
			request:    "GET /old HTTP/1.0\r\nHost: shop.example.com\r\n\r\n",
			wantStatus: []int{200}, wantBody: []string{""}},
		{name: "expect handed over", answers: 1,
			request:    "POST /echo HTTP/1.1\r\nHost: shop.example.com\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
			wantStatus: []int{200}, wantBody: []string{"hi"}},
		{name: "head over the buffer handed over", answers: 1,
			request:    "GET / HTTP/1.1\r\nHost: shop.example.com\r\nX-Big: " + strings.Repeat("b", 20<<10) + "\r\n\r\n",
			wantStatus: []int{200}, wantBody: []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			answers := exchangeRaw(t, gw, tt.request, tt.answers)
			for i, res := range answers {
				assert.Equal(t, tt.wantStatus[i], res.StatusCode, "answer %d", i)
				if tt.wantBody != nil {
					assert.Equal(t, tt.wantBody[i], bodyOf(t, res), "answer %d", i)
				}
			}
			if tt.wantTE != "" || tt.wantLength != "" {
				assert.Equal(t, tt.wantTE, answers[0].Header.Get("X-Seen-TE"))
				assert.Equal(t, tt.wantLength, answers[0].Header.Get("X-Seen-Length"))
			}
		})
	}
}

// TestFastPathUpstreamClose: answers with Connection: close, and read until the upstream closes, are
// relayed, and no request waits on a connection the upstream closed.
func TestFastPathUpstreamClose(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		answer     string
		wantClosed bool // the client's connection ends with the answer
	}{
		{name: "connection close", answer: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\npods\n"},
		{name: "read until close", answer: "HTTP/1.1 200 OK\r\n\r\npods\n", wantClosed: true},
		{name: "http/1.0", answer: "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\npods\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up, conns := rawUpstream(t, func(conn net.Conn, br *bufio.Reader) {
				if _, err := readRequest(br); err == nil {
					_, _ = io.WriteString(conn, tt.answer)
				}
			})
			gw := fastPlane(t, up)
			c := &http.Client{Timeout: 5 * time.Second}
			for i := range 50 {
				req, err := http.NewRequest(http.MethodGet, "http://"+gw+"/index.html", nil)
				require.NoError(t, err)
				req.Host = "shop.example.com"
				res, err := c.Do(req)
				require.NoError(t, err, "request %d", i)
				assert.Equal(t, "pods\n", bodyOf(t, res), "request %d", i)
				assert.Equal(t, tt.wantClosed, res.Close, "request %d", i)
				_ = res.Body.Close()
			}
			assert.Equal(t, 50, conns(), "one upstream connection a request")
		})
	}
}

// TestFastPathStaleConnection: an idle pooled connection the upstream closed is replaced by a new one
// for a request whose body was not sent yet.
func TestFastPathStaleConnection(t *testing.T) {
	t.Parallel()
	up, conns := rawUpstream(t, func(conn net.Conn, br *bufio.Reader) {
		if _, err := readRequest(br); err == nil { // one answer, kept alive, then closed while idle
			_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	gw := fastPlane(t, up)
	for i, request := range []string{
		"GET / HTTP/1.1\r\nHost: shop.example.com\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: shop.example.com\r\nContent-Length: 4\r\n\r\nbody",
		"GET / HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close\r\n\r\n",
	} {
		time.Sleep(50 * time.Millisecond) // the upstream closes its idle connection meanwhile
		res := exchangeRaw(t, gw, request, 1)[0]
		assert.Equal(t, http.StatusOK, res.StatusCode, "request %d", i)
		assert.Equal(t, "ok", bodyOf(t, res), "request %d", i)
	}
	assert.Equal(t, 3, conns())
}

// TestFastPathClientGoneMidBody: the upstream sees the request body broken off when the client goes.
func TestFastPathClientGoneMidBody(t *testing.T) {
	t.Parallel()
	got := make(chan error, 1)
	backend := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		got <- err
	}))
	gw := fastPlane(t, hostPort(backend))
	conn, err := net.Dial("tcp", gw)
	require.NoError(t, err)
	_, err = io.WriteString(conn, "POST / HTTP/1.1\r\nHost: shop.example.com\r\nContent-Length: 100000\r\n\r\n"+
		strings.Repeat("x", 1000))
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, conn.Close())
	select {
	case err := <-got:
		require.Error(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream still waits for the body")
	}
}

// syncBuffer is a log sink the servers' goroutines write to while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// accessLines returns the access log's records without the fields that differ from run to run.
func (b *syncBuffer) accessLines(t *testing.T) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		if rec["msg"] != "http request" {
			continue
		}
		assert.Contains(t, rec["remote"], "127.0.0.1:")
		delete(rec, "time")
		delete(rec, "duration")
		delete(rec, "remote")
		out = append(out, rec)
	}
	return out
}

// TestFastPathAccessLog: the fast path logs the same access lines and counts the same metrics as the
// net/http path.
func TestFastPathAccessLog(t *testing.T) {
	t.Parallel()
	backend := echoBackend(t, "web")
	routes := Routes{HTTP: []HTTPRoute{{Host: "shop.example.com", PathType: PathPrefix, Ingress: "shop/web",
		Backend: Backend{Service: "shop/web", Port: "80", Endpoints: []string{hostPort(backend)}}}}}
	var got [2][]map[string]any
	for i, fast := range []bool{false, true} {
		var table atomic.Pointer[Table]
		pool := NewPool()
		table.Store(Compile(routes, pool))
		var sink syncBuffer
		logger := slog.New(slog.NewJSONHandler(&sink, nil))
		p := newProxy(&table, logger)
		srv, _ := startDataPlane(t, fast, p, pool, logger, newMetrics())
		t.Cleanup(srv.Close)
		t.Cleanup(p.transport.CloseIdleConnections)
		for _, r := range []struct{ host, path, id string }{
			{host: "shop.example.com", path: "/cart?x=1", id: "req-1"},
			{host: "nowhere.example.com", path: "/", id: "req-2"},
			{host: "shop.example.com", path: "/a/b", id: "req-3"},
		} {
			res, _ := get(t, srv.URL+r.path, r.host, http.Header{HeaderRequestID: {r.id}})
			assert.Equal(t, r.id, res.Header.Get(HeaderRequestID))
		}
		require.Eventually(t, func() bool { return len(sink.accessLines(t)) == 3 }, 5*time.Second, 10*time.Millisecond)
		got[i] = sink.accessLines(t)
	}
	assert.Equal(t, got[0], got[1])
	assert.Equal(t, "shop/web", got[1][0]["ingress"])
	assert.EqualValues(t, 404, got[1][1]["status"])
}

// TestFastPathRouteMetrics: retries (of a dial failure, on the next upstream) and the per-route metrics
// are the same on the fast path as on net/http, and the fast path serves them itself.
func TestFastPathRouteMetrics(t *testing.T) {
	t.Parallel()
	good := echoBackend(t, "good")
	for _, fast := range []bool{false, true} {
		var table atomic.Pointer[Table]
		down := optionRoute("/down", PathPrefix, RouteOptions{}, deadAddr(t))
		down.Backend.Service = "shop/down"
		pool := NewPool()
		table.Store(Compile(Routes{HTTP: []HTTPRoute{
			optionRoute("/retry", PathPrefix, RouteOptions{Retries: 1}, deadAddr(t), hostPort(good)), down,
		}}, pool))
		m := newMetrics()
		logger := slog.New(slog.DiscardHandler)
		p := newProxy(&table, logger)
		srv, fs := startDataPlane(t, fast, p, pool, logger, m)
		t.Cleanup(srv.Close)
		t.Cleanup(p.transport.CloseIdleConnections)

		var codes []int
		for _, path := range []string{"/retry", "/retry", "/down"} {
			res, _ := get(t, srv.URL+path, "shop.example.com", nil)
			codes = append(codes, res.StatusCode)
		}
		assert.Equal(t, []int{200, 200, 502}, codes, "fast %v", fast)
		assert.InDelta(t, 2, value(t, m.routeRequests.WithLabelValues("shop/web", "2xx")), 0, "fast %v", fast)
		assert.InDelta(t, 1, value(t, m.routeRequests.WithLabelValues("shop/web", "5xx")), 0, "fast %v", fast)
		assert.InDelta(t, 2, value(t, m.upstreamErrors.WithLabelValues("shop/web")), 0, "fast %v", fast)
		if fs != nil {
			assert.Zero(t, fs.handedOff.Load(), "the fast path served every request")
		}
	}
}
