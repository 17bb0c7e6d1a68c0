package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes/fake"
)

// TestProxyConnectionCloseUpstream sends sequential requests through the data plane to upstreams that
// answer every request with "Connection: close" and then close the connection, as busybox httpd (the
// pods of the integration tests) does: no request may hang on a pooled connection the upstream closed.
func TestProxyConnectionCloseUpstream(t *testing.T) {
	t.Parallel()
	upstreams := []struct {
		name     string
		upstream func(t *testing.T) string // host:port
	}{
		{name: "go server closing", upstream: closingBackend},
		{name: "busybox httpd", upstream: busyboxHTTPD},
	}
	planes := []struct {
		name  string
		plane func(t *testing.T, upstream string) string // the base URL requests go to
	}{
		{name: "net/http proxy", plane: func(t *testing.T, up string) string {
			srv, _ := dataPlane(t, &Routes{HTTP: []HTTPRoute{{Host: "pods.test", PathType: PathPrefix,
				Backend: Backend{Service: "ns/web", Port: "80", Endpoints: []string{up}}}}})
			return srv.URL
		}},
		{name: "whole gateway", plane: wholeGateway},
	}
	for _, u := range upstreams {
		for _, p := range planes {
			t.Run(u.name+" via "+p.name, func(t *testing.T) {
				t.Parallel()
				base := p.plane(t, u.upstream(t))
				c := &http.Client{Timeout: 5 * time.Second}
				for i := range 200 {
					req, err := http.NewRequest(http.MethodGet, base+"/index.html", nil)
					require.NoError(t, err)
					req.Host = "pods.test"
					start := time.Now()
					res, err := c.Do(req)
					require.NoError(t, err, "request %d after %s", i, time.Since(start))
					body, err := io.ReadAll(res.Body)
					res.Body.Close()
					require.NoError(t, err, "request %d", i)
					require.Equal(t, http.StatusOK, res.StatusCode, "request %d: %s", i, body)
					require.Equal(t, "pods\n", string(body), "request %d", i)
				}
			})
		}
	}
}

// wholeGateway runs a gateway (its plain-HTTP server included) on the fake clientset with one Ingress
// to a Service whose EndpointSlice holds upstream; it answers the gateway's base URL once routed.
func wholeGateway(t *testing.T, upstream string) string {
	t.Helper()
	host, portStr, err := net.SplitHostPort(upstream)
	require.NoError(t, err)
	port, err := strconv.Atoi(portStr)
	require.NoError(t, err)
	kube := fake.NewClientset(
		service("ns", "web", "http", 80),
		slice("ns", "web-1", "web", "http", port, ep{host, true}),
		ingress("ns", "web", rule("pods.test", httpPath("/", prefix, "web", 80))),
	)
	g, err := New(Config{HTTPListen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", Throttle: 10 * time.Millisecond},
		kube, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool {
		r, _ := g.Routes()
		return g.HTTPAddr() != nil && len(r.HTTP) == 1 && len(r.HTTP[0].Backend.Endpoints) == 1
	}, 10*time.Second, 5*time.Millisecond)
	return "http://" + g.HTTPAddr().String()
}

// closingBackend is a Go server that answers "Connection: close" and closes each connection.
func closingBackend(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "pods\n")
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}

// busyboxHTTPD runs busybox httpd on a free loopback port, serving "pods\n" at /index.html.
func busyboxHTTPD(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox (busybox-static)")
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.html"), []byte("pods\n"), 0o644))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	cmd := exec.Command("/bin/busybox", "httpd", "-f", "-p", addr, "-h", dir)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.Eventually(t, func() bool {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, fmt.Sprintf("busybox httpd listens on %s", addr))
	return addr
}
