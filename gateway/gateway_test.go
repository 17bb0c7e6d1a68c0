package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestGatewayEndToEnd runs a whole gateway against the fake clientset and real HTTP backends on
// 127.0.0.1: a request is routed, Ingress and EndpointSlice changes are picked up without a restart, an
// endpoint that turns unready stops receiving traffic, and an invalid Ingress is reported, not fatal.
func TestGatewayEndToEnd(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	a, b := echoBackend(t, "a"), echoBackend(t, "b")
	_, aPort := splitHostPort(t, a)
	_, bPort := splitHostPort(t, b)

	kube := fake.NewClientset(
		service("shop", "web", "http", 80),
		slice("shop", "web-a", "web", "http", aPort, ep{"127.0.0.1", true}),
		ingress("shop", "web", rule("shop.example.com", httpPath("/", prefix, "web", 80))),
	)
	g, err := New(Config{HTTPListen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", Throttle: 10 * time.Millisecond},
		kube, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()

	require.Eventually(t, func() bool { return g.AdminAddr() != nil && g.HTTPAddr() != nil }, 5*time.Second, 5*time.Millisecond)
	admin := "http://" + g.AdminAddr().String()
	data := "http://" + g.HTTPAddr().String()
	require.Eventually(t, func() bool { return status(t, admin+"/readyz", "") == http.StatusOK }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, http.StatusOK, status(t, admin+"/healthz", ""))

	// Routed.
	res, body := get(t, data+"/cart", "shop.example.com", nil)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "a", body)
	assert.Equal(t, http.StatusNotFound, status(t, data+"/", "new.example.com"))

	// An Ingress update is picked up without a restart.
	ing, err := kube.NetworkingV1().Ingresses("shop").Get(ctx, "web", metav1.GetOptions{})
	require.NoError(t, err)
	ing.Spec = ingress("shop", "web",
		rule("shop.example.com", httpPath("/", prefix, "web", 80)),
		rule("new.example.com", httpPath("/", prefix, "web", "http")),
	).Spec
	_, err = kube.NetworkingV1().Ingresses("shop").Update(ctx, ing, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return status(t, data+"/", "new.example.com") == http.StatusOK }, 5*time.Second, 10*time.Millisecond)

	// A second endpoint is added: both receive traffic.
	_, err = kube.DiscoveryV1().EndpointSlices("shop").Create(ctx,
		slice("shop", "web-b", "web", "http", bPort, ep{"127.0.0.1", true}), metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		seen := backendsSeen(t, data, "shop.example.com", 4)
		return seen["a"] > 0 && seen["b"] > 0
	}, 5*time.Second, 10*time.Millisecond)

	// Endpoint a turns unready: it stops receiving traffic.
	sliceA, err := kube.DiscoveryV1().EndpointSlices("shop").Get(ctx, "web-a", metav1.GetOptions{})
	require.NoError(t, err)
	sliceA.Endpoints[0].Conditions = discoveryv1.EndpointConditions{Ready: new(false)}
	_, err = kube.DiscoveryV1().EndpointSlices("shop").Update(ctx, sliceA, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		routes, _ := g.Routes()
		return len(routes.HTTP) == 2 && len(routes.HTTP[0].Backend.Endpoints) == 1
	}, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, map[string]int{"b": 10}, backendsSeen(t, data, "shop.example.com", 10))

	// No ready endpoint at all: 503.
	require.NoError(t, kube.DiscoveryV1().EndpointSlices("shop").Delete(ctx, "web-b", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool { return status(t, data+"/", "shop.example.com") == http.StatusServiceUnavailable },
		5*time.Second, 10*time.Millisecond)

	// An invalid Ingress is skipped and reported; the running routes stay.
	_, err = kube.NetworkingV1().Ingresses("shop").Create(ctx,
		ingress("shop", "bad", rule("bad.example.com", httpPath("no-slash", prefix, "web", 80))), metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, metrics := get(t, admin+"/metrics", "", nil)
		return strings.Contains(metrics, `rainflow_gateway_config_problems_total{reason="invalid-path"} 1`)
	}, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, http.StatusServiceUnavailable, status(t, data+"/", "new.example.com"), "running routes kept")

	// Deleting the Ingress removes its routes.
	require.NoError(t, kube.NetworkingV1().Ingresses("shop").Delete(ctx, "web", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool { return status(t, data+"/", "shop.example.com") == http.StatusNotFound },
		5*time.Second, 10*time.Millisecond)

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was done")
	}
}

func splitHostPort(t *testing.T, srv *httptest.Server) (string, int) {
	t.Helper()
	host, port, ok := strings.Cut(hostPort(srv), ":")
	require.True(t, ok)
	n, err := strconv.Atoi(port)
	require.NoError(t, err)
	return host, n
}

func status(t *testing.T, url, host string) int {
	t.Helper()
	res, _ := get(t, url, host, nil)
	return res.StatusCode
}

// backendsSeen sends n requests and counts the answering backends.
func backendsSeen(t *testing.T, base, host string, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range n {
		req, err := http.NewRequest(http.MethodGet, base+"/", nil)
		require.NoError(t, err)
		req.Host = host
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			seen[string(body)]++
		} else {
			seen[fmt.Sprint(res.StatusCode)]++
		}
	}
	return seen
}

// TestGatewayWatchesOnlyItsNamespaces runs with Namespaces set: Ingresses elsewhere are not routed.
func TestGatewayWatchesOnlyItsNamespaces(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	kube := fake.NewClientset(
		service("shop", "web", "http", 80),
		service("other", "web", "http", 80),
		ingress("shop", "web", rule("shop.example.com", httpPath("/", prefix, "web", 80))),
		ingress("blog", "web", rule("blog.example.com", httpPath("/", prefix, "web", 80))),
		ingress("other", "web", rule("other.example.com", httpPath("/", prefix, "web", 80))),
	)
	g, err := New(Config{HTTPListen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", Throttle: time.Millisecond,
		Namespaces: []string{"shop", "blog"}}, kube, nil)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	require.Eventually(t, g.Ready, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { routes, _ := g.Routes(); return len(routes.HTTP) == 2 }, 5*time.Second, 5*time.Millisecond)
	routes, _ := g.Routes()
	assert.Equal(t, "blog.example.com", routes.HTTP[0].Host)
	assert.Equal(t, "shop.example.com", routes.HTTP[1].Host)
	cancel()
	assert.NoError(t, <-done)
}
