package collector

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// cycle is the batches written since the last cycle went to the syncer: one fsync of each file and
// directory they touched acknowledges them all.
type cycle struct {
	batches []*batch
	order   []*pending // the streams touched, in order of first write
	touched map[*stream]*pending
	bytes   int
	lines   int
}

// pending is one stream touched by a cycle. A cycle never spans a segment roll, so it is one file.
type pending struct {
	s      *stream
	f      *os.File // the active segment written
	index  uint64   // its index
	start  int64    // its length before the cycle's first write, to roll back to
	end    int64    // its length after the cycle's last write, committed once fsync'd
	dirs   []string // directories with new entries, fsync'd with the cycle
	groups []*group
}

// add writes b into the open cycle, or fails b alone when a stream cannot be opened or written (its
// streams are then truncated back to where b started).
func (c *committer) add(b *batch) {
	streams, err := c.streams(b)
	if err == nil && c.mustFlush(streams) {
		// A reopen or a roll closes a file: wait until nothing written is in flight, then look the
		// streams up again (a failed rollback meanwhile may have evicted one).
		c.flush()
		streams, err = c.streams(b)
	}
	if err != nil {
		b.fail(err)
		return
	}
	if c.open == nil {
		c.open = &cycle{touched: make(map[*stream]*pending)}
	}
	cy := c.open
	before := make([]int64, len(streams)) // each stream's length before b, for rolling b back alone
	for i, s := range streams {
		p := cy.touched[s]
		if p == nil {
			if p, err = c.begin(s); err != nil {
				c.undo(streams[:i], before)
				b.fail(err)
				return
			}
			cy.touched[s] = p
			cy.order = append(cy.order, p)
		}
		before[i] = s.size
		markWrite(b.groups[i].records) // kept whole or not at all by a crash
		if err := s.write(b.groups[i].records); err != nil {
			c.logger.Error("write failed, rolling the request back", "stream", s.key.String(), "err", err)
			c.undo(streams[:i+1], before)
			b.fail(fmt.Errorf("append to stream %s: %w", s.key, err))
			return
		}
	}
	for i, s := range streams {
		p := cy.touched[s]
		p.end = s.size
		p.groups = append(p.groups, b.groups[i])
	}
	cy.batches = append(cy.batches, b)
	cy.bytes += b.bytes
	cy.lines += b.lines
}

// streams opens the stream of each of b's groups.
func (c *committer) streams(b *batch) ([]*stream, error) {
	streams := make([]*stream, len(b.groups))
	for i, g := range b.groups {
		s, err := c.store.get(g.key, true)
		if err != nil {
			return nil, err
		}
		streams[i] = s
	}
	return streams, nil
}

// mustFlush says whether one of streams must reopen or roll its active segment while something
// written is still in flight.
func (c *committer) mustFlush(streams []*stream) bool {
	if c.open == nil && c.inflight == nil {
		return false
	}
	for _, s := range streams {
		if s.f == nil || s.size >= c.segmentBytes {
			return true
		}
	}
	return false
}

// begin makes s ready for the open cycle: reopened or rolled when needed, its start remembered.
func (c *committer) begin(s *stream) (*pending, error) {
	index := s.index
	if err := s.prepare(c.segmentBytes); err != nil {
		return nil, fmt.Errorf("prepare stream %s: %w", s.key, err)
	}
	if s.index != index && c.sealed != nil {
		c.sealed(s.key)
	}
	p := &pending{s: s, f: s.f, index: s.index, start: s.size, end: s.size, dirs: s.dirSync}
	s.dirSync = nil
	return p, nil
}

// undo truncates streams back to their lengths before, after a failed request.
func (c *committer) undo(streams []*stream, before []int64) {
	for i, s := range streams {
		if err := s.rollback(before[i]); err != nil {
			c.logger.Error("roll back stream", "stream", s.key.String(), "err", err)
			c.store.evict(s.key)
		}
	}
}

// send hands the open cycle to the syncer (which is free: nothing is in flight).
func (c *committer) send() {
	c.inflight, c.open = c.open, nil
	c.lastSent = time.Now()
	c.toSync <- c.inflight
}

// finish takes the syncer's result for the cycle in flight. A failed fsync fails that cycle and the
// open one written behind it, and truncates their streams back to where the first started.
func (c *committer) finish(err error) {
	failed := []*cycle{c.inflight}
	c.inflight = nil
	if err == nil {
		return
	}
	if c.open != nil {
		failed = append(failed, c.open)
		c.open = nil
	}
	requests := 0
	for _, cy := range failed {
		requests += len(cy.batches)
	}
	c.logger.Error("commit failed, rolling back", "cycles", len(failed), "requests", requests, "err", err)
	for i := len(failed) - 1; i >= 0; i-- { // the later first: every stream ends where the earlier started
		c.rollback(failed[i])
	}
	for _, cy := range failed {
		for _, b := range cy.batches {
			b.fail(err)
		}
	}
}

// flush waits until everything written is durable (or failed): nothing open, nothing in flight.
func (c *committer) flush() {
	for c.open != nil || c.inflight != nil {
		if c.inflight == nil {
			c.send()
		}
		c.finish(<-c.synced)
	}
}

// rollback truncates every stream of a failed cycle back to where the cycle started, and keeps its
// directories to be fsync'd by the next one. A stream that cannot be rolled back is closed and
// forgotten, so the next use reopens it from disk.
func (c *committer) rollback(cy *cycle) {
	for _, p := range cy.order {
		p.s.dirSync = append(p.dirs, p.s.dirSync...)
		if p.s.f != p.f { // evicted meanwhile
			continue
		}
		if err := p.s.rollback(p.start); err != nil {
			c.logger.Error("roll back stream", "stream", p.s.key.String(), "err", err)
			c.store.evict(p.s.key)
		}
	}
}

// syncLoop is the syncer: for each cycle, fsync, then publish the new committed ends, acknowledge the
// batches and tell the tails, and only then report to the writer.
func (c *committer) syncLoop() {
	for cy := range c.toSync {
		err := c.sync(cy)
		if err == nil {
			for _, p := range cy.order {
				p.s.commitAt(p.index, p.end)
			}
			for _, b := range cy.batches {
				b.done <- nil
			}
			c.published(cy)
			for _, b := range cy.batches {
				b.recycle()
			}
		}
		c.synced <- err
	}
}

// sync fsyncs every file of a cycle and every directory with new entries, a few at a time.
func (c *committer) sync(cy *cycle) error {
	var jobs []func() error
	dirs := make(map[string]bool)
	for _, p := range cy.order {
		f := p.f
		jobs = append(jobs, func() error {
			start := time.Now()
			err := c.syncFile(f)
			if c.metrics != nil {
				c.metrics.fsync.Observe(time.Since(start).Seconds())
			}
			return err
		})
		for _, d := range p.dirs {
			if !dirs[d] {
				dirs[d] = true
				jobs = append(jobs, func() error { return syncDir(d) })
			}
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	if err := runLimited(jobs, 8); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

// commitAt publishes segment index as size bytes long to readers, once those bytes are fsync'd.
func (s *stream) commitAt(index uint64, size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if last := &s.segs[len(s.segs)-1]; last.index == index {
		last.size = size
		return
	}
	s.segs = append(s.segs, segmentView{index: index, size: size})
}

// maxPooledRecords bounds the record buffers kept for reuse.
const maxPooledRecords = 4 << 20

// recordBuffers recycles the record buffers of ingest's own batches once they are committed or failed:
// a request's records are a few hundred KiB, allocated (and zeroed) afresh otherwise.
type recordBuffers struct {
	pool sync.Pool // of *[]byte
}

// get returns an empty buffer, with room from an earlier request when there is one. A nil
// recordBuffers gives nil (append allocates).
func (rb *recordBuffers) get() []byte {
	if rb == nil {
		return nil
	}
	if p, ok := rb.pool.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return nil
}

// put keeps buf for reuse; nobody may use it afterwards.
func (rb *recordBuffers) put(buf []byte) {
	if rb == nil || cap(buf) == 0 || cap(buf) > maxPooledRecords {
		return
	}
	rb.pool.Put(&buf)
}

// fail answers b with err and recycles its buffers: the committer is done with it.
func (b *batch) fail(err error) {
	b.done <- err
	b.recycle()
}

// recycle hands b's record buffers back, when they came from recordBuffers. Only the committer calls
// it, once it is done with b; the ingest handler reads nothing of b but its counts after submit.
func (b *batch) recycle() {
	if b.buffers == nil {
		return
	}
	for _, g := range b.groups {
		b.buffers.put(g.records)
	}
	b.buffers = nil
}
