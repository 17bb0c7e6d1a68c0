package collector

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"
)

// batch is one ingest request waiting for its commit: its records grouped by stream, in request order.
type batch struct {
	groups []*group
	bytes  int
	lines  int
	done   chan error // capacity 1
	// buffers, when set, is where the groups' records came from and go back to once committed or failed.
	buffers *recordBuffers
}

// group is the part of a batch that goes to one stream: its records, and either the lines they encode
// or (ingest's own batches, which keep only records) how many there are.
type group struct {
	key     StreamKey
	records []byte
	lines   []Line
	count   int // lines in records when lines is nil
}

// size is how many lines the group has.
func (g *group) size() int {
	if g.lines != nil {
		return len(g.lines)
	}
	return g.count
}

// decoded returns the group's lines, decoding them from its records when it kept none.
func (g *group) decoded() ([]Line, error) {
	if g.lines != nil || g.count == 0 {
		return g.lines, nil
	}
	return decodeRecords(g.records, g.count)
}

// CommitListener is told about every committed group of lines, in commit order, after they are durable
// and acknowledged. It is the seam of the live tail: it runs on the committer's sync goroutine, before
// the next commit's acknowledgement, so it must not block (bounded per-subscriber buffers, non-blocking
// sends, drops counted).
type CommitListener func(key StreamKey, lines []Line)

// errClosed answers requests that arrive once the committer has stopped.
var errClosed = errors.New("collector is shutting down")

// committer writes and fsyncs in a pipeline of two goroutines. The writer (run) appends each batch's
// records to its streams' active segments as the batch arrives, into the open cycle; the syncer fsyncs
// one cycle at a time (each touched file and directory once), then publishes the streams' new committed
// ends, acknowledges the cycle's batches and tells the live tails. While cycle N is being fsync'd, cycle
// N+1 gathers and writes; N+1 goes to the syncer once N is done and at least SyncInterval after N went,
// and stops taking batches at MaxBatchBytes. Cycles are acknowledged in order.
//
// A request is written whole or not at all: a failed write truncates its streams back to where the
// request started and fails it alone; a failed fsync of cycle N fails N and the open cycle N+1 (written
// behind it) and truncates every stream they touched back to where N started. A stream that must be
// reopened or roll to a new segment waits until nothing is in flight (a file is never closed under an
// fsync, and a sealed segment is durable before it is compressed).
type committer struct {
	store        *store
	interval     time.Duration
	maxBytes     int
	segmentBytes int64
	idleClose    time.Duration
	listener     CommitListener
	logger       *slog.Logger
	syncFile     func(*os.File) error // (*os.File).Sync; a seam for tests
	hub          *hub                 // the live tails, told about every committed group
	metrics      *metrics
	sealed       func(StreamKey) // told (without waiting) when a stream sealed a segment, to compress it

	queue   chan *batch
	stop    chan struct{}
	stopped chan struct{}

	// The writer's side of the pipeline (run's goroutine only).
	open     *cycle      // written, not yet handed to the syncer
	inflight *cycle      // with the syncer
	toSync   chan *cycle // writer → syncer
	synced   chan error  // syncer → writer: the result of inflight
	lastSent time.Time   // when the last cycle went to the syncer

	buffers recordBuffers // ingest's record buffers, recycled
}

func newCommitter(st *store, cfg Config, listener CommitListener, logger *slog.Logger) *committer {
	return &committer{
		store: st, interval: cfg.SyncInterval, maxBytes: cfg.MaxBatchBytes, segmentBytes: cfg.SegmentBytes,
		idleClose: cfg.IdleClose, listener: listener, logger: logger,
		syncFile: (*os.File).Sync,
		queue:    make(chan *batch, 1024),
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
		toSync:   make(chan *cycle, 1),
		synced:   make(chan error, 1),
	}
}

// submit hands a batch to the committer and waits until it is durable, failed, or ctx is done. When ctx
// ends first the batch may still be committed: ingest is at-least-once.
func (c *committer) submit(ctx context.Context, b *batch) error {
	b.done = make(chan error, 1)
	select {
	case c.queue <- b:
	case <-c.stopped:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-b.done:
		return err
	case <-c.stopped:
		select {
		case err := <-b.done:
			return err
		default:
			return errClosed
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run writes until shutdown is called; batches already queued then are committed before it returns.
func (c *committer) run() {
	defer close(c.stopped)
	go c.syncLoop()
	defer close(c.toSync)
	idle := time.NewTicker(max(c.idleClose/4, time.Second))
	defer idle.Stop()
	send := time.NewTimer(0)
	defer send.Stop()
	stopping := false
	for {
		// Hand the open cycle to the syncer once it is free and the interval since the last one is over.
		var sendC <-chan time.Time
		if c.open != nil && c.inflight == nil {
			wait := c.interval - time.Since(c.lastSent)
			if wait <= 0 || stopping {
				c.send()
				continue
			}
			send.Reset(wait)
			sendC = send.C
		}
		queue := c.queue
		if c.open != nil && c.open.bytes >= c.maxBytes {
			queue = nil // a full cycle takes no more until it is sent
		}
		if stopping && c.open == nil && c.inflight == nil && len(c.queue) == 0 {
			return
		}
		stop := c.stop
		if stopping {
			stop = nil
		}
		select {
		case b := <-queue:
			c.add(b)
		case <-sendC:
			c.send()
		case err := <-c.synced:
			c.finish(err)
		case <-idle.C:
			if c.open == nil && c.inflight == nil {
				c.store.closeIdle(time.Now().Add(-c.idleClose))
			}
		case <-stop:
			stopping = true
		}
		send.Stop() // no stale tick after Stop (Go 1.23 timers)
	}
}

// shutdown stops the committer after it has committed what is queued.
func (c *committer) shutdown() {
	close(c.stop)
	<-c.stopped
}

// published counts a committed cycle and hands its groups to the live tails and the listener, each with
// the stream position after it.
func (c *committer) published(cy *cycle) {
	if c.metrics != nil {
		c.metrics.commitRequests.Observe(float64(len(cy.batches)))
		c.metrics.commitLines.Observe(float64(cy.lines))
	}
	for _, p := range cy.order {
		end := position{segment: p.index, offset: p.start}
		for _, g := range p.groups {
			end.offset += int64(len(g.records))
			if c.metrics != nil {
				c.metrics.in(g.key.Kind, g.size(), len(g.records))
			}
			// Lines are decoded again only for a listener or a live tail. A tail that subscribes after
			// this check reads the group from disk: the stream's committed view already has it.
			if c.listener == nil && (c.hub == nil || !c.hub.has(g.key)) {
				continue
			}
			lines, err := g.decoded()
			if err != nil {
				c.logger.Error("decode committed lines for the live tail", "stream", g.key.String(), "err", err)
				continue
			}
			if c.listener != nil {
				c.listener(g.key, lines)
			}
			if c.hub != nil {
				c.hub.publish(g.key, tailGroup{end: end, lines: lines, msg: &sharedMessage{}})
			}
		}
	}
}

// runLimited runs jobs with at most n at a time and joins their errors.
func runLimited(jobs []func() error, n int) error {
	if len(jobs) == 1 {
		return jobs[0]()
	}
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i, job := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = job()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
