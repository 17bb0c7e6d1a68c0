package gateway

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
)

// TestRouteMetrics counts requests by route and status class, their latency, and failed upstream
// attempts, retried ones included.
func TestRouteMetrics(t *testing.T) {
	t.Parallel()
	good := echoBackend(t, "good")
	var table atomic.Pointer[Table]
	down := optionRoute("/down", PathPrefix, RouteOptions{}, deadAddr(t))
	down.Backend.Service = "shop/down"
	table.Store(Compile(Routes{HTTP: []HTTPRoute{
		optionRoute("/retry", PathPrefix, RouteOptions{Retries: 1}, deadAddr(t), hostPort(good)), down,
	}}, NewPool()))
	m := newMetrics()
	logger := slog.New(slog.DiscardHandler)
	p := newProxy(&table, logger)
	t.Cleanup(p.transport.CloseIdleConnections)
	srv := httptest.NewServer(withRequestID(withAccessLog(p, &accessLog{logger: logger}, m)))
	t.Cleanup(srv.Close)

	for _, path := range []string{"/retry", "/retry", "/down"} {
		res, _ := get(t, srv.URL+path, "shop.example.com", nil)
		assert.NotEqual(t, http.StatusNotFound, res.StatusCode)
	}
	res, _ := get(t, srv.URL+"/", "nowhere.example.com", nil)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)

	assert.InDelta(t, 2, value(t, m.routeRequests.WithLabelValues("shop/web", "2xx")), 0)
	assert.InDelta(t, 1, value(t, m.routeRequests.WithLabelValues("shop/web", "5xx")), 0)
	// The first /retry dials the dead endpoint, the second goes round robin to the good one, /down fails.
	assert.InDelta(t, 2, value(t, m.upstreamErrors.WithLabelValues("shop/web")), 0)
	var h dto.Metric
	assert.NoError(t, m.routeDuration.WithLabelValues("shop/web").(prometheus.Metric).Write(&h))
	assert.EqualValues(t, 3, h.GetHistogram().GetSampleCount())
	assert.Zero(t, value(t, m.routeRequests.WithLabelValues("", "4xx")), "the unrouted request is no route's")
}

func TestForgetRoutes(t *testing.T) {
	t.Parallel()
	m := newMetrics()
	for _, ing := range []string{"shop/a", "shop/b"} {
		m.routeRequests.WithLabelValues(ing, "2xx").Inc()
		m.routeDuration.WithLabelValues(ing).Observe(1)
		m.upstreamErrors.WithLabelValues(ing).Inc()
	}
	before := Routes{HTTP: []HTTPRoute{{Ingress: "shop/a"}, {Ingress: "shop/b", Path: "/x"}, {Ingress: "shop/b", Path: "/y"}}}
	after := Routes{HTTP: []HTTPRoute{{Ingress: "shop/a"}}}
	m.forgetRoutes(before, after)
	families, err := m.registry.Gather()
	assert.NoError(t, err)
	series := map[string][]string{}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "rainflow_gateway_route_") {
			continue
		}
		for _, metric := range f.GetMetric() {
			for _, l := range metric.GetLabel() {
				if l.GetName() == "ingress" {
					series[f.GetName()] = append(series[f.GetName()], l.GetValue())
				}
			}
		}
	}
	assert.Equal(t, map[string][]string{
		"rainflow_gateway_route_requests_total":           {"shop/a"},
		"rainflow_gateway_route_request_duration_seconds": {"shop/a"},
		"rainflow_gateway_route_upstream_errors_total":    {"shop/a"},
	}, series)
}

// TestCodeStats counts requests by code and their latency by class through the cached children, the
// same series as the vectors' own, for codes in the cache's range and outside it.
func TestCodeStats(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		statuses []int
		code     string // a code label and its count
		want     float64
		class    string // a class label and its observations
		observed uint64
		cached   bool // the first status's children are kept
	}{
		{name: "cached code", statuses: []int{200, 200, 204}, code: "200", want: 2, class: "2xx", observed: 3, cached: true},
		{name: "client closed", statuses: []int{499, 404}, code: "499", want: 1, class: "4xx", observed: 2, cached: true},
		{name: "outside the cache", statuses: []int{600, 600, 99}, code: "600", want: 2, class: "6xx", observed: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMetrics()
			for _, status := range tt.statuses {
				cm := m.codes.get(m, status)
				cm.requests.Inc()
				cm.duration.Observe(0.001)
			}
			var out dto.Metric
			assert.NoError(t, m.requests.WithLabelValues(tt.code).Write(&out))
			assert.Equal(t, tt.want, out.GetCounter().GetValue())
			h, ok := m.duration.WithLabelValues(tt.class).(prometheus.Metric)
			assert.True(t, ok)
			out.Reset()
			assert.NoError(t, h.Write(&out))
			assert.Equal(t, tt.observed, out.GetHistogram().GetSampleCount())
			assert.Equal(t, tt.cached, m.codes.get(m, tt.statuses[0]) == m.codes.get(m, tt.statuses[0]))
		})
	}
}
