package render

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/gateway"
)

// TestRouteBalanceReachesTheGateway renders routes with every load-balancing policy the API accepts
// and builds the gateway's routing table from the objects: each is read as the policy it names (the
// gateway's own parser, so the two sides cannot drift apart), none is rejected, and a primary and its
// canary of one host and path each keep their own policy.
func TestRouteBalanceReachesTheGateway(t *testing.T) {
	t.Parallel()
	lb := func(policy contract.LoadBalancePolicy, hashBy string) *contract.RouteLoadBalance {
		return &contract.RouteLoadBalance{Policy: policy, HashBy: hashBy}
	}
	tests := []struct {
		name string
		kind contract.RouteKind
		lb   *contract.RouteLoadBalance
		want gateway.Balance
	}{
		{name: "http none", kind: contract.RouteHTTP},
		{name: "http round-robin", kind: contract.RouteHTTP, lb: lb(contract.LoadBalanceRoundRobin, "")},
		{name: "http least-connections", kind: contract.RouteHTTP, lb: lb(contract.LoadBalanceLeastConnections, ""),
			want: gateway.Balance{Policy: gateway.BalanceLeastConnections}},
		{name: "http peak-ewma", kind: contract.RouteHTTP, lb: lb(contract.LoadBalancePeakEWMA, ""),
			want: gateway.Balance{Policy: gateway.BalancePeakEWMA}},
		{name: "http hash by client ip", kind: contract.RouteHTTP, lb: lb(contract.LoadBalanceConsistentHash, contract.HashByClientIP),
			want: gateway.Balance{Policy: gateway.BalanceHash, HashBy: "client-ip"}},
		{name: "http hash by header", kind: contract.RouteHTTP, lb: lb(contract.LoadBalanceConsistentHash, "header:x-user"),
			want: gateway.Balance{Policy: gateway.BalanceHash, HashBy: "header:X-User"}},
		{name: "http hash by cookie", kind: contract.RouteHTTP, lb: lb(contract.LoadBalanceConsistentHash, "cookie:session"),
			want: gateway.Balance{Policy: gateway.BalanceHash, HashBy: "cookie:session"}},
		{name: "tcp none", kind: contract.RouteTCP},
		{name: "tcp round-robin", kind: contract.RouteTCP, lb: lb(contract.LoadBalanceRoundRobin, "")},
		{name: "tcp least-connections", kind: contract.RouteTCP, lb: lb(contract.LoadBalanceLeastConnections, ""),
			want: gateway.Balance{Policy: gateway.BalanceLeastConnections}},
		{name: "tcp hash by client ip", kind: contract.RouteTCP, lb: lb(contract.LoadBalanceConsistentHash, contract.HashByClientIP),
			want: gateway.Balance{Policy: gateway.BalanceHash, HashBy: "client-ip"}},
		{name: "udp least-connections", kind: contract.RouteUDP, lb: lb(contract.LoadBalanceLeastConnections, ""),
			want: gateway.Balance{Policy: gateway.BalanceLeastConnections}},
		{name: "udp hash by client ip", kind: contract.RouteUDP, lb: lb(contract.LoadBalanceConsistentHash, contract.HashByClientIP),
			want: gateway.Balance{Policy: gateway.BalanceHash, HashBy: "client-ip"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			route := contract.Route{Name: "r", Kind: tt.kind, PortName: "http", Port: 8080, LoadBalance: tt.lb}
			switch tt.kind {
			case contract.RouteHTTP:
				route.Host, route.Path, route.PathType = fmt.Sprintf("h%d.example.com", i), "/", contract.PathPrefix
			case contract.RouteUDP:
				route.PortName, route.Port, route.ListenPort = "dns", 53, 5353
			default:
				route.ListenPort = 15432
			}
			routes, l4 := buildGateway(t, []contract.Route{route})
			if tt.kind == contract.RouteHTTP {
				require.Len(t, routes.HTTP, 1)
				require.Equal(t, tt.want, routes.HTTP[0].Options.Balance)
				return
			}
			require.Len(t, l4, 1)
			require.Equal(t, tt.want, l4[0].Balance)
		})
	}

	t.Run("a primary and its canary", func(t *testing.T) {
		t.Parallel()
		weight := int32(10)
		primary := contract.Route{Name: "www", Kind: contract.RouteHTTP, Host: "shop.example.com", Path: "/", PathType: contract.PathPrefix,
			PortName: "http", Port: 8080, LoadBalance: lb(contract.LoadBalanceLeastConnections, "")}
		canary := primary
		canary.Name, canary.Weight = "www-canary", &weight
		canary.LoadBalance = lb(contract.LoadBalanceConsistentHash, "cookie:session")
		routes, _ := buildGateway(t, []contract.Route{primary, canary})
		require.Len(t, routes.HTTP, 2)
		got := map[bool]gateway.Balance{}
		for _, r := range routes.HTTP {
			got[r.Canary] = r.Options.Balance
		}
		require.Equal(t, map[bool]gateway.Balance{
			false: {Policy: gateway.BalanceLeastConnections},
			true:  {Policy: gateway.BalanceHash, HashBy: "cookie:session"},
		}, got, "the weight picks the route, then the route's own policy picks the endpoint")
	})
}

// buildGateway renders routes of acme/shop/web and builds the gateway's HTTP and L4 tables from them
// and the component's Service; it fails on any problem the gateway reports.
func buildGateway(t *testing.T, routes []contract.Route) (gateway.Routes, []gateway.L4Route) {
	t.Helper()
	objs, err := Routes(RouteRelease{Ref: ref("shop", "web"), ReleaseID: "rel-1", Ports: routePorts, Routes: routes})
	require.NoError(t, err)
	component := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "shop-web"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}}},
	}
	in := gateway.Objects{Services: []*corev1.Service{component}}
	for _, ing := range objs.Ingresses {
		typed := asIngress(t, ing)
		in.Ingresses = append(in.Ingresses, &typed)
	}
	for _, svc := range objs.Services {
		typed := asService(t, svc)
		in.Services = append(in.Services, &typed)
	}
	httpRoutes, problems := gateway.Build(contract.IngressClass, in)
	require.Empty(t, problems)
	l4, problems := gateway.BuildL4(in)
	require.Empty(t, problems)
	return httpRoutes, l4
}
