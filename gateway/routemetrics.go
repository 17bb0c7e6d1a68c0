package gateway

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// routeStats caches a compiled route's metric children, so a request costs no label lookup. The
// children are made on the route's first request; a new snapshot's route finds the same series.
type routeStats struct {
	p atomic.Pointer[routeMetrics]
}

type routeMetrics struct {
	requests [6]prometheus.Counter // by status class: index 1 to 5 for 1xx to 5xx, 0 for anything else
	duration prometheus.Observer
	errors   prometheus.Counter
}

// get returns the route's metric children, making them on first use.
func (s *routeStats) get(m *metrics, ingress string) *routeMetrics {
	if rm := s.p.Load(); rm != nil {
		return rm
	}
	rm := &routeMetrics{
		duration: m.routeDuration.WithLabelValues(ingress),
		errors:   m.upstreamErrors.WithLabelValues(ingress),
	}
	for i, class := range []string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"} {
		rm.requests[i] = m.routeRequests.WithLabelValues(ingress, class)
	}
	s.p.CompareAndSwap(nil, rm)
	return s.p.Load()
}

// observe counts one answered request.
func (rm *routeMetrics) observe(status int, elapsed time.Duration, upstreamErrors int) {
	class := status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	rm.requests[class].Inc()
	rm.duration.Observe(elapsed.Seconds())
	if upstreamErrors > 0 {
		rm.errors.Add(float64(upstreamErrors))
	}
}

// codeStats caches the children of the process-wide request counter (by code) and duration histogram
// (by class) for each status code, made on the code's first request, so a request costs no label
// lookup (and no strconv allocation) there either.
type codeStats struct {
	codes [500]atomic.Pointer[codeMetrics] // status 100 to 599
}

type codeMetrics struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// get returns status's metric children, making them on first use; a status outside 100-599 is not
// cached.
func (s *codeStats) get(m *metrics, status int) *codeMetrics {
	i := status - 100
	if i >= 0 && i < len(s.codes) {
		if cm := s.codes[i].Load(); cm != nil {
			return cm
		}
	}
	code := strconv.Itoa(status)
	cm := &codeMetrics{requests: m.requests.WithLabelValues(code), duration: m.duration.WithLabelValues(code[:1] + "xx")}
	if i >= 0 && i < len(s.codes) {
		s.codes[i].CompareAndSwap(nil, cm)
	}
	return cm
}

// forgetRoutes drops the per-route series of the Ingresses that route nothing any more, so a deleted
// Ingress does not stay in /metrics until a restart.
func (m *metrics) forgetRoutes(before, after Routes) {
	kept := make(map[string]bool, len(after.HTTP))
	for _, r := range after.HTTP {
		kept[r.Ingress] = true
	}
	for _, r := range before.HTTP {
		if kept[r.Ingress] {
			continue
		}
		kept[r.Ingress] = true // once
		labels := prometheus.Labels{"ingress": r.Ingress}
		m.routeRequests.DeletePartialMatch(labels)
		m.routeDuration.DeletePartialMatch(labels)
		m.upstreamErrors.DeletePartialMatch(labels)
	}
}
