package collector

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// How lines leave the collector, the "via" label of the out metrics.
const (
	viaRead = "read"
	viaTail = "tail"
)

// metrics are the collector's Prometheus collectors, on a registry of its own (GET /metrics).
type metrics struct {
	reg *prometheus.Registry

	linesIn, bytesIn   *prometheus.CounterVec // by kind
	linesOut, bytesOut *prometheus.CounterVec // by kind and via
	fsync              prometheus.Histogram
	commitLines        prometheus.Histogram
	commitRequests     prometheus.Histogram
	tails              prometheus.Gauge
	dropped            prometheus.Counter
	removedSegments    *prometheus.CounterVec // by kind and reason
	removedBytes       *prometheus.CounterVec // by kind and reason
	compressed         prometheus.Counter
}

func newMetrics() *metrics {
	const ns, sub = "rainflow", "collector"
	m := &metrics{
		reg: prometheus.NewRegistry(),
		linesIn: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "lines_in_total",
			Help: "Lines acknowledged (written and fsync'd), by stream kind."}, []string{"kind"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "bytes_in_total",
			Help: "Bytes of records acknowledged, by stream kind."}, []string{"kind"}),
		linesOut: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "lines_out_total",
			Help: "Lines sent to readers, by stream kind and via (read: paginated reads, tail: live tails)."}, []string{"kind", "via"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "bytes_out_total",
			Help: "Bytes of JSON sent to readers, by stream kind and via."}, []string{"kind", "via"}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "fsync_seconds",
			Help:    "Time of one fsync of a segment file.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		commitLines: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "commit_lines",
			Help:    "Lines written by one group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10)}),
		commitRequests: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "commit_requests",
			Help:    "Ingest requests acknowledged by one group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11)}),
		tails: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "tail_subscribers",
			Help: "Live tails (websockets) open."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "tail_dropped_lines_total",
			Help: "Lines not sent to live tails whose reader did not keep up (each reader is told in its stream)."}),
		removedSegments: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "retention_removed_segments_total",
			Help: "Sealed segments removed by retention, by stream kind and reason (age, size)."}, []string{"kind", "reason"}),
		removedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "retention_removed_bytes_total",
			Help: "Bytes on disk of the segments removed by retention, by stream kind and reason."}, []string{"kind", "reason"}),
		compressed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "segments_compressed_total",
			Help: "Sealed segments compressed."}),
	}
	m.reg.MustRegister(m.linesIn, m.bytesIn, m.linesOut, m.bytesOut, m.fsync, m.commitLines, m.commitRequests,
		m.tails, m.dropped, m.removedSegments, m.removedBytes, m.compressed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// in counts committed lines of a stream kind.
func (m *metrics) in(kind Kind, lines, bytes int) {
	m.linesIn.WithLabelValues(string(kind)).Add(float64(lines))
	m.bytesIn.WithLabelValues(string(kind)).Add(float64(bytes))
}

// out counts lines sent to a reader.
func (m *metrics) out(kind Kind, via string, lines, bytes int) {
	m.linesOut.WithLabelValues(string(kind), via).Add(float64(lines))
	m.bytesOut.WithLabelValues(string(kind), via).Add(float64(bytes))
}

// removed counts a segment removed by retention.
func (m *metrics) removed(kind Kind, reason string, bytes int64) {
	m.removedSegments.WithLabelValues(string(kind), reason).Inc()
	m.removedBytes.WithLabelValues(string(kind), reason).Add(float64(bytes))
}
