package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rainflow/rainflow/collector"
	"github.com/rainflow/rainflow/collector/client"
	"github.com/rainflow/rainflow/contract"
)

// AccessLogConfig says where access log lines go besides the process's log (stdout). Zero fields take
// their defaults.
type AccessLogConfig struct {
	// CollectorURL is the collector (http://host:port) that receives the access lines of the routes
	// that belong to a component (their Ingress, or the Service they route to, carries the
	// rainflow.io/tenant, app and component labels) as the component's access stream. Empty: none.
	CollectorURL string
	// QueueSize bounds the lines waiting to be sent. A request never waits for the collector: when the
	// queue is full its line is dropped and counted (rainflow_gateway_access_log_dropped_total). The
	// queue is allocated at start, about 250 bytes a line. Default 10000.
	QueueSize int
	// BatchInterval is how often the waiting lines are sent; BatchLines of them go at once. Defaults
	// 200ms and 1000.
	BatchInterval time.Duration
	BatchLines    int
}

// Defaults of AccessLogConfig.
const (
	DefaultAccessLogQueueSize     = 10000
	DefaultAccessLogBatchInterval = 200 * time.Millisecond
	DefaultAccessLogBatchLines    = 1000
)

// accessDropWarnEvery is how often a warning reports the lines dropped since the previous one.
const accessDropWarnEvery = 10 * time.Second

// accessFlushTimeout bounds the last send when the gateway stops.
const accessFlushTimeout = 3 * time.Second

func (c AccessLogConfig) withDefaults() AccessLogConfig {
	if c.QueueSize == 0 {
		c.QueueSize = DefaultAccessLogQueueSize
	}
	if c.BatchInterval == 0 {
		c.BatchInterval = DefaultAccessLogBatchInterval
	}
	if c.BatchLines == 0 {
		c.BatchLines = DefaultAccessLogBatchLines
	}
	return c
}

// Validate says what is wrong with the config, after defaults are applied.
func (c AccessLogConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.CollectorURL != "" {
		if u, err := url.Parse(c.CollectorURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("gateway access log collector URL %q is not an http(s)://host:port URL", c.CollectorURL))
		}
	}
	if c.QueueSize < 0 {
		errs = append(errs, fmt.Errorf("gateway access log queue size %d is negative", c.QueueSize))
	}
	if c.BatchInterval < 0 {
		errs = append(errs, fmt.Errorf("gateway access log batch interval %s is negative", c.BatchInterval))
	}
	if c.BatchLines < 0 {
		errs = append(errs, fmt.Errorf("gateway access log batch lines %d is negative", c.BatchLines))
	}
	return errors.Join(errs...)
}

// newAccessLog is the access log: the process's log (with log=access) and, when cfg names a
// collector, the collector's access streams. Its collector side is nil without one.
func newAccessLog(cfg AccessLogConfig, logger *slog.Logger, m *metrics) (*accessLog, *accessCollector) {
	a := &accessLog{logger: logger.With("log", "access")}
	if cfg.CollectorURL != "" {
		a.collector = newAccessCollector(cfg, logger.With("log", "access-collector"), m)
	}
	return a, a.collector
}

// accessCollector queues the access lines of the routes that belong to a component, for that
// component's access stream, and sends them from one goroutine, in batches (accesslog_send.go).
// Queueing a line never blocks and allocates nothing: the queue is a bounded ring and a line that does
// not fit is dropped and counted.
type accessCollector struct {
	cfg       AccessLogConfig
	client    *client.Client
	logger    *slog.Logger
	metrics   *metrics
	queueFull prometheus.Counter // metrics.accessDropped{reason="queue-full"}
	queue     *accessQueue
	wake      chan struct{} // a batch of BatchLines is waiting
	owners    atomic.Pointer[accessOwners]

	droppedFull atomic.Int64 // lines dropped on a full queue since the last warning

	// The sender's (run's goroutine).
	droppedSend int64                 // lines of failed sends since the last warning
	lastErr     error                 // the last send error since the last warning
	enc         collector.LineEncoder // encodes the batches
	body        []byte                // the batch being sent, NDJSON, reused
}

// accessOwners are the components of the watched objects, by namespace/name.
type accessOwners struct {
	ingresses map[string]accessOwner
	services  map[string]accessOwner
}

// accessOwner is the stream an access line goes to.
type accessOwner struct{ tenant, app, component string }

func newAccessCollector(cfg AccessLogConfig, logger *slog.Logger, m *metrics) *accessCollector {
	cfg = cfg.withDefaults()
	return &accessCollector{
		cfg: cfg, client: &client.Client{BaseURL: cfg.CollectorURL}, logger: logger, metrics: m,
		queueFull: m.accessDropped.WithLabelValues("queue-full"),
		queue:     newAccessQueue(cfg.QueueSize), wake: make(chan struct{}, 1),
	}
}

// update reads the components of the watched Ingresses and Services; the publisher calls it on every
// rebuild. It does nothing on a nil collector (no CollectorURL).
func (c *accessCollector) update(objs Objects) {
	if c == nil {
		return
	}
	o := &accessOwners{ingresses: make(map[string]accessOwner), services: make(map[string]accessOwner)}
	for _, ing := range objs.Ingresses {
		if owner, ok := ownerOf(ing.Labels); ok {
			o.ingresses[ing.Namespace+"/"+ing.Name] = owner
		}
	}
	for _, svc := range objs.Services {
		if owner, ok := ownerOf(svc.Labels); ok {
			o.services[svc.Namespace+"/"+svc.Name] = owner
		}
	}
	c.owners.Store(o)
}

// ownerOf is the component named by rainflow's labels, false unless all three are set.
func ownerOf(labels map[string]string) (accessOwner, bool) {
	o := accessOwner{tenant: labels[contract.LabelTenant], app: labels[contract.LabelApp], component: labels[contract.LabelComponent]}
	return o, o.tenant != "" && o.app != "" && o.component != ""
}

// owner is the component of a request's route: its Ingress's, else its backend Service's.
func (c *accessCollector) owner(ingress, backend string) (accessOwner, bool) {
	o := c.owners.Load()
	if o == nil {
		return accessOwner{}, false
	}
	if owner, ok := o.ingresses[ingress]; ok && ingress != "" {
		return owner, true
	}
	if i := strings.LastIndexByte(backend, ':'); i > 0 { // Backend.Key: namespace/name:port
		owner, ok := o.services[backend[:i]]
		return owner, ok
	}
	return accessOwner{}, false
}

// add queues the line of a request whose route belongs to a component, or drops and counts it when
// the queue is full. It wakes the sender when a whole batch is waiting.
func (c *accessCollector) add(ex *exchange, e *accessEntry, status int, elapsed time.Duration, end time.Time) {
	owner, ok := c.owner(ex.ingress, ex.backend)
	if !ok {
		return
	}
	waiting, ok := c.queue.put(owner, ex, e, status, elapsed, end)
	switch {
	case !ok:
		c.droppedFull.Add(1)
		c.queueFull.Inc()
	case waiting == c.cfg.BatchLines:
		select {
		case c.wake <- struct{}{}:
		default: // already woken
		}
	}
}

// start runs the sender until the returned stop is called, not when ctx ends, so the lines of the
// requests served during a shutdown are sent too. stop sends what is queued and returns when the
// sender is done: within accessFlushTimeout, after which a send in progress is abandoned. On a nil
// collector both do nothing.
func (c *accessCollector) start(ctx context.Context) (stop func()) {
	if c == nil {
		return func() {}
	}
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	stopping := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { c.run(sendCtx, stopping) })
	return func() {
		close(stopping)
		abandon := time.AfterFunc(accessFlushTimeout, cancelSends)
		wg.Wait()
		abandon.Stop()
		cancelSends()
	}
}
