package tests

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rainflow/rainflow/gateway"
)

// TestGatewayChurn runs a bounded load against stable routes for 30 s while other Ingresses and
// EndpointSlices are created, changed and deleted several times a second: no stable request may fail.
func TestGatewayChurn(t *testing.T) {
	e := newGatewayEnv(t, "gwchurn")
	e.backendService("stable1", startBackend(t, "stable1a", nil), startBackend(t, "stable1b", nil))
	e.backendService("stable2", startBackend(t, "stable2", nil))
	churnA, churnB := startBackend(t, "churnA", nil), startBackend(t, "churnB", nil)
	for i := range 3 {
		e.backendService(fmt.Sprintf("churn%d", i), churnA)
	}
	e.createIngress(e.ingress("stable", nil, gwRule{host: "stable1.test", service: "stable1"},
		gwRule{host: "stable2.test", path: "/s", service: "stable2"}))
	g := e.startGateway()
	waitAnswer(t, g, gwRequest{host: "stable2.test", path: "/s"}, 200, "stable2 /s")
	waitAnswer(t, g, gwRequest{host: "stable1.test", path: "/x"}, 200, "stable1a /x") // only once both
	waitAnswer(t, g, gwRequest{host: "stable1.test", path: "/x"}, 200, "stable1b /x") // are in the table

	const workers, duration = 8, 30 * time.Second
	ctx, cancel := context.WithTimeout(e.ctx, duration)
	defer cancel()
	var churnOps, churnErrs atomic.Int64
	churnDone := make(chan struct{})
	go func() {
		defer close(churnDone)
		churn(ctx, e, churnA, churnB, &churnOps, &churnErrs)
	}()

	type result struct {
		latencies []time.Duration
		failures  []string
	}
	results := make([]result, workers)
	transport := &http.Transport{MaxIdleConnsPerHost: workers, IdleConnTimeout: time.Minute}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			res := &results[w]
			for i := 0; ctx.Err() == nil; i++ {
				req := gwRequest{host: "stable1.test", path: fmt.Sprintf("/w%d/%d", w, i)}
				want := []string{"stable1a " + req.path, "stable1b " + req.path}
				if i%2 == 1 {
					req = gwRequest{host: "stable2.test", path: fmt.Sprintf("/s/%d/%d", w, i)}
					want = []string{"stable2 " + req.path}
				}
				t0 := time.Now()
				code, body, err := req.do(client, g)
				res.latencies = append(res.latencies, time.Since(t0))
				if err != nil || code != 200 || !slices.Contains(want, body) {
					if len(res.failures) < 10 {
						res.failures = append(res.failures, fmt.Sprintf("%s%s: %d %q %v", req.host, req.path, code, body, err))
					}
					res.latencies[len(res.latencies)-1] = -1 // marks a failure
				}
			}
		})
	}
	wg.Wait()
	<-churnDone

	var all []time.Duration
	var failed int
	var failures []string
	for _, r := range results {
		for _, d := range r.latencies {
			if d < 0 {
				failed++
				continue
			}
			all = append(all, d)
		}
		failures = append(failures, r.failures...)
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(p*float64(len(all))))].Round(time.Microsecond)
	}
	t.Logf("churn: %d stable requests in %s by %d workers (%.0f req/s), %d failed; latency p50 %s p90 %s p99 %s max %s",
		len(all)+failed, duration, workers, float64(len(all)+failed)/duration.Seconds(), failed,
		pct(0.50), pct(0.90), pct(0.99), pct(1))
	t.Logf("churn: %d Ingress/EndpointSlice changes (%.1f/s), %d API errors", churnOps.Load(),
		float64(churnOps.Load())/duration.Seconds(), churnErrs.Load())
	require.Zero(t, failed, "failed stable requests, first ones: %v", failures)
	require.Greater(t, churnOps.Load(), int64(3*duration/time.Second), "the churn made several changes a second")
	require.Zero(t, churnErrs.Load(), "the churn's API calls failed")
}

// churn creates, changes and deletes Ingresses and EndpointSlices of the churn services every 50 ms
// until ctx is done, counting its API calls and their failures.
func churn(ctx context.Context, e *gwEnv, a, b *gwBackend, ops, errs *atomic.Int64) {
	count := func(err error) {
		ops.Add(1)
		// a call the client refuses because the churn's time is up is not a failure of the API
		if err != nil && ctx.Err() == nil && !strings.Contains(err.Error(), "would exceed context deadline") {
			errs.Add(1)
			e.t.Logf("churn: %v", err)
		}
	}
	ings, slicesAPI := e.kube.NetworkingV1().Ingresses(e.ns), e.kube.DiscoveryV1().EndpointSlices(e.ns)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		svc := fmt.Sprintf("churn%d", i%3)
		switch i % 4 {
		case 0: // a new Ingress
			_, err := ings.Create(ctx, e.ingress(fmt.Sprintf("churn-%d", i), nil,
				gwRule{host: fmt.Sprintf("c%d.test", i), service: svc}), metav1.CreateOptions{})
			count(err)
		case 1: // change the previous one: another path and service
			ing, err := ings.Get(ctx, fmt.Sprintf("churn-%d", i-1), metav1.GetOptions{})
			if err == nil {
				ing.Spec.Rules[0].HTTP.Paths[0].Path = fmt.Sprintf("/p%d", i)
				ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name = fmt.Sprintf("churn%d", (i+1)%3)
				_, err = ings.Update(ctx, ing, metav1.UpdateOptions{})
			}
			count(err)
		case 2: // move a churn service's endpoints, ready or not
			es := e.endpointSlice(svc, gwBackendPort, "", gwEndpoint{addr: a.host.Addr.String(), ready: i%8 < 4},
				gwEndpoint{addr: b.host.Addr.String(), ready: true})
			cur, err := slicesAPI.Get(ctx, es.Name, metav1.GetOptions{})
			if err == nil {
				es.ResourceVersion = cur.ResourceVersion
				_, err = slicesAPI.Update(ctx, es, metav1.UpdateOptions{})
			}
			count(err)
		case 3: // delete an older Ingress, and swap an extra EndpointSlice
			if i >= 8 {
				count(ings.Delete(ctx, fmt.Sprintf("churn-%d", i-7), metav1.DeleteOptions{}))
				count(slicesAPI.Delete(ctx, fmt.Sprintf("extra-%d", i-4), metav1.DeleteOptions{}))
			}
			es := e.endpointSlice(svc, gwBackendPort, "", gwEndpoint{addr: b.host.Addr.String(), ready: true})
			es.Name = fmt.Sprintf("extra-%d", i)
			_, err := slicesAPI.Create(ctx, es, metav1.CreateOptions{})
			count(err)
		}
	}
}

// TestGatewayHA builds two gateways from the same objects: they publish equal routing tables and give
// the same answers.
func TestGatewayHA(t *testing.T) {
	e := newGatewayEnv(t, "gwha")
	for _, n := range []string{"a", "b", "c"} {
		e.backendService("svc-"+n, startBackend(t, n, nil))
	}
	e.tlsSecret("cert", "secure.ha.test")
	ing := e.ingress("site", nil,
		gwRule{host: "ha.test", path: "/", service: "svc-a"},
		gwRule{host: "ha.test", path: "/api", service: "svc-b"},
		gwRule{host: "ha.test", path: "/exact", pathType: networkingv1.PathTypeExact, service: "svc-c"},
		gwRule{host: "*.ha.test", service: "svc-c"},
		gwRule{host: "secure.ha.test", service: "svc-b"})
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"secure.ha.test"}, SecretName: "cert"}}
	e.createIngress(ing)
	e.createIngress(e.ingress("beta", map[string]string{
		"rainflow.io/match-header-name": "X-Beta", "rainflow.io/match-header-value": "1",
	}, gwRule{host: "ha.test", path: "/api", service: "svc-c"}))
	g1, g2 := e.startGateway(), e.startGateway()

	routesOf := func(g *gateway.Gateway) gateway.Routes {
		r, _ := g.Routes()
		return r
	}
	complete := func(r gateway.Routes) bool {
		if len(r.HTTP) != 6 || len(r.TLS) != 1 {
			return false
		}
		for _, h := range r.HTTP {
			if len(h.Backend.Endpoints) != 1 {
				return false
			}
		}
		return true
	}
	require.Eventually(t, func() bool { return complete(routesOf(g1)) && complete(routesOf(g2)) },
		30*time.Second, 20*time.Millisecond, "both gateways see every object: %+v / %+v", routesOf(g1), routesOf(g2))
	require.True(t, reflect.DeepEqual(routesOf(g1), routesOf(g2)), "Routes differ:\n%+v\n%+v", routesOf(g1), routesOf(g2))
	require.Equal(t, debugRoutes(t, g1), debugRoutes(t, g2), "/debug/routes differ")

	reqs := []gwRequest{
		{host: "ha.test", path: "/"},
		{host: "ha.test", path: "/api/x"},
		{host: "ha.test", path: "/api/x", header: http.Header{"X-Beta": {"1"}}},
		{host: "ha.test", path: "/exact"},
		{host: "ha.test", path: "/exact/no"},
		{host: "x.ha.test", path: "/w"},
		{host: "secure.ha.test", path: "/s"},
		{host: "nowhere.test", path: "/"},
	}
	c := &http.Client{Timeout: 5 * time.Second}
	for _, r := range reqs {
		code1, body1, err := r.do(c, g1)
		require.NoError(t, err)
		code2, body2, err := r.do(c, g2)
		require.NoError(t, err)
		require.Equal(t, code1, code2, "%s%s %v", r.host, r.path, r.header)
		if code1 == 200 { // error pages may carry a request id
			require.Equal(t, body1, body2, "%s%s %v", r.host, r.path, r.header)
		}
		t.Logf("%s%s %v: both %d %q", r.host, r.path, r.header, code1, body1)
	}
}

// debugRoutes answers the gateway's /debug/routes.
func debugRoutes(t *testing.T, g *gateway.Gateway) string {
	t.Helper()
	resp, err := http.Get("http://" + g.AdminAddr().String() + "/debug/routes")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, "%s", b)
	return string(b)
}
