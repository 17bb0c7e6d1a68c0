package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rainflow/rainflow/contract"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// TestGatewayHeaderMatchAndCanary runs a gateway over a primary Ingress, an Ingress of the same host and
// path matching a header, and a canary taking every request of the primary's match: the header's
// requests go to the matching Ingress, the others to the canary, and nothing is reported as a conflict.
func TestGatewayHeaderMatchAndCanary(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	a, b, c := echoBackend(t, "a"), echoBackend(t, "b"), echoBackend(t, "c")
	objs := []runtime.Object{ingress("shop", "primary", rule("shop.example.com", httpPath("/", prefix, "a", 80)))}
	for name, srv := range map[string]*httptest.Server{"a": a, "b": b, "c": c} {
		_, port := splitHostPort(t, srv)
		objs = append(objs, service("shop", name, "http", 80), slice("shop", name+"-1", name, "http", port, ep{"127.0.0.1", true}))
	}
	beta := ingress("shop", "beta", created(1), rule("shop.example.com", httpPath("/", prefix, "b", 80)))
	beta.Annotations = map[string]string{contract.AnnotationHeaderName: "x-beta", contract.AnnotationHeaderValue: "yes"}
	canary := ingress("shop", "canary", created(2), rule("shop.example.com", httpPath("/", prefix, "c", 80)))
	canary.Annotations = map[string]string{contract.AnnotationCanaryWeight: "100"}
	kube := fake.NewClientset(append(objs, beta, canary)...)
	g, err := New(Config{HTTPListen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", Throttle: 10 * time.Millisecond},
		kube, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	require.Eventually(t, func() bool {
		routes, ok := g.Routes()
		return ok && len(routes.HTTP) == 3
	}, 10*time.Second, 10*time.Millisecond)
	data := "http://" + g.HTTPAddr().String()

	for range 5 {
		_, body := get(t, data+"/x", "shop.example.com", http.Header{"X-Beta": {"yes"}})
		assert.Equal(t, "b", body)
		_, body = get(t, data+"/x", "shop.example.com", nil)
		assert.Equal(t, "c", body)
	}
	assert.Zero(t, value(t, g.metrics.invalid), "no problem reported")
	cancel()
	require.NoError(t, <-done)
}
