// Package opevents writes an operation's events to the collector: what each activity of its workflow
// run did (started, progressed, succeeded, failed and whether it will be retried), one line each, with
// the tenant, app, component, operation, workflow, run, activity and attempt, so the user follows an
// operation live and reads it back later, the lines of each retry told apart.
//
// The events are a view for people. An operation's state is never decided from them: it is the
// workflow's, read from Temporal. So a step never waits on the collector for long: Emit queues the line
// and returns, one goroutine sends batches in the background, and when the collector stays away longer
// than the queue lasts the oldest lines are dropped and counted.
package opevents

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rainflow/rainflow/collector/client"
)

// Line is the collector's log line.
type Line = client.Line

// Sender stores lines durably (the collector client).
type Sender interface {
	Send(ctx context.Context, lines []Line) error
}

// Defaults of Emitter.
const (
	DefaultQueueLines    = 16384
	DefaultFlushInterval = 100 * time.Millisecond
	DefaultBatchLines    = 512
)

// Emitter queues lines and sends them in the background, in order.
type Emitter struct {
	sender Sender
	ctx    context.Context
	logger *slog.Logger
	flush  time.Duration
	batch  int

	mu      sync.Mutex
	queue   []Line
	base    uint64 // the sequence number of queue[0]
	max     int
	wake    chan struct{} // capacity 1
	closing chan struct{}
	done    chan struct{}
	once    sync.Once

	dropped atomic.Uint64
	sent    atomic.Uint64
}

// EmitterOptions tune an Emitter; zero fields take the defaults.
type EmitterOptions struct {
	// QueueLines bounds the lines waiting to be sent; past it the oldest are dropped and counted.
	QueueLines int
	// FlushInterval is how long a line may wait for others to share its request.
	FlushInterval time.Duration
	// BatchLines sends at once when this many lines wait.
	BatchLines int
}

// NewEmitter starts an emitter sending to s; Close stops it (ctx only carries values to the sends:
// its end does not stop them). A nil logger discards logs.
func NewEmitter(ctx context.Context, s Sender, opts EmitterOptions, logger *slog.Logger) *Emitter {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &Emitter{
		sender: s, logger: logger,
		flush: orDuration(opts.FlushInterval, DefaultFlushInterval),
		batch: orInt(opts.BatchLines, DefaultBatchLines),
		max:   orInt(opts.QueueLines, DefaultQueueLines),
		wake:  make(chan struct{}, 1), closing: make(chan struct{}), done: make(chan struct{}),
		ctx: context.WithoutCancel(ctx),
	}
	go e.run()
	return e
}

// Emit queues a line. It never blocks on the collector.
func (e *Emitter) Emit(l Line) {
	if l.Time.IsZero() {
		l.Time = time.Now()
	}
	e.mu.Lock()
	if len(e.queue) >= e.max {
		drop := len(e.queue) - e.max + 1
		e.queue = e.queue[drop:]
		e.base += uint64(drop)
		e.dropped.Add(uint64(drop))
	}
	e.queue = append(e.queue, l)
	full := len(e.queue) >= e.batch
	e.mu.Unlock()
	if full {
		e.signal()
	}
}

// Dropped is the number of lines dropped because the queue was full.
func (e *Emitter) Dropped() uint64 { return e.dropped.Load() }

// Sent is the number of lines the collector stored.
func (e *Emitter) Sent() uint64 { return e.sent.Load() }

// Close sends what is queued, for as long as ctx allows, and stops the emitter.
func (e *Emitter) Close(ctx context.Context) error {
	e.once.Do(func() { close(e.closing) })
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *Emitter) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// run sends a batch whenever lines have waited FlushInterval or a batch is full, until Close; then it
// sends what is left (each send bounded by the sender's own wait).
func (e *Emitter) run() {
	defer close(e.done)
	tick := time.NewTicker(e.flush)
	defer tick.Stop()
	for {
		closing := false
		select {
		case <-tick.C:
		case <-e.wake:
		case <-e.closing:
			closing = true
		}
		for e.sendOnce() && !closing {
		}
		if closing {
			for e.sendOnce() {
			}
			return
		}
	}
}

// sendOnce sends up to one batch of the queue's head and reports whether it sent a full batch (more may
// wait). A failed send keeps the lines at the head of the queue for the next round.
func (e *Emitter) sendOnce() bool {
	e.mu.Lock()
	n := min(len(e.queue), e.batch)
	if n == 0 {
		e.mu.Unlock()
		return false
	}
	lines := make([]Line, n)
	copy(lines, e.queue[:n])
	first := e.base
	e.mu.Unlock()

	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	err := e.sender.Send(ctx, lines)
	cancel()
	if err != nil {
		e.logger.Warn("send operation events to the collector", "lines", n, "err", err)
		return false
	}
	e.sent.Add(uint64(n))
	e.mu.Lock()
	// Lines dropped while the send ran were taken from the head, where ours were: remove what is left
	// of ours.
	if end := first + uint64(n); end > e.base {
		gone := min(int(end-e.base), len(e.queue))
		e.queue = e.queue[gone:]
		e.base += uint64(gone)
	}
	if len(e.queue) == 0 {
		e.queue = nil
	}
	e.mu.Unlock()
	return n == e.batch
}

func orDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func orInt(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}
