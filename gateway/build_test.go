package gateway

import (
	"testing"

	"github.com/stretchr/testify/assert"
	networkingv1 "k8s.io/api/networking/v1"
)

func TestBuild(t *testing.T) {
	t.Parallel()
	web := service("shop", "web", "http", 80, "admin", 9000)
	webSlice := slice("shop", "web-abc", "web", "http", 8080, ep{"10.0.0.1", true}, ep{"10.0.0.2", true})
	webBackend := Backend{Service: "shop/web", Port: "80", Endpoints: []string{"10.0.0.1:8080", "10.0.0.2:8080"}}

	tests := []struct {
		name     string
		in       Objects
		want     Routes
		problems []string // reasons, in order
	}{
		{
			name: "exact and prefix paths by port number",
			in: Objects{
				Ingresses: []*networkingv1.Ingress{ingress("shop", "web", rule("shop.example.com",
					httpPath("/", prefix, "web", 80), httpPath("/healthz", exact, "web", 80)))},
				Services: []*corev1Service{web}, EndpointSlices: sliceList(webSlice),
			},
			want: Routes{HTTP: []HTTPRoute{
				{Host: "shop.example.com", Path: "", PathType: PathPrefix, Ingress: "shop/web", Backend: webBackend},
				{Host: "shop.example.com", Path: "/healthz", PathType: PathExact, Ingress: "shop/web", Backend: webBackend},
			}},
		},
		{
			name: "port by name picks the slice port of the same name",
			in: Objects{
				Ingresses: []*networkingv1.Ingress{ingress("shop", "admin", rule("admin.example.com",
					httpPath("/", prefix, "web", "admin")))},
				Services: []*corev1Service{web},
				EndpointSlices: sliceList(webSlice,
					slice("shop", "web-admin", "web", "admin", 9090, ep{"10.0.0.1", true})),
			},
			want: Routes{HTTP: []HTTPRoute{{Host: "admin.example.com", Path: "", PathType: PathPrefix, Ingress: "shop/admin",
				Backend: Backend{Service: "shop/web", Port: "admin", Endpoints: []string{"10.0.0.1:9090"}}}}},
		},
		{
			name: "ingresses of another class or without a class are ignored",
			in: Objects{
				Ingresses: []*networkingv1.Ingress{
					ingress("shop", "nginx", class("nginx"), rule("a.example.com", httpPath("/", prefix, "web", 80))),
					ingress("shop", "none", class(""), rule("b.example.com", httpPath("/", prefix, "web", 80))),
				},
				Services: []*corev1Service{web}, EndpointSlices: sliceList(webSlice),
			},
			want: Routes{},
		},
		{
			name: "only ready endpoints, deduplicated across slices, nil readiness is ready",
			in: Objects{
				Ingresses: []*networkingv1.Ingress{ingress("shop", "web", rule("", httpPath("/", prefix, "web", 80)))},
				Services:  []*corev1Service{web},
				EndpointSlices: sliceList(
					slice("shop", "web-1", "web", "http", 8080, ep{"10.0.0.3", true}, ep{"10.0.0.4", false}),
					slice("shop", "web-2", "web", "http", 8080, ep{"10.0.0.3", true}, ep{"10.0.0.1", true}),
					readyUnset(slice("shop", "web-3", "web", "http", 8080, ep{"10.0.0.9", false})),
					slice("other", "web-4", "web", "http", 8080, ep{"10.9.9.9", true}), // other namespace
				),
			},
			want: Routes{HTTP: []HTTPRoute{{Path: "", PathType: PathPrefix, Ingress: "shop/web",
				Backend: Backend{Service: "shop/web", Port: "80", Endpoints: []string{"10.0.0.1:8080", "10.0.0.3:8080", "10.0.0.9:8080"}}}}},
		},
		{
			name: "invalid hosts are skipped, the valid rule stays",
			in: Objects{
				Ingresses: []*networkingv1.Ingress{ingress("shop", "web",
					rule("Bad_Host.example.com", httpPath("/", prefix, "web", 80)),
					rule("10.0.0.1", httpPath("/", prefix, "web", 80)),
					rule("*.*.example.com", httpPath("/", prefix, "web", 80)),
					rule("*.Example.com", httpPath("/", prefix, "web", 80)),
				)},
				Services: []*corev1Service{web}, EndpointSlices: sliceList(webSlice),
			},
			want: Routes{HTTP: []HTTPRoute{
				{Host: "*.example.com", Path: "", PathType: PathPrefix, Ingress: "shop/web", Backend: webBackend},
			}},
			problems: []string{ReasonInvalidHost, ReasonInvalidHost, ReasonInvalidHost},
		},
		{
			name: "invalid paths are skipped",
			in: Objects{
				Ingresses: []*networkingv1.Ingress{ingress("shop", "web", rule("a.example.com",
					httpPath("/no-type", "", "web", 80),
					httpPath("relative", prefix, "web", 80),
					httpPath("/q?x=1", exact, "web", 80),
					httpPath("/ok", exact, "web", 80),
				))},
				Services: []*corev1Service{web}, EndpointSlices: sliceList(webSlice),
			},
			want: Routes{HTTP: []HTTPRoute{
				{Host: "a.example.com", Path: "/ok", PathType: PathExact, Ingress: "shop/web", Backend: webBackend},
			}},
			problems: []string{ReasonInvalidPath, ReasonInvalidPath, ReasonInvalidPath},
		},
		{
			name: "prefix loses its trailing slash, implementation specific reads as prefix",
			in: Objects{
				Ingresses: []*networkingv1.Ingress{ingress("shop", "web", rule("a.example.com",
					httpPath("/api/", prefix, "web", 80),
					httpPath("", implSpec, "web", 80),
				))},
				Services: []*corev1Service{web}, EndpointSlices: sliceList(webSlice),
			},
			want: Routes{HTTP: []HTTPRoute{
				{Host: "a.example.com", Path: "", PathType: PathPrefix, Ingress: "shop/web", Backend: webBackend},
				{Host: "a.example.com", Path: "/api", PathType: PathPrefix, Ingress: "shop/web", Backend: webBackend},
			}},
		},
		{
			name: "malformed and resource backends are skipped",
			in: Objects{
				Ingresses: []*networkingv1.Ingress{ingress("shop", "web", rule("a.example.com",
					httpPath("/no-port", prefix, "web", nil),
					resourceBackend(httpPath("/bucket", prefix, "", nil)),
					httpPath("/ok", prefix, "web", 80),
				))},
				Services: []*corev1Service{web}, EndpointSlices: sliceList(webSlice),
			},
			want: Routes{HTTP: []HTTPRoute{
				{Host: "a.example.com", Path: "/ok", PathType: PathPrefix, Ingress: "shop/web", Backend: webBackend},
			}},
			problems: []string{ReasonInvalidBackend, ReasonUnsupported},
		},
		{
			name: "missing service or service port keeps the route with no endpoint",
			in: Objects{
				Ingresses: []*networkingv1.Ingress{ingress("shop", "web", rule("a.example.com",
					httpPath("/gone", prefix, "gone", 80),
					httpPath("/wrong-port", prefix, "web", 81),
				))},
				Services: []*corev1Service{web}, EndpointSlices: sliceList(webSlice),
			},
			want: Routes{HTTP: []HTTPRoute{
				{Host: "a.example.com", Path: "/gone", PathType: PathPrefix, Ingress: "shop/web", Backend: Backend{Service: "shop/gone", Port: "80"}},
				{Host: "a.example.com", Path: "/wrong-port", PathType: PathPrefix, Ingress: "shop/web", Backend: Backend{Service: "shop/web", Port: "81"}},
			}},
			problems: []string{ReasonServiceNotFound, ReasonServicePortMissing},
		},
		{
			name: "a conflict goes to the oldest ingress whatever its name",
			in: Objects{
				Ingresses: []*networkingv1.Ingress{
					ingress("shop", "a-newer", created(5), rule("a.example.com", httpPath("/", prefix, "web", "admin"))),
					ingress("shop", "z-older", created(1), rule("a.example.com", httpPath("/", prefix, "web", 80))),
				},
				Services: []*corev1Service{web}, EndpointSlices: sliceList(webSlice),
			},
			want: Routes{HTTP: []HTTPRoute{
				{Host: "a.example.com", Path: "", PathType: PathPrefix, Ingress: "shop/z-older", Backend: webBackend},
			}},
			problems: []string{ReasonConflict},
		},
		{
			name: "default backend from the oldest ingress",
			in: Objects{
				Ingresses: []*networkingv1.Ingress{
					ingress("shop", "second", created(2), defaultBackend("web", "admin")),
					ingress("shop", "first", created(1), defaultBackend("web", 80)),
				},
				Services: []*corev1Service{web}, EndpointSlices: sliceList(webSlice),
			},
			want:     Routes{Default: &webBackend},
			problems: []string{ReasonConflict},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, problems := Build(DefaultIngressClass, tt.in)
			assert.Equal(t, tt.want, got)
			var reasons []string
			for _, p := range problems {
				reasons = append(reasons, p.Reason)
				assert.NotEmpty(t, p.Detail)
				assert.Contains(t, p.Object, "Ingress shop/")
			}
			assert.Equal(t, tt.problems, reasons, "problems: %+v", problems)
			assert.True(t, got.Equal(tt.want), "Routes.Equal")
		})
	}
}

// TestBuildIsCanonical shows that the order objects are listed in does not change the Routes, which is
// what lets the publisher skip unchanged snapshots.
func TestBuildIsCanonical(t *testing.T) {
	t.Parallel()
	a := ingress("shop", "a", rule("a.example.com", httpPath("/x", prefix, "web", 80), httpPath("/y", exact, "web", 80)))
	b := ingress("shop", "b", rule("b.example.com", httpPath("/", prefix, "web", 80)))
	s1 := slice("shop", "web-1", "web", "http", 8080, ep{"10.0.0.2", true})
	s2 := slice("shop", "web-2", "web", "http", 8080, ep{"10.0.0.1", true})
	svc := service("shop", "web", "http", 80)

	one, _ := Build(DefaultIngressClass, Objects{
		Ingresses: []*networkingv1.Ingress{a, b}, Services: []*corev1Service{svc}, EndpointSlices: sliceList(s1, s2)})
	two, _ := Build(DefaultIngressClass, Objects{
		Ingresses: []*networkingv1.Ingress{b, a}, Services: []*corev1Service{svc}, EndpointSlices: sliceList(s2, s1)})
	assert.Equal(t, one, two)
	assert.True(t, one.Equal(two))
}
