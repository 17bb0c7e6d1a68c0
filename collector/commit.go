package collector

import (
	"context"
	"errors"
	"fmt"
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
}

// group is the part of a batch that goes to one stream.
type group struct {
	key     StreamKey
	records []byte
	lines   []Line
}

// CommitListener is told about every committed group of lines, in commit order, after they are durable
// and acknowledged. It is the seam of the live tail (a later issue): it runs on the committer goroutine,
// so it must not block (bounded per-subscriber buffers, non-blocking sends, drops counted).
type CommitListener func(key StreamKey, lines []Line)

// errClosed answers requests that arrive once the committer has stopped.
var errClosed = errors.New("collector is shutting down")

// committer is the one goroutine that writes: it takes every batch waiting (at most one cycle per
// SyncInterval, at most MaxBatchBytes per cycle), appends their records to the streams' active segments
// with one write per stream, fsyncs each touched file and directory once, and then acknowledges them all.
// A failed write or fsync rolls every touched stream back to where the cycle started and fails the
// cycle's batches, so a request is written whole or not at all.
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
}

func newCommitter(st *store, cfg Config, listener CommitListener, logger *slog.Logger) *committer {
	return &committer{
		store: st, interval: cfg.SyncInterval, maxBytes: cfg.MaxBatchBytes, segmentBytes: cfg.SegmentBytes,
		idleClose: cfg.IdleClose, listener: listener, logger: logger,
		syncFile: (*os.File).Sync,
		queue:    make(chan *batch, 1024),
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
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

// run commits until shutdown is called; batches already queued then are committed before it returns.
func (c *committer) run() {
	defer close(c.stopped)
	idle := time.NewTicker(max(c.idleClose/4, time.Second))
	defer idle.Stop()
	gather := time.NewTimer(0)
	defer gather.Stop()
	var last time.Time
	for {
		var first *batch
		select {
		case first = <-c.queue:
		case <-idle.C:
			c.store.closeIdle(time.Now().Add(-c.idleClose))
			continue
		case <-c.stop:
			c.drain()
			return
		}
		batches, size := []*batch{first}, first.bytes
		// Wait out the rest of the interval since the last cycle, gathering what arrives.
		if wait := c.interval - time.Since(last); wait > 0 {
			gather.Reset(wait)
		gathering:
			for size < c.maxBytes {
				select {
				case b := <-c.queue:
					batches, size = append(batches, b), size+b.bytes
				case <-gather.C:
					break gathering
				case <-c.stop:
					break gathering
				}
			}
		}
		// Take whatever else is already waiting.
	draining:
		for size < c.maxBytes {
			select {
			case b := <-c.queue:
				batches, size = append(batches, b), size+b.bytes
			default:
				break draining
			}
		}
		last = time.Now()
		c.commit(batches)
	}
}

// drain commits what is queued at shutdown.
func (c *committer) drain() {
	for {
		var batches []*batch
		size := 0
	taking:
		for size < c.maxBytes {
			select {
			case b := <-c.queue:
				batches, size = append(batches, b), size+b.bytes
			default:
				break taking
			}
		}
		if len(batches) == 0 {
			return
		}
		c.commit(batches)
	}
}

// shutdown stops the committer after it has committed what is queued.
func (c *committer) shutdown() {
	close(c.stop)
	<-c.stopped
}

// pending is one stream touched by a cycle.
type pending struct {
	s       *stream
	start   int64 // active segment length before the cycle's write, for rollback; -1 before it
	records []byte
	groups  []*group
}

// commit writes, fsyncs and acknowledges one cycle's batches.
func (c *committer) commit(batches []*batch) {
	var order []*pending
	touched := make(map[StreamKey]*pending)
	var accepted []*batch
	for _, b := range batches {
		streams := make([]*stream, len(b.groups))
		var err error
		for i, g := range b.groups {
			if streams[i], err = c.store.get(g.key, true); err != nil {
				break
			}
		}
		if err != nil {
			b.done <- err
			continue
		}
		accepted = append(accepted, b)
		for i, g := range b.groups {
			p := touched[g.key]
			if p == nil {
				p = &pending{s: streams[i], start: -1}
				touched[g.key] = p
				order = append(order, p)
			}
			p.groups = append(p.groups, g)
		}
	}
	if len(accepted) == 0 {
		return
	}

	err := c.write(order)
	if err == nil {
		err = c.sync(order)
	}
	if err != nil {
		c.logger.Error("commit failed, rolling back", "streams", len(order), "requests", len(accepted), "err", err)
		c.rollback(order)
		for _, b := range accepted {
			b.done <- err
		}
		return
	}
	for _, p := range order {
		p.s.commit()
	}
	for _, b := range accepted {
		b.done <- nil
	}
	c.published(order, accepted)
}

// published counts a committed cycle and hands its groups to the live tails and the listener, each with
// the stream position after it.
func (c *committer) published(order []*pending, accepted []*batch) {
	lines := 0
	for _, b := range accepted {
		lines += b.lines
	}
	if c.metrics != nil {
		c.metrics.commitRequests.Observe(float64(len(accepted)))
		c.metrics.commitLines.Observe(float64(lines))
	}
	for _, p := range order {
		end := position{segment: p.s.index, offset: p.start}
		for _, g := range p.groups {
			end.offset += int64(len(g.records))
			if c.metrics != nil {
				c.metrics.in(g.key.Kind, len(g.lines), len(g.records))
			}
			if c.listener != nil {
				c.listener(g.key, g.lines)
			}
			if c.hub != nil {
				c.hub.publish(g.key, tailGroup{end: end, lines: g.lines, msg: &sharedMessage{}})
			}
		}
	}
}

// write appends each touched stream's records with one write call.
func (c *committer) write(order []*pending) error {
	for _, p := range order {
		index := p.s.index
		if err := p.s.prepare(c.segmentBytes); err != nil {
			return fmt.Errorf("prepare stream %s: %w", p.s.key, err)
		}
		if p.s.index != index && c.sealed != nil {
			c.sealed(p.s.key)
		}
		p.start = p.s.size
		records := p.groups[0].records
		if len(p.groups) > 1 {
			n := 0
			for _, g := range p.groups {
				n += len(g.records)
			}
			records = make([]byte, 0, n)
			for _, g := range p.groups {
				records = append(records, g.records...)
			}
		}
		if err := p.s.write(records); err != nil {
			return fmt.Errorf("append to stream %s: %w", p.s.key, err)
		}
	}
	return nil
}

// sync fsyncs every touched segment and every directory with new entries, a few at a time.
func (c *committer) sync(order []*pending) error {
	var jobs []func() error
	dirs := make(map[string]bool)
	for _, p := range order {
		f := p.s.f
		jobs = append(jobs, func() error {
			start := time.Now()
			err := c.syncFile(f)
			if c.metrics != nil {
				c.metrics.fsync.Observe(time.Since(start).Seconds())
			}
			return err
		})
		for _, d := range p.s.dirSync {
			if !dirs[d] {
				dirs[d] = true
				jobs = append(jobs, func() error { return syncDir(d) })
			}
		}
	}
	if err := runLimited(jobs, 8); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	for _, p := range order {
		p.s.dirSync = nil
	}
	return nil
}

// rollback truncates every touched stream back to where the cycle started. A stream that cannot be
// rolled back is closed and forgotten, so the next use reopens it from disk.
func (c *committer) rollback(order []*pending) {
	for _, p := range order {
		if p.start < 0 {
			continue
		}
		if err := p.s.rollback(p.start); err != nil {
			c.logger.Error("roll back stream", "stream", p.s.key.String(), "err", err)
			c.store.evict(p.s.key)
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
