package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	// queue is full its line is dropped and counted (rainflow_gateway_access_log_dropped_total).
	// Default 10000.
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

// newAccessLog is the access log's logger: the process's log (with log=access) and, when cfg names a
// collector, the collector's access streams. The collector side is nil without one.
func newAccessLog(cfg AccessLogConfig, logger *slog.Logger, m *metrics) (*slog.Logger, *accessCollector) {
	if cfg.CollectorURL == "" {
		return logger.With("log", "access"), nil
	}
	c := newAccessCollector(cfg, logger.With("log", "access-collector"), m)
	return slog.New(accessTee{out: logger.Handler(), collector: c}).With("log", "access"), c
}

// accessTee hands every access record to the process's log handler and to the collector side.
type accessTee struct {
	out       slog.Handler
	collector *accessCollector
}

func (h accessTee) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelInfo || h.out.Enabled(ctx, level)
}

// Handle gives the record to the collector side first: it only reads it, so the record needs no clone.
func (h accessTee) Handle(ctx context.Context, r slog.Record) error {
	h.collector.add(r)
	if !h.out.Enabled(ctx, r.Level) {
		return nil
	}
	return h.out.Handle(ctx, r)
}

func (h accessTee) WithAttrs(attrs []slog.Attr) slog.Handler {
	return accessTee{out: h.out.WithAttrs(attrs), collector: h.collector}
}

func (h accessTee) WithGroup(name string) slog.Handler {
	return accessTee{out: h.out.WithGroup(name), collector: h.collector}
}

// accessCollector turns access records into collector lines of the component a route belongs to and
// sends them from one goroutine, in batches. Adding a line never blocks: the queue is bounded and a
// line that does not fit is dropped and counted.
type accessCollector struct {
	cfg     AccessLogConfig
	client  *client.Client
	logger  *slog.Logger
	metrics *metrics
	queue   chan collector.Line
	owners  atomic.Pointer[accessOwners]

	droppedFull atomic.Int64 // lines dropped on a full queue since the last warning
	droppedSend int64        // lines of failed sends since the last warning; the run goroutine's
	lastErr     error        // the last send error since the last warning; the run goroutine's
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
		queue: make(chan collector.Line, cfg.QueueSize),
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

// add queues the line of an access record whose route belongs to a component, or drops and counts it
// when the queue is full.
func (c *accessCollector) add(r slog.Record) {
	var e accessRecord
	r.Attrs(e.read)
	owner, ok := c.owner(e.ingress, e.backend)
	if !ok {
		return
	}
	line := collector.Line{Time: r.Time, Tenant: owner.tenant, App: owner.app, Component: owner.component,
		Kind: collector.KindAccess, Level: accessLevel(e.status), Message: e.message()}
	select {
	case c.queue <- line:
	default:
		c.droppedFull.Add(1)
		c.metrics.accessDropped.WithLabelValues("queue-full").Inc()
	}
}

// accessLevel is a line's level by its status: 5xx error, 4xx warn.
func accessLevel(status int64) string {
	switch {
	case status >= 500:
		return collector.LevelError
	case status >= 400:
		return collector.LevelWarn
	}
	return collector.LevelInfo
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

// run sends the queued lines every BatchInterval, or as soon as BatchLines are waiting, until stopping
// is closed; then it sends what is left. Its sends end with ctx.
func (c *accessCollector) run(ctx context.Context, stopping <-chan struct{}) {
	tick := time.NewTicker(c.cfg.BatchInterval)
	defer tick.Stop()
	warn := time.NewTicker(accessDropWarnEvery)
	defer warn.Stop()
	batch := make([]collector.Line, 0, c.cfg.BatchLines)
	for {
		select {
		case l := <-c.queue:
			if batch = append(batch, l); len(batch) >= c.cfg.BatchLines {
				batch = c.send(ctx, batch)
			}
		case <-tick.C:
			batch = c.send(ctx, batch)
		case <-warn.C:
			c.warnDropped()
		case <-stopping:
		drain:
			for {
				select {
				case l := <-c.queue:
					batch = append(batch, l)
				default:
					break drain
				}
			}
			c.send(ctx, batch)
			c.warnDropped()
			return
		}
	}
}

// send sends a batch and returns it emptied; the lines of a failed send are dropped and counted.
func (c *accessCollector) send(ctx context.Context, batch []collector.Line) []collector.Line {
	if len(batch) == 0 {
		return batch
	}
	if err := c.client.Send(ctx, batch); err != nil {
		c.droppedSend += int64(len(batch))
		c.lastErr = err
		c.metrics.accessDropped.WithLabelValues("send-failed").Add(float64(len(batch)))
	} else {
		c.metrics.accessSent.Add(float64(len(batch)))
	}
	clear(batch)
	return batch[:0]
}

// warnDropped logs the lines dropped since the previous warning, if any.
func (c *accessCollector) warnDropped() {
	full := c.droppedFull.Swap(0)
	if full == 0 && c.droppedSend == 0 {
		return
	}
	c.logger.Warn("access log lines dropped", "queue_full", full, "send_failed", c.droppedSend,
		"queue_size", c.cfg.QueueSize, "collector", c.cfg.CollectorURL, "last_err", c.lastErr)
	c.droppedSend, c.lastErr = 0, nil
}

// accessRecord is what an access line says, read back from the record logAccess writes.
type accessRecord struct {
	requestID, method, host, path, remote, ingress, backend, upstream string
	status, bytes                                                     int64
	duration                                                          time.Duration
}

func (e *accessRecord) read(a slog.Attr) bool {
	switch a.Key {
	case accessKeyRequestID:
		e.requestID = a.Value.String()
	case accessKeyMethod:
		e.method = a.Value.String()
	case accessKeyHost:
		e.host = a.Value.String()
	case accessKeyPath:
		e.path = a.Value.String()
	case accessKeyStatus:
		e.status = a.Value.Int64()
	case accessKeyBytes:
		e.bytes = a.Value.Int64()
	case accessKeyDuration:
		e.duration = a.Value.Duration()
	case accessKeyRemote:
		e.remote = a.Value.String()
	case accessKeyIngress:
		e.ingress = a.Value.String()
	case accessKeyBackend:
		e.backend = a.Value.String()
	case accessKeyUpstream:
		e.upstream = a.Value.String()
	}
	return true
}

// message is the line a user reads, e.g.
// "GET shop.example.com/cart 200 512B 1.234ms request_id=9f3c remote=10.0.0.9:51234 upstream=10.1.0.7:8080".
func (e *accessRecord) message() string {
	b := make([]byte, 0, 160)
	b = append(b, e.method...)
	b = append(b, ' ')
	b = append(b, e.host...)
	b = append(b, e.path...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.status, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.bytes, 10)
	b = append(b, "B "...)
	b = append(b, e.duration.Round(time.Microsecond).String()...)
	b = append(b, " request_id="...)
	b = append(b, orDash(e.requestID)...)
	b = append(b, " remote="...)
	b = append(b, orDash(e.remote)...)
	b = append(b, " upstream="...)
	b = append(b, orDash(e.upstream)...)
	return string(b)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
