package gateway

import (
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "k8s.io/api/networking/v1"
)

// TestPublisherSwapsOnlyOnChange rebuilds over changing objects: an unchanged configuration is not
// republished, a change is, and a problem is counted once however many rebuilds see it.
func TestPublisherSwapsOnlyOnChange(t *testing.T) {
	t.Parallel()
	good := ingress("shop", "web", rule("a.example.com", httpPath("/", prefix, "web", 80)))
	bad := ingress("shop", "bad", rule("b.example.com", httpPath("relative", prefix, "web", 80)))
	svc := service("shop", "web", "http", 80)
	objs := Objects{Ingresses: []*networkingv1.Ingress{good}, Services: []*corev1Service{svc},
		EndpointSlices: sliceList(slice("shop", "web-1", "web", "http", 8080, ep{"10.0.0.1", true}))}

	var table atomic.Pointer[Table]
	m := newMetrics()
	p := newPublisher(DefaultIngressClass, func() (Objects, error) { return objs, nil }, NewPool(), &table, 0,
		slog.New(slog.DiscardHandler), m)

	steps := []struct {
		name          string
		change        func()
		wantPublishes float64
		wantProblems  float64 // counted problems so far
	}{
		{name: "first build publishes", change: func() {}, wantPublishes: 1},
		{name: "same objects: no publish", change: func() {}, wantPublishes: 1},
		{name: "an invalid ingress alone changes nothing but is reported", change: func() {
			objs.Ingresses = append(objs.Ingresses, bad)
		}, wantPublishes: 1, wantProblems: 1},
		{name: "reported once across rebuilds", change: func() {}, wantPublishes: 1, wantProblems: 1},
		{name: "a new endpoint publishes", change: func() {
			objs.EndpointSlices = append(objs.EndpointSlices, slice("shop", "web-2", "web", "http", 8080, ep{"10.0.0.2", true}))
		}, wantPublishes: 2, wantProblems: 1},
	}
	for _, s := range steps {
		s.change()
		p.rebuild()
		assert.Equal(t, s.wantPublishes, value(t, m.publishes), s.name)
		assert.Equal(t, s.wantProblems, value(t, m.problems.WithLabelValues(ReasonInvalidPath)), s.name)
	}
	routes := table.Load().Routes()
	require.Len(t, routes.HTTP, 1)
	assert.Equal(t, []string{"10.0.0.1:8080", "10.0.0.2:8080"}, routes.HTTP[0].Backend.Endpoints)
	assert.Equal(t, float64(2), value(t, m.upstreams))
}

func BenchmarkMatch(b *testing.B) {
	var routes Routes
	for i := range 1000 {
		host := "app" + string(rune('a'+i%26)) + "-" + string(rune('a'+i/26%26)) + ".example.com"
		routes.HTTP = append(routes.HTTP,
			HTTPRoute{Host: host, Path: "", PathType: PathPrefix, Backend: Backend{Service: "ns/" + host, Port: "80"}},
			HTTPRoute{Host: host, Path: "/api/v1", PathType: PathPrefix, Backend: Backend{Service: "ns/" + host + "-api", Port: "80"}},
		)
	}
	table := Compile(routes, NewPool())
	b.ReportAllocs()
	for b.Loop() {
		if _, be := table.Match("appq-c.example.com:80", "/api/v1/users/42/orders", nil); be == nil {
			b.Fatal("no match")
		}
	}
}

// value reads a counter or gauge.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}
