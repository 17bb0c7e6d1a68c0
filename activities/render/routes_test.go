package render

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/rainflow/rainflow/contract"
)

var routePorts = []contract.Port{
	{Name: "http", Port: 8080, Protocol: "TCP"},
	{Name: "dns", Port: 53, Protocol: "UDP"},
	{Port: 9000, Protocol: "TCP"},
}

// asIngress and asService read an apply configuration back as the object it applies.
func asIngress(t *testing.T, v any) networkingv1.Ingress {
	t.Helper()
	var out networkingv1.Ingress
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

func asService(t *testing.T, v any) corev1.Service {
	t.Helper()
	var out corev1.Service
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	weight := int32(25)
	prefix := networkingv1.PathTypePrefix
	exact := networkingv1.PathTypeExact
	base := func(name, host string) contract.Route {
		return contract.Route{Name: name, Kind: contract.RouteHTTP, Host: host, Path: "/", PathType: contract.PathPrefix, PortName: "http", Port: 8080}
	}
	tests := []struct {
		name    string
		routes  []contract.Route
		wantErr string
		check   func(t *testing.T, o RouteObjects)
	}{
		{name: "no routes", check: func(t *testing.T, o RouteObjects) {
			require.Empty(t, o.Ingresses)
			require.Empty(t, o.Services)
			require.Empty(t, o.Certificates)
		}},
		{name: "plain HTTP route", routes: []contract.Route{base("www", "shop.example.com")}, check: func(t *testing.T, o RouteObjects) {
			require.Len(t, o.Ingresses, 1)
			ing := asIngress(t, o.Ingresses[0])
			require.Equal(t, "shop-web-www", ing.Name)
			require.Equal(t, "acme", ing.Namespace)
			require.Equal(t, contract.IngressClass, *ing.Spec.IngressClassName)
			require.Empty(t, ing.Annotations)
			require.Empty(t, ing.Spec.TLS)
			require.Equal(t, "www", ing.Labels[contract.LabelRoute])
			require.Equal(t, "rel-1", ing.Labels[contract.LabelRelease])
			for k, v := range ComponentLabels(ref("shop", "web")) {
				require.Equal(t, v, ing.Labels[k], "label %s: Delete finds the Ingress by the component's labels", k)
			}
			require.Equal(t, "rainflow", ing.Labels["app.kubernetes.io/managed-by"])
			rule := ing.Spec.Rules[0]
			require.Equal(t, "shop.example.com", rule.Host)
			p := rule.HTTP.Paths[0]
			require.Equal(t, "/", p.Path)
			require.Equal(t, &prefix, p.PathType)
			require.Equal(t, "shop-web", p.Backend.Service.Name, "the component's Service")
			require.Equal(t, "http", p.Backend.Service.Port.Name)
		}},
		{name: "every HTTP option", routes: []contract.Route{{
			Name: "beta", Kind: contract.RouteHTTP, Host: "*.shop.example.com", Path: "/api", PathType: contract.PathExact,
			Header: &contract.RouteMatch{Name: "X-Beta", Value: "on"}, Cookie: &contract.RouteMatch{Name: "beta", Value: "1"},
			Weight: &weight, Certificate: "wild", ForceHTTPS: true, Port: 9000,
		}}, check: func(t *testing.T, o RouteObjects) {
			ing := asIngress(t, o.Ingresses[0])
			require.Equal(t, map[string]string{
				contract.AnnotationHeaderName: "X-Beta", contract.AnnotationHeaderValue: "on",
				contract.AnnotationCookieName: "beta", contract.AnnotationCookieValue: "1",
				contract.AnnotationCanaryWeight: "25", contract.AnnotationForceHTTPS: "true", contract.AnnotationCertificate: "wild",
			}, ing.Annotations)
			require.Equal(t, []networkingv1.IngressTLS{{Hosts: []string{"*.shop.example.com"}, SecretName: "shop-web-tls-wild"}}, ing.Spec.TLS)
			p := ing.Spec.Rules[0].HTTP.Paths[0]
			require.Equal(t, &exact, p.PathType)
			require.Equal(t, "tcp-9000", p.Backend.Service.Port.Name, "an unnamed port by the name its Service gives it")
			require.Equal(t, []string{"wild"}, o.Certificates)
		}},
		{name: "a certificate used twice is one Secret", routes: func() []contract.Route {
			a, b := base("a", "a.example.com"), base("b", "b.example.com")
			a.Certificate, b.Certificate = "tls", "tls"
			return []contract.Route{a, b}
		}(), check: func(t *testing.T, o RouteObjects) {
			require.Len(t, o.Ingresses, 2)
			require.Equal(t, []string{"tls"}, o.Certificates)
		}},
		{name: "weight zero is a canary that takes nothing", routes: func() []contract.Route {
			r := base("dark", "shop.example.com")
			zero := int32(0)
			r.Weight = &zero
			return []contract.Route{r}
		}(), check: func(t *testing.T, o RouteObjects) {
			require.Equal(t, "0", asIngress(t, o.Ingresses[0]).Annotations[contract.AnnotationCanaryWeight])
		}},
		{name: "TCP and UDP routes", routes: []contract.Route{
			{Name: "db", Kind: contract.RouteTCP, PortName: "http", Port: 8080, ListenPort: 15432},
			{Name: "dns", Kind: contract.RouteUDP, PortName: "dns", Port: 53, ListenPort: 5353},
		}, check: func(t *testing.T, o RouteObjects) {
			require.Empty(t, o.Ingresses)
			require.Len(t, o.Services, 2)
			tcp, udp := asService(t, o.Services[0]), asService(t, o.Services[1])
			require.Equal(t, "shop-web-db", tcp.Name)
			require.Equal(t, corev1.ClusterIPNone, tcp.Spec.ClusterIP)
			require.Equal(t, SelectorLabels(ref("shop", "web")), tcp.Spec.Selector)
			require.Equal(t, "15432", tcp.Annotations[contract.AnnotationListenPort])
			require.Equal(t, "db", tcp.Labels[contract.LabelRoute])
			require.Equal(t, corev1.ProtocolTCP, tcp.Spec.Ports[0].Protocol)
			require.Equal(t, int32(8080), tcp.Spec.Ports[0].Port)
			require.Equal(t, "http", tcp.Spec.Ports[0].TargetPort.StrVal)
			require.Equal(t, corev1.ProtocolUDP, udp.Spec.Ports[0].Protocol)
			require.Equal(t, map[string]string{contract.AnnotationListenPort: "15432"}, tcp.Annotations, "no policy, no load-balance annotation")
			require.Equal(t, map[string]string{contract.AnnotationListenPort: "5353"}, udp.Annotations)
		}},
		{name: "load balancing of an HTTP route", routes: func() []contract.Route {
			hash, ewma := base("hash", "a.example.com"), base("ewma", "b.example.com")
			hash.LoadBalance = &contract.RouteLoadBalance{Policy: contract.LoadBalanceConsistentHash, HashBy: "cookie:session"}
			ewma.LoadBalance = &contract.RouteLoadBalance{Policy: contract.LoadBalancePeakEWMA}
			return []contract.Route{hash, ewma}
		}(), check: func(t *testing.T, o RouteObjects) {
			require.Equal(t, map[string]string{contract.AnnotationLoadBalance: "consistent-hash", contract.AnnotationHashBy: "cookie:session"},
				asIngress(t, o.Ingresses[0]).Annotations)
			require.Equal(t, map[string]string{contract.AnnotationLoadBalance: "peak-ewma"}, asIngress(t, o.Ingresses[1]).Annotations,
				"no hash-by without a hash key")
		}},
		{name: "load balancing of TCP and UDP routes", routes: []contract.Route{
			{Name: "db", Kind: contract.RouteTCP, PortName: "http", Port: 8080, ListenPort: 15432,
				LoadBalance: &contract.RouteLoadBalance{Policy: contract.LoadBalanceLeastConnections}},
			{Name: "dns", Kind: contract.RouteUDP, PortName: "dns", Port: 53, ListenPort: 5353,
				LoadBalance: &contract.RouteLoadBalance{Policy: contract.LoadBalanceConsistentHash, HashBy: contract.HashByClientIP}},
		}, check: func(t *testing.T, o RouteObjects) {
			require.Equal(t, map[string]string{contract.AnnotationListenPort: "15432", contract.AnnotationLoadBalance: "least-connections"},
				asService(t, o.Services[0]).Annotations)
			require.Equal(t, map[string]string{contract.AnnotationListenPort: "5353", contract.AnnotationLoadBalance: "consistent-hash",
				contract.AnnotationHashBy: "client-ip"}, asService(t, o.Services[1]).Annotations)
		}},
		{name: "a primary and its canary keep their own policies", routes: func() []contract.Route {
			primary, canary := base("www", "shop.example.com"), base("www-canary", "shop.example.com")
			primary.LoadBalance = &contract.RouteLoadBalance{Policy: contract.LoadBalanceLeastConnections}
			canary.Weight = &weight
			canary.LoadBalance = &contract.RouteLoadBalance{Policy: contract.LoadBalanceConsistentHash, HashBy: "header:X-User"}
			return []contract.Route{primary, canary}
		}(), check: func(t *testing.T, o RouteObjects) {
			require.Len(t, o.Ingresses, 2, "routes are never merged: one Ingress each")
			require.Equal(t, map[string]string{contract.AnnotationLoadBalance: "least-connections"}, asIngress(t, o.Ingresses[0]).Annotations)
			require.Equal(t, map[string]string{contract.AnnotationCanaryWeight: "25", contract.AnnotationLoadBalance: "consistent-hash",
				contract.AnnotationHashBy: "header:X-User"}, asIngress(t, o.Ingresses[1]).Annotations)
		}},
		{name: "unknown port name", routes: []contract.Route{func() contract.Route {
			r := base("x", "x.example.com")
			r.PortName = "admin"
			return r
		}()}, wantErr: `route "x" of shop-web: the component has no port named "admin"`},
		{name: "unknown port number", routes: []contract.Route{{Name: "y", Kind: contract.RouteHTTP, Host: "y.example.com", Path: "/",
			PathType: contract.PathPrefix, Port: 7777}}, wantErr: "no port 7777"},
		{name: "HTTP to a UDP port", routes: []contract.Route{{Name: "z", Kind: contract.RouteHTTP, Host: "z.example.com", Path: "/",
			PathType: contract.PathPrefix, PortName: "dns"}}, wantErr: "port dns is UDP, a http route needs TCP"},
		{name: "UDP to a TCP port", routes: []contract.Route{{Name: "u", Kind: contract.RouteUDP, PortName: "http", ListenPort: 53}},
			wantErr: "port http is TCP, a udp route needs UDP"},
		{name: "TCP without a listen port", routes: []contract.Route{{Name: "t", Kind: contract.RouteTCP, PortName: "http"}},
			wantErr: "listen port 0"},
		{name: "HTTP without a path type", routes: []contract.Route{{Name: "h", Kind: contract.RouteHTTP, Host: "h.example.com", Path: "/", PortName: "http"}},
			wantErr: "needs a host, a path and a path type"},
		{name: "unknown kind", routes: []contract.Route{{Name: "k", Kind: "sctp", PortName: "http"}}, wantErr: `unknown kind "sctp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := RouteRelease{Ref: ref("shop", "web"), ReleaseID: "rel-1", Ports: routePorts, Routes: tt.routes}
			got, err := Routes(in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, got)
			again, err := Routes(in)
			require.NoError(t, err)
			a, _ := json.Marshal(got)
			b, _ := json.Marshal(again)
			require.JSONEq(t, string(a), string(b), "rendering is a pure function")
		})
	}
}

func TestTLSSecret(t *testing.T) {
	t.Parallel()
	s := TLSSecret(ref("shop", "web"), "rel-2", "wild", []byte("CHAIN"), []byte("KEY"))
	var got corev1.Secret
	b, err := json.Marshal(s)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, "shop-web-tls-wild", got.Name)
	require.Equal(t, corev1.SecretTypeTLS, got.Type)
	require.Equal(t, map[string][]byte{"tls.crt": []byte("CHAIN"), "tls.key": []byte("KEY")}, got.Data)
	require.Equal(t, "wild", got.Labels[contract.LabelCertificate])
	require.Equal(t, "rel-2", got.Labels[contract.LabelRelease])
	require.Equal(t, "web", got.Labels[contract.LabelComponent])
	require.NotContains(t, got.Labels, contract.LabelRoute)
}

func TestRouteServiceName(t *testing.T) {
	t.Parallel()
	long := ref(strings.Repeat("a", 30), strings.Repeat("b", 30))
	a, b := RouteServiceName(long, "route-one"), RouteServiceName(long, "route-two")
	require.LessOrEqual(t, len(a), 63)
	require.NotEqual(t, a, b, "long names stay apart")
	require.Equal(t, "shop-web-db", RouteServiceName(ref("shop", "web"), "db"))
}
