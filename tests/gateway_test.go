package tests

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rainflow/rainflow/gateway"
	"github.com/rainflow/rainflow/internal/netnstest"
)

// gwEnv is one gateway test's world: its own namespace on the local control plane and the kube client.
type gwEnv struct {
	t    *testing.T
	ctx  context.Context
	kube kubernetes.Interface
	ns   string
}

// newGatewayEnv creates a namespace of the test's own, deleted when it ends.
func newGatewayEnv(t *testing.T, prefix string) *gwEnv {
	t.Helper()
	ctx := testContext(t)
	kube := kubeClient(t)
	ns := uniqueName(prefix)
	_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	return &gwEnv{t: t, ctx: ctx, kube: kube, ns: ns}
}

// startGateway runs an in-process gateway watching only the env's namespace, on 127.0.0.1:0 listeners
// (HTTP, HTTPS and admin), and waits until it has published its first snapshot. It stops with the test.
func (e *gwEnv) startGateway() *gateway.Gateway { return e.startGatewayOn("127.0.0.1") }

// startGatewayOn is startGateway with the data plane (HTTP, HTTPS, and so the TCP and UDP routes) on host.
func (e *gwEnv) startGatewayOn(host string) *gateway.Gateway {
	t := e.t
	t.Helper()
	g, err := gateway.New(gateway.Config{
		HTTPListen: net.JoinHostPort(host, "0"), HTTPSListen: net.JoinHostPort(host, "0"), AdminListen: "127.0.0.1:0",
		Namespaces: []string{e.ns}, Throttle: 20 * time.Millisecond,
	}, e.kube, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gateway run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("the gateway did not stop within 30s")
		}
	})
	require.Eventually(t, func() bool { return g.Ready() && g.HTTPAddr() != nil && g.HTTPSAddr() != nil },
		30*time.Second, 20*time.Millisecond, "the gateway published no snapshot")
	return g
}

// gwBackend is an HTTP server in a test host of its own, answering "<name> <path>".
type gwBackend struct {
	name string
	host *netnstest.Host
	port int32
}

const gwBackendPort = 8080

// startBackend starts an HTTP backend named name in a new test host; handler, when not nil, replaces
// the default answer.
func startBackend(t *testing.T, name string, handler http.Handler) *gwBackend {
	t.Helper()
	h := netnstest.New(t)
	ln, err := h.Listen("tcp", gwBackendPort)
	require.NoError(t, err)
	if handler == nil {
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = fmt.Fprintf(w, "%s %s", name, r.URL.Path)
		})
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &gwBackend{name: name, host: h, port: gwBackendPort}
}

// gwEndpoint is one endpoint of a hand-written EndpointSlice.
type gwEndpoint struct {
	addr  string
	ready bool
}

// service creates a selector-less Service with one named port (protocol TCP unless given).
func (e *gwEnv) service(name string, annotations map[string]string, port int32, protocol corev1.Protocol) {
	e.t.Helper()
	if protocol == "" {
		protocol = corev1.ProtocolTCP
	}
	_, err := e.kube.CoreV1().Services(e.ns).Create(e.ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "main", Port: port, Protocol: protocol}}},
	}, metav1.CreateOptions{})
	require.NoError(e.t, err)
}

// endpointSlice is the hand-written EndpointSlice of service svc listing the endpoints on port.
func (e *gwEnv) endpointSlice(svc string, port int32, protocol corev1.Protocol, eps ...gwEndpoint) *discoveryv1.EndpointSlice {
	if protocol == "" {
		protocol = corev1.ProtocolTCP
	}
	name := "main"
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: svc + "-hand",
			Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &protocol}},
	}
	for _, ep := range eps {
		ready := ep.ready
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{ep.addr},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
	}
	return es
}

// backendService creates the Service and EndpointSlice that put the backends behind one name.
func (e *gwEnv) backendService(svc string, backends ...*gwBackend) {
	e.t.Helper()
	e.service(svc, nil, 80, "")
	var eps []gwEndpoint
	for _, b := range backends {
		eps = append(eps, gwEndpoint{addr: b.host.Addr.String(), ready: true})
	}
	_, err := e.kube.DiscoveryV1().EndpointSlices(e.ns).Create(e.ctx, e.endpointSlice(svc, gwBackendPort, "", eps...), metav1.CreateOptions{})
	require.NoError(e.t, err)
}

// gwRule is one host/path rule of an Ingress.
type gwRule struct {
	host, path string
	pathType   networkingv1.PathType
	service    string
}

// ingress is an Ingress of class rainflow with the rules (one rule per host/path).
func (e *gwEnv) ingress(name string, annotations map[string]string, rules ...gwRule) *networkingv1.Ingress {
	class := gateway.DefaultIngressClass
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name, Annotations: annotations},
		Spec:       networkingv1.IngressSpec{IngressClassName: &class},
	}
	for _, r := range rules {
		pt := r.pathType
		if pt == "" {
			pt = networkingv1.PathTypePrefix
		}
		path := r.path
		if path == "" {
			path = "/"
		}
		ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{Host: r.host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: path, PathType: &pt, Backend: networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: r.service, Port: networkingv1.ServiceBackendPort{Name: "main"}},
				}}},
			}}})
	}
	return ing
}

// createIngress creates the Ingress.
func (e *gwEnv) createIngress(ing *networkingv1.Ingress) {
	e.t.Helper()
	_, err := e.kube.NetworkingV1().Ingresses(e.ns).Create(e.ctx, ing, metav1.CreateOptions{})
	require.NoError(e.t, err)
}

// gwRequest is one request sent to a gateway.
type gwRequest struct {
	host, path string
	header     http.Header
}

// do sends the request to the gateway's HTTP listener and answers the status and body.
func (r gwRequest) do(c *http.Client, g *gateway.Gateway) (int, string, error) {
	req, err := http.NewRequest("GET", "http://"+g.HTTPAddr().String()+r.path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = r.host
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitAnswer waits until the request answers the status and body (the gateway sees changes by its watch).
func waitAnswer(t *testing.T, g *gateway.Gateway, r gwRequest, status int, body string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	var last string
	require.Eventually(t, func() bool {
		code, got, err := r.do(c, g)
		last = fmt.Sprintf("%d %q %v", code, got, err)
		return err == nil && code == status && got == body
	}, 30*time.Second, 20*time.Millisecond, "%s%s: want %d %q; last: %s", r.host, r.path, status, body, last)
}

// TestGatewayRouting checks host/path routing (Exact vs Prefix, longest prefix wins, wildcard hosts) and
// header and cookie matches against backends in test hosts behind hand-written EndpointSlices.
func TestGatewayRouting(t *testing.T) {
	e := newGatewayEnv(t, "gwroute")
	names := []string{"a", "b", "c", "d"}
	for _, n := range names {
		e.backendService("svc-"+n, startBackend(t, n, nil))
	}
	exact, prefix := networkingv1.PathTypeExact, networkingv1.PathTypePrefix
	e.createIngress(e.ingress("paths", nil,
		gwRule{host: "app.test", path: "/exact", pathType: exact, service: "svc-a"},
		gwRule{host: "app.test", path: "/api", pathType: prefix, service: "svc-b"},
		gwRule{host: "app.test", path: "/api/v2", pathType: prefix, service: "svc-c"},
		gwRule{host: "*.wild.test", path: "/", pathType: prefix, service: "svc-d"},
	))
	e.createIngress(e.ingress("match-primary", nil, gwRule{host: "match.test", service: "svc-a"}))
	e.createIngress(e.ingress("match-header", map[string]string{
		"rainflow.io/match-header-name": "X-Version", "rainflow.io/match-header-value": "2",
	}, gwRule{host: "match.test", service: "svc-b"}))
	e.createIngress(e.ingress("match-cookie", map[string]string{
		"rainflow.io/match-cookie-name": "group", "rainflow.io/match-cookie-value": "beta",
	}, gwRule{host: "match.test", service: "svc-c"}))
	g := e.startGateway()
	waitAnswer(t, g, gwRequest{host: "match.test", path: "/", header: http.Header{"Cookie": {"group=beta"}}}, 200, "c /")

	tests := []struct {
		name   string
		req    gwRequest
		status int
		body   string
	}{
		{name: "exact path", req: gwRequest{host: "app.test", path: "/exact"}, status: 200, body: "a /exact"},
		{name: "exact does not match below it", req: gwRequest{host: "app.test", path: "/exact/more"}, status: 404},
		{name: "prefix matches itself", req: gwRequest{host: "app.test", path: "/api"}, status: 200, body: "b /api"},
		{name: "prefix matches below it", req: gwRequest{host: "app.test", path: "/api/users"}, status: 200, body: "b /api/users"},
		{name: "prefix matches by element", req: gwRequest{host: "app.test", path: "/apiv2"}, status: 404},
		{name: "longest prefix wins", req: gwRequest{host: "app.test", path: "/api/v2/x"}, status: 200, body: "c /api/v2/x"},
		{name: "longest prefix exactly", req: gwRequest{host: "app.test", path: "/api/v2"}, status: 200, body: "c /api/v2"},
		{name: "host with port", req: gwRequest{host: "app.test:80", path: "/api"}, status: 200, body: "b /api"},
		{name: "unknown host", req: gwRequest{host: "other.test", path: "/api"}, status: 404},
		{name: "wildcard one label", req: gwRequest{host: "x.wild.test", path: "/p"}, status: 200, body: "d /p"},
		{name: "wildcard not two labels", req: gwRequest{host: "x.y.wild.test", path: "/p"}, status: 404},
		{name: "wildcard not the bare domain", req: gwRequest{host: "wild.test", path: "/p"}, status: 404},
		{name: "no match goes to primary", req: gwRequest{host: "match.test", path: "/"}, status: 200, body: "a /"},
		{name: "header match", req: gwRequest{host: "match.test", path: "/h", header: http.Header{"X-Version": {"2"}}}, status: 200, body: "b /h"},
		{name: "header other value", req: gwRequest{host: "match.test", path: "/h", header: http.Header{"X-Version": {"3"}}}, status: 200, body: "a /h"},
		{name: "cookie match", req: gwRequest{host: "match.test", path: "/c", header: http.Header{"Cookie": {"x=1; group=beta"}}}, status: 200, body: "c /c"},
		{name: "cookie other value", req: gwRequest{host: "match.test", path: "/c", header: http.Header{"Cookie": {"group=alpha"}}}, status: 200, body: "a /c"},
	}
	c := &http.Client{Timeout: 5 * time.Second}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body, err := tc.req.do(c, g)
			require.NoError(t, err)
			require.Equal(t, tc.status, code, "body %q", body)
			if tc.status == 200 {
				require.Equal(t, tc.body, body)
			}
		})
	}
}

// TestGatewayWeightSplit checks a canary Ingress takes its weight's share of the requests.
func TestGatewayWeightSplit(t *testing.T) {
	e := newGatewayEnv(t, "gwweight")
	e.backendService("stable", startBackend(t, "stable", nil))
	e.backendService("canary", startBackend(t, "canary", nil))
	e.createIngress(e.ingress("primary", nil, gwRule{host: "w.test", service: "stable"}))
	e.createIngress(e.ingress("canary", map[string]string{"rainflow.io/canary-weight": "30"}, gwRule{host: "w.test", service: "canary"}))
	g := e.startGateway()
	waitAnswer(t, g, gwRequest{host: "w.test", path: "/"}, 200, "stable /")
	require.Eventually(t, func() bool {
		r, _ := g.Routes()
		return len(r.HTTP) == 2
	}, 30*time.Second, 20*time.Millisecond)

	const n, weight, tolerance = 1000, 0.30, 0.06
	c := &http.Client{Timeout: 5 * time.Second}
	counts := map[string]int{}
	for range n {
		code, body, err := gwRequest{host: "w.test", path: "/"}.do(c, g)
		require.NoError(t, err)
		require.Equal(t, 200, code)
		counts[body]++
	}
	share := float64(counts["canary /"]) / n
	t.Logf("canary took %d of %d requests (%.1f%%), stable %d", counts["canary /"], n, 100*share, counts["stable /"])
	require.Equal(t, n, counts["canary /"]+counts["stable /"], "answers: %v", counts)
	require.InDelta(t, weight, share, tolerance)
}

// TestGatewayEndpointRemoval marks one endpoint not ready: no request reaches it afterwards.
func TestGatewayEndpointRemoval(t *testing.T) {
	e := newGatewayEnv(t, "gwremove")
	one, two := startBackend(t, "one", nil), startBackend(t, "two", nil)
	e.backendService("web", one, two)
	e.createIngress(e.ingress("web", nil, gwRule{host: "rm.test", service: "web"}))
	g := e.startGateway()
	c := &http.Client{Timeout: 5 * time.Second}
	seen := map[string]int{}
	require.Eventually(t, func() bool {
		_, body, _ := gwRequest{host: "rm.test", path: "/"}.do(c, g)
		seen[body]++
		return seen["one /"] > 0 && seen["two /"] > 0
	}, 30*time.Second, 10*time.Millisecond, "both endpoints serve: %v", seen)

	es := e.endpointSlice("web", gwBackendPort, "", gwEndpoint{addr: one.host.Addr.String(), ready: true},
		gwEndpoint{addr: two.host.Addr.String(), ready: false})
	got, err := e.kube.DiscoveryV1().EndpointSlices(e.ns).Get(e.ctx, es.Name, metav1.GetOptions{})
	require.NoError(t, err)
	es.ResourceVersion = got.ResourceVersion
	_, err = e.kube.DiscoveryV1().EndpointSlices(e.ns).Update(e.ctx, es, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		r, _ := g.Routes()
		return len(r.HTTP) == 1 && len(r.HTTP[0].Backend.Endpoints) == 1
	}, 30*time.Second, 10*time.Millisecond, "the not-ready endpoint leaves the table")

	before := g.Pool().Upstream(net.JoinHostPort(two.host.Addr.String(), strconv.Itoa(gwBackendPort)))
	var twoBefore uint64
	if before != nil {
		twoBefore = before.Requests()
	}
	for i := range 100 {
		code, body, err := gwRequest{host: "rm.test", path: "/"}.do(c, g)
		require.NoError(t, err)
		require.Equal(t, 200, code)
		require.Equal(t, "one /", body, "request %d reached the removed endpoint", i)
	}
	if after := g.Pool().Upstream(net.JoinHostPort(two.host.Addr.String(), strconv.Itoa(gwBackendPort))); after != nil {
		require.Equal(t, twoBefore, after.Requests(), "the removed endpoint got requests")
	}
}

// TestGatewayRouteLatency measures the time from the Create of an Ingress to the first request it
// routes, over several changes. It reports, never asserts, the time.
func TestGatewayRouteLatency(t *testing.T) {
	e := newGatewayEnv(t, "gwlatency")
	e.backendService("web", startBackend(t, "web", nil))
	g := e.startGateway()
	c := &http.Client{Timeout: 5 * time.Second}
	const changes = 10
	var took []time.Duration
	for i := range changes {
		host := fmt.Sprintf("new%d.test", i)
		ing := e.ingress(fmt.Sprintf("new%d", i), nil, gwRule{host: host, service: "web"})
		t0 := time.Now()
		e.createIngress(ing)
		deadline := t0.Add(30 * time.Second)
		for {
			code, body, err := gwRequest{host: host, path: "/"}.do(c, g)
			if err == nil && code == 200 && body == "web /" {
				break
			}
			require.True(t, time.Now().Before(deadline), "Ingress %s not live after 30s: %d %q %v", ing.Name, code, body, err)
			time.Sleep(time.Millisecond)
		}
		took = append(took, time.Since(t0))
	}
	lo, med, hi := durationStats(took)
	t.Logf("route change live (API write → first routed request) over %d changes: min %s median %s max %s",
		changes, lo.Round(time.Microsecond), med.Round(time.Microsecond), hi.Round(time.Microsecond))
}

// durationStats answers the min, median and max of ds (sorted in place).
func durationStats(ds []time.Duration) (lo, med, hi time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	slices.Sort(ds)
	return ds[0], ds[len(ds)/2], ds[len(ds)-1]
}
