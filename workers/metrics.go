package workers

import (
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.temporal.io/sdk/client"
)

// TimerBuckets are the histogram buckets, in seconds, of the SDK's timers: from a millisecond (a
// request to the frontend) to an hour (a workflow's end-to-end latency).
var TimerBuckets = []float64{
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
}

// MetricsHandler is the Temporal SDK's metrics handler (client.Options.MetricsHandler) over
// client_golang. The SDK's names are made valid Prometheus names and follow the Prometheus naming
// conventions that Temporal's Grafana dashboards expect: a counter gets the suffix _total, a timer is
// a histogram in seconds with the suffix _seconds (temporal_request_latency_seconds), a gauge keeps its
// name. Tags become labels. The SDK uses one metric name with different tag sets (with or without
// workflow_type, say), while Prometheus wants one label set per name: a metric's labels are the union
// of the tags it was seen with, a tag a series lacks is the empty label, and a tag set to "" is the
// same as no tag. A name the SDK uses for two kinds of metric (a counter and a gauge) keeps the kind
// it was first used as; the other is dropped.
type MetricsHandler struct {
	set  *metricSet
	tags map[string]string // label name → value, never ""
	key  string            // the tags in a canonical form: the key of the handler's series in a family
}

var _ client.MetricsHandler = (*MetricsHandler)(nil)

// NewMetricsHandler returns a handler whose metrics reg collects.
func NewMetricsHandler(reg prometheus.Registerer) (*MetricsHandler, error) {
	set := &metricSet{families: map[string]*family{}, bySDK: map[sdkMetric]*family{}}
	if err := reg.Register(set); err != nil {
		return nil, err
	}
	return &MetricsHandler{set: set, tags: map[string]string{}}, nil
}

// WithTags returns a handler whose metrics carry h's tags and tags; tags wins on a key both have.
func (h *MetricsHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(h.tags)
	// two keys that sanitize to one label name: the last in order wins, every time
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		label := labelName(k)
		if v := tags[k]; v != "" {
			merged[label] = v
		} else {
			delete(merged, label)
		}
	}
	return &MetricsHandler{set: h.set, tags: merged, key: seriesKey(merged)}
}

// Counter answers the counter name with h's tags.
func (h *MetricsHandler) Counter(name string) client.MetricsCounter {
	if c, ok := h.set.metric(kindCounter, name, h).(prometheus.Counter); ok {
		return counter{c}
	}
	return client.MetricsNopHandler.Counter(name)
}

// Gauge answers the gauge name with h's tags.
func (h *MetricsHandler) Gauge(name string) client.MetricsGauge {
	if g, ok := h.set.metric(kindGauge, name, h).(prometheus.Gauge); ok {
		return gauge{g}
	}
	return client.MetricsNopHandler.Gauge(name)
}

// Timer answers the timer name with h's tags: a histogram in seconds.
func (h *MetricsHandler) Timer(name string) client.MetricsTimer {
	if o, ok := h.set.metric(kindTimer, name, h).(prometheus.Histogram); ok {
		return timer{o}
	}
	return client.MetricsNopHandler.Timer(name)
}

type counter struct{ c prometheus.Counter }

// Inc adds d; a counter never goes down, so a negative d is ignored.
func (c counter) Inc(d int64) {
	if d > 0 {
		c.c.Add(float64(d))
	}
}

type gauge struct{ g prometheus.Gauge }

func (g gauge) Update(v float64) { g.g.Set(v) }

type timer struct{ h prometheus.Histogram }

func (t timer) Record(d time.Duration) { t.h.Observe(d.Seconds()) }

type metricKind int

const (
	kindCounter metricKind = iota
	kindGauge
	kindTimer
)

// sdkMetric is a metric as the SDK names it.
type sdkMetric struct {
	kind metricKind
	name string
}

// metricSet holds every series the SDK made, and is the prometheus.Collector that exposes them. It
// is an unchecked collector (it describes nothing up front): the SDK's names are known only once used.
type metricSet struct {
	mu       sync.RWMutex
	families map[string]*family    // by Prometheus name
	bySDK    map[sdkMetric]*family // nil for a metric dropped because its name has another kind
}

// family is one Prometheus metric: its series, each with the labels it was made with.
type family struct {
	name, help string
	kind       metricKind
	labels     []string           // the union of its series' label names, sorted
	series     map[string]*series // by MetricsHandler.key
}

type series struct {
	labels map[string]string
	value  prometheus.Metric // a Counter, Gauge or Histogram that holds the value; never registered
}

// metric answers the value of the SDK's metric name of kind with h's tags, made on first use, or nil
// when its Prometheus name is already a metric of another kind.
func (s *metricSet) metric(kind metricKind, name string, h *MetricsHandler) prometheus.Metric {
	id := sdkMetric{kind, name}
	s.mu.RLock()
	f, seen := s.bySDK[id]
	if seen && f == nil {
		s.mu.RUnlock()
		return nil
	}
	if seen {
		if se := f.series[h.key]; se != nil {
			s.mu.RUnlock()
			return se.value
		}
	}
	s.mu.RUnlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	f, seen = s.bySDK[id]
	if !seen {
		f = s.family(kind, name)
		s.bySDK[id] = f
	}
	if f == nil {
		return nil
	}
	if se := f.series[h.key]; se != nil {
		return se.value
	}
	se := &series{labels: h.tags, value: newValue(kind, f.name, f.help)}
	f.series[h.key] = se
	for l := range h.tags {
		if i, found := slices.BinarySearch(f.labels, l); !found {
			f.labels = slices.Insert(f.labels, i, l)
		}
	}
	return se.value
}

// family answers the family of the SDK's metric name of kind, made on first use, or nil when its
// Prometheus name is a metric of another kind. The caller holds s.mu.
func (s *metricSet) family(kind metricKind, name string) *family {
	var promName string
	switch kind {
	case kindCounter:
		promName = withSuffix(metricName(name), "_total")
	case kindTimer:
		promName = withSuffix(metricName(name), "_seconds")
	default:
		promName = metricName(name)
	}
	f := s.families[promName]
	if f == nil {
		f = &family{name: promName, help: "Temporal SDK metric " + name + ".", kind: kind, series: map[string]*series{}}
		s.families[promName] = f
	}
	if f.kind != kind {
		return nil
	}
	return f
}

func newValue(kind metricKind, name, help string) prometheus.Metric {
	switch kind {
	case kindCounter:
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	case kindGauge:
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	default:
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: TimerBuckets})
	}
}

// Describe describes nothing: the set is an unchecked collector.
func (s *metricSet) Describe(chan<- *prometheus.Desc) {}

// Collect sends every series, with its family's whole label set.
func (s *metricSet) Collect(ch chan<- prometheus.Metric) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, f := range s.families {
		desc := prometheus.NewDesc(f.name, f.help, f.labels, nil)
		for _, se := range f.series {
			values := make([]string, len(f.labels))
			for i, l := range f.labels {
				values[i] = se.labels[l]
			}
			m, err := constMetric(f.kind, desc, se.value, values)
			if err != nil {
				m = prometheus.NewInvalidMetric(desc, err)
			}
			ch <- m
		}
	}
}

// constMetric is a snapshot of value under desc's labels.
func constMetric(kind metricKind, desc *prometheus.Desc, value prometheus.Metric, labelValues []string) (prometheus.Metric, error) {
	var m dto.Metric
	if err := value.Write(&m); err != nil {
		return nil, err
	}
	switch kind {
	case kindCounter:
		return prometheus.NewConstMetric(desc, prometheus.CounterValue, m.GetCounter().GetValue(), labelValues...)
	case kindGauge:
		return prometheus.NewConstMetric(desc, prometheus.GaugeValue, m.GetGauge().GetValue(), labelValues...)
	default:
		h := m.GetHistogram()
		buckets := make(map[float64]uint64, len(h.GetBucket()))
		for _, b := range h.GetBucket() {
			if !math.IsInf(b.GetUpperBound(), 1) {
				buckets[b.GetUpperBound()] = b.GetCumulativeCount()
			}
		}
		return prometheus.NewConstHistogram(desc, h.GetSampleCount(), h.GetSampleSum(), buckets, labelValues...)
	}
}

// seriesKey is tags in a canonical form.
func seriesKey(tags map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(tags[k])
		b.WriteByte(0)
	}
	return b.String()
}

func withSuffix(name, suffix string) string {
	if strings.HasSuffix(name, suffix) {
		return name
	}
	return name + suffix
}

// metricName makes name a valid Prometheus metric name: [a-zA-Z_:][a-zA-Z0-9_:]*, every other
// character replaced by _.
func metricName(name string) string {
	return sanitize(name, true)
}

// labelName makes name a valid Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*, not starting with __
// (reserved) and not le (a histogram's bucket label).
func labelName(name string) string {
	n := sanitize(name, false)
	if strings.HasPrefix(n, "__") {
		n = "tag" + n[1:]
	}
	if n == "le" {
		n = "tag_le"
	}
	return n
}

func sanitize(name string, colons bool) string {
	var b strings.Builder
	for i, c := range name {
		switch {
		case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || colons && c == ':':
			b.WriteRune(c)
		case '0' <= c && c <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}
