package api

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the API's Prometheus collectors.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	// auditFailures counts change requests whose audit event could not be recorded.
	auditFailures prometheus.Counter
	// tails counts the log tails being relayed.
	tails prometheus.Gauge
}

// newMetrics registers the API's collectors on reg; collectors already there (a second Server on the
// same registry) are reused.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rainflow", Subsystem: "api", Name: "requests_total",
			Help: "HTTP requests answered, by method, route pattern and status code.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "rainflow", Subsystem: "api", Name: "request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method and route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "rainflow", Subsystem: "api", Name: "requests_in_flight",
			Help: "HTTP requests being answered.",
		}),
		auditFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "rainflow", Subsystem: "api", Name: "audit_failures_total",
			Help: "Change requests whose audit event could not be recorded (each is also logged as an error).",
		}),
	}
	m.tails = register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "rainflow", Subsystem: "api", Name: "log_tails",
		Help: "Log tails (websockets) being relayed from the collector.",
	}))
	m.auditFailures = register(reg, m.auditFailures)
	m.requests = register(reg, m.requests)
	m.duration = register(reg, m.duration)
	m.inFlight = register(reg, m.inFlight)
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var already prometheus.AlreadyRegisteredError
		if errors.As(err, &already) {
			if existing, ok := already.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("register api metrics: " + err.Error()) // a name clash with another collector is a programming error
	}
	return c
}
