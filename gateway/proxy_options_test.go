package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deadAddr is an address where nothing listens: a listener closed at once.
// deadAddr is an address of 127.0.0.1 that refuses TCP connections for the whole test: a socket bound
// to it without listening (connections get a reset) and without SO_REUSEADDR, so no listener of a test
// running in parallel can take the port, as one could take a port merely closed.
func deadAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	return "127.0.0.1:" + strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
}

func httptestServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func optionRoute(path string, pathType PathType, o RouteOptions, endpoints ...string) HTTPRoute {
	return HTTPRoute{Host: "shop.example.com", Path: path, PathType: pathType, Ingress: "shop/web", Options: o,
		Backend: Backend{Service: "shop/web", Port: "80", Endpoints: endpoints}}
}

func TestProxyRedirectsToHTTPS(t *testing.T) {
	t.Parallel()
	backend := echoBackend(t, "web")
	srv, _ := dataPlane(t, &Routes{HTTP: []HTTPRoute{
		optionRoute("/secure", PathPrefix, RouteOptions{ForceHTTPS: true}, hostPort(backend)),
		optionRoute("", PathPrefix, RouteOptions{}, hostPort(backend)),
	}})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		name, host, path string
		wantCode         int
		wantLocation     string
	}{
		{name: "forced rule", host: "shop.example.com:8080", path: "/secure/a?b=1", wantCode: http.StatusPermanentRedirect,
			wantLocation: "https://shop.example.com/secure/a?b=1"},
		{name: "other rule", host: "shop.example.com", path: "/plain", wantCode: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodPost, srv.URL+tt.path, strings.NewReader("x"))
			require.NoError(t, err)
			req.Host = tt.host
			res, err := client.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			assert.Equal(t, tt.wantCode, res.StatusCode)
			assert.Equal(t, tt.wantLocation, res.Header.Get("Location"))
		})
	}
}

func TestProxyRewritesPath(t *testing.T) {
	t.Parallel()
	backend := echoBackend(t, "web")
	srv, _ := dataPlane(t, &Routes{HTTP: []HTTPRoute{
		optionRoute("/api", PathPrefix, RouteOptions{RewritePath: "/v1"}, hostPort(backend)),
		optionRoute("/strip", PathPrefix, RouteOptions{RewritePath: "/"}, hostPort(backend)),
		optionRoute("/old", PathExact, RouteOptions{RewritePath: "/new/"}, hostPort(backend)),
	}})
	tests := []struct {
		name, path, want string
	}{
		{name: "prefix replaced", path: "/api/users?x=1", want: "/v1/users?x=1"},
		{name: "prefix alone", path: "/api", want: "/v1"},
		{name: "prefix with trailing slash", path: "/api/", want: "/v1/"},
		{name: "strip to root", path: "/strip/a/b", want: "/a/b"},
		{name: "strip alone", path: "/strip", want: "/"},
		{name: "dot segments are cleaned first", path: "/api/x/../y", want: "/v1/y"},
		{name: "escaped characters stay escaped", path: "/api/a%20b", want: "/v1/a%20b"},
		{name: "exact path replaced whole", path: "/old", want: "/new/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, _ := get(t, srv.URL+tt.path, "shop.example.com", nil)
			assert.Equal(t, http.StatusOK, res.StatusCode)
			assert.Equal(t, tt.want, res.Header.Get("X-Seen-Path"))
		})
	}
}

func TestProxySetsResponseHeaders(t *testing.T) {
	t.Parallel()
	backend := echoBackend(t, "web")
	srv, _ := dataPlane(t, &Routes{HTTP: []HTTPRoute{optionRoute("", PathPrefix, RouteOptions{ResponseHeaders: []HeaderValue{
		{Name: "X-Backend", Value: "overridden"}, {Name: "X-Frame-Options", Value: "DENY"},
	}}, hostPort(backend))}})
	for range 2 { // the shared header values survive an answer
		res, body := get(t, srv.URL+"/", "shop.example.com", nil)
		assert.Equal(t, "web", body)
		assert.Equal(t, []string{"DENY"}, res.Header.Values("X-Frame-Options"))
		assert.Equal(t, []string{"overridden"}, res.Header.Values("X-Backend"), "the rule's header wins over the upstream's")
	}
}

func TestProxyLimitsBodySize(t *testing.T) {
	t.Parallel()
	backend := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		_, _ = io.WriteString(w, strconv.Itoa(len(b)))
	}))
	srv, _ := dataPlane(t, &Routes{HTTP: []HTTPRoute{optionRoute("", PathPrefix, RouteOptions{MaxBodySize: 10}, hostPort(backend))}})
	tests := []struct {
		name     string
		body     io.Reader
		length   int64 // -1: chunked
		wantCode int
	}{
		{name: "under the limit", body: strings.NewReader("0123456789"), length: 10, wantCode: http.StatusOK},
		{name: "declared over the limit", body: strings.NewReader("0123456789a"), length: 11, wantCode: http.StatusRequestEntityTooLarge},
		{name: "chunked over the limit", body: io.MultiReader(strings.NewReader("0123456789"), strings.NewReader("abc")), length: -1,
			wantCode: http.StatusRequestEntityTooLarge},
		{name: "chunked under the limit", body: io.MultiReader(strings.NewReader("01234"), strings.NewReader("5")), length: -1, wantCode: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/", tt.body)
			require.NoError(t, err)
			req.Host = "shop.example.com"
			req.ContentLength = tt.length
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			assert.Equal(t, tt.wantCode, res.StatusCode)
		})
	}
}

func TestProxyReadTimeout(t *testing.T) {
	t.Parallel()
	backend := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
			return
		}
		// Headers at once, then a body slower than the timeout: a stream is not cut.
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		time.Sleep(300 * time.Millisecond)
		_, _ = io.WriteString(w, "streamed")
	}))
	srv, _ := dataPlane(t, &Routes{HTTP: []HTTPRoute{optionRoute("", PathPrefix,
		RouteOptions{ReadTimeout: 100 * time.Millisecond}, hostPort(backend))}})

	res, body := get(t, srv.URL+"/slow", "shop.example.com", nil)
	assert.Equal(t, http.StatusGatewayTimeout, res.StatusCode)
	assert.Equal(t, "gateway timeout: the upstream did not answer in time\n", body)

	res, body = get(t, srv.URL+"/stream", "shop.example.com", nil)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "streamed", body)
}

// TestProxyConnectTimeout shows the dial takes the rule's connect timeout from the request: a timeout
// already over fails the dial with a timeout, where the default one connects.
func TestProxyConnectTimeout(t *testing.T) {
	t.Parallel()
	backend := echoBackend(t, "web")
	tr := newTransport()
	defer tr.CloseIdleConnections()
	tests := []struct {
		name        string
		timeout     time.Duration
		wantTimeout bool
	}{
		{name: "rule timeout", timeout: time.Nanosecond, wantTimeout: true},
		{name: "default timeout", timeout: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := &route{HTTPRoute: &HTTPRoute{Options: RouteOptions{ConnectTimeout: tt.timeout}}}
			ctx := withExchange(context.Background(), &exchange{route: rt})
			conn, err := tr.DialContext(ctx, "tcp", hostPort(backend))
			if !tt.wantTimeout {
				require.NoError(t, err)
				require.NoError(t, conn.Close())
				return
			}
			var netErr net.Error
			require.ErrorAs(t, err, &netErr)
			assert.True(t, netErr.Timeout(), "%v", err)
		})
	}
}

func TestProxyRetries(t *testing.T) {
	t.Parallel()
	good := echoBackend(t, "good")
	bad := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "bad")
	}))
	tests := []struct {
		name     string
		first    string // the endpoint round robin picks first
		retries  int
		method   string
		body     string
		wantCode int
		wantBody string
	}{
		{name: "dial failure retried", first: deadAddr(t), retries: 1, method: http.MethodGet, wantCode: 200, wantBody: "good"},
		{name: "502 retried", first: hostPort(bad), retries: 1, method: http.MethodGet, wantCode: 200, wantBody: "good"},
		{name: "no retries", first: deadAddr(t), retries: 0, method: http.MethodGet, wantCode: 502,
			wantBody: "bad gateway: the upstream did not answer\n"},
		{name: "post not retried", first: hostPort(bad), retries: 2, method: http.MethodPost, body: "x", wantCode: 502, wantBody: "bad"},
		{name: "put with a body not retried", first: hostPort(bad), retries: 2, method: http.MethodPut, body: "x", wantCode: 502, wantBody: "bad"},
		{name: "head retried", first: hostPort(bad), retries: 1, method: http.MethodHead, wantCode: 200, wantBody: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, pool := dataPlane(t, &Routes{HTTP: []HTTPRoute{optionRoute("", PathPrefix, RouteOptions{Retries: tt.retries},
				tt.first, hostPort(good))}})
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, err := http.NewRequest(tt.method, srv.URL+"/", body)
			require.NoError(t, err)
			req.Host = "shop.example.com"
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			got, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.wantCode, res.StatusCode)
			assert.Equal(t, tt.wantBody, string(got))
			assert.EqualValues(t, 1, pool.Upstream(tt.first).Requests(), "the first pick was tried once")
			assert.EqualValues(t, 0, pool.Upstream(tt.first).Inflight())
			assert.EqualValues(t, 0, pool.Upstream(hostPort(good)).Inflight())
		})
	}
}

func TestProxyStickyCookie(t *testing.T) {
	t.Parallel()
	a, b := echoBackend(t, "a"), echoBackend(t, "b")
	srv, pool := dataPlane(t, &Routes{HTTP: []HTTPRoute{optionRoute("", PathPrefix, RouteOptions{StickyCookie: "rf"},
		hostPort(a), hostPort(b))}})

	res, first := get(t, srv.URL+"/", "shop.example.com", nil)
	cookies := res.Cookies()
	require.Len(t, cookies, 1)
	assert.Equal(t, "rf", cookies[0].Name)
	assert.True(t, cookies[0].HttpOnly)
	assert.NotContains(t, cookies[0].Value, "127.0.0.1", "the cookie does not reveal the address")

	for range 6 { // round robin would alternate
		res, body := get(t, srv.URL+"/", "shop.example.com", http.Header{"Cookie": {"x=1; rf=" + cookies[0].Value}})
		assert.Equal(t, first, body)
		assert.Empty(t, res.Cookies(), "no new cookie while it holds")
	}
	res, _ = get(t, srv.URL+"/", "shop.example.com", http.Header{"Cookie": {"rf=stale"}})
	assert.Len(t, res.Cookies(), 1, "an unknown upstream id gets a new cookie")
	assert.EqualValues(t, 0, pool.Upstream(hostPort(a)).Inflight())
}

// TestProxyPassiveHealth shows an upstream that keeps failing is ejected: after EjectAfter failures
// every request goes to the healthy one.
func TestProxyPassiveHealth(t *testing.T) {
	t.Parallel()
	good := echoBackend(t, "good")
	dead := deadAddr(t)
	srv, pool := dataPlane(t, &Routes{HTTP: []HTTPRoute{optionRoute("", PathPrefix, RouteOptions{}, dead, hostPort(good))}})
	codes := map[int]int{}
	for range 16 {
		res, _ := get(t, srv.URL+"/", "shop.example.com", nil)
		codes[res.StatusCode]++
	}
	assert.Equal(t, map[int]int{http.StatusBadGateway: DefaultEjectAfter, http.StatusOK: 16 - DefaultEjectAfter}, codes)
	assert.True(t, pool.Upstream(dead).Ejected(time.Now()))
	assert.False(t, pool.Upstream(hostPort(good)).Ejected(time.Now()))
}
