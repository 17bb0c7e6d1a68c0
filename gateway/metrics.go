package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the gateway's Prometheus metrics, on a registry of its own (no global registry).
type metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec   // by code
	duration  *prometheus.HistogramVec // by code class
	builds    prometheus.Counter
	publishes prometheus.Counter
	problems  *prometheus.CounterVec // by reason, counted when a problem first appears
	routes    prometheus.Gauge
	upstreams prometheus.Gauge
	invalid   prometheus.Gauge // problems in the running configuration

	// Per route (by Ingress namespace/name, "" for the default backend); a route caches its children.
	routeRequests  *prometheus.CounterVec   // by ingress and code class
	routeDuration  *prometheus.HistogramVec // by ingress
	upstreamErrors *prometheus.CounterVec   // by ingress: failed upstream attempts, retried or not
	codes          codeStats                // the children of requests and duration by status code (routemetrics.go)

	// The access log's collector side (accesslog_collector.go).
	accessSent    prometheus.Counter
	accessDropped *prometheus.CounterVec // by reason: queue-full, send-failed

	// The UDP routes (l4udpwait.go).
	udpDropped *prometheus.CounterVec // by reason: no_endpoint, buffer_full, too_many_sessions
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rainflow_gateway_requests_total",
			Help: "HTTP requests served, by status code.",
		}, []string{"code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rainflow_gateway_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by status class.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"class"}),
		builds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rainflow_gateway_snapshot_builds_total",
			Help: "Routing configurations built from the watched objects.",
		}),
		publishes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rainflow_gateway_snapshot_publishes_total",
			Help: "Routing snapshots swapped in because the configuration changed.",
		}),
		problems: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rainflow_gateway_config_problems_total",
			Help: "Invalid or unresolvable Ingress rules and backends, counted when they first appear, by reason.",
		}, []string{"reason"}),
		routes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rainflow_gateway_routes",
			Help: "HTTP routes in the running snapshot.",
		}),
		upstreams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rainflow_gateway_upstreams",
			Help: "Ready endpoint addresses in the running snapshot.",
		}),
		invalid: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rainflow_gateway_config_problems",
			Help: "Problems in the latest routing configuration built.",
		}),
	}
	m.routeRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rainflow_gateway_route_requests_total",
		Help: "HTTP requests served, by Ingress (namespace/name, empty for the default backend) and status class.",
	}, []string{"ingress", "class"})
	m.routeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "rainflow_gateway_route_request_duration_seconds",
		Help:    "Time to serve an HTTP request, by Ingress.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
	}, []string{"ingress"})
	m.upstreamErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rainflow_gateway_route_upstream_errors_total",
		Help: "Upstream attempts that failed (no connection, broken exchange, timeout, or a 502 that was retried), by Ingress.",
	}, []string{"ingress"})
	m.accessSent = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "rainflow_gateway_access_log_sent_total",
		Help: "Access log lines the collector acknowledged.",
	})
	m.accessDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rainflow_gateway_access_log_dropped_total",
		Help: "Access log lines not sent to the collector, by reason: queue-full (the request did not wait) or send-failed.",
	}, []string{"reason"})
	m.registry.MustRegister(m.routeRequests, m.routeDuration, m.upstreamErrors, m.accessSent, m.accessDropped)
	m.udpDropped = newUDPDroppedMetric()
	m.registry.MustRegister(m.udpDropped)
	m.registry.MustRegister(m.requests, m.duration, m.builds, m.publishes, m.problems, m.routes, m.upstreams,
		m.invalid, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
