package gateway

import (
	"context"
	"time"
	"unsafe"

	"github.com/rainflow/rainflow/collector"
)

// accessMaxBatchBytes bounds the NDJSON of one request to the collector (its own default bound is
// 8 MiB): a batch stops at the line that passes it.
const accessMaxBatchBytes = 1 << 20

// run sends the queued lines every BatchInterval, or as soon as BatchLines are waiting, until stopping
// is closed; then it sends what is left. Its sends end with ctx.
func (c *accessCollector) run(ctx context.Context, stopping <-chan struct{}) {
	tick := time.NewTicker(c.cfg.BatchInterval)
	defer tick.Stop()
	warn := time.NewTicker(accessDropWarnEvery)
	defer warn.Stop()
	for {
		select {
		case <-c.wake:
			c.flush(ctx, c.cfg.BatchLines)
		case <-tick.C:
			c.flush(ctx, 1)
		case <-warn.C:
			c.warnDropped()
		case <-stopping:
			c.flush(ctx, 1)
			c.warnDropped()
			return
		}
	}
}

// flush sends the waiting lines in batches of at most BatchLines for as long as at least least lines
// are waiting: 1 sends them all, BatchLines only whole batches.
func (c *accessCollector) flush(ctx context.Context, least int) {
	for c.queue.len() >= least {
		if c.sendBatch(ctx) == 0 {
			return
		}
	}
}

// sendBatch sends the oldest waiting lines, at most BatchLines and accessMaxBatchBytes of them; the
// lines of a failed send are dropped and counted. It returns how many lines it took.
func (c *accessCollector) sendBatch(ctx context.Context) int {
	taken := c.encodeBatch()
	if taken == 0 {
		return 0
	}
	// Not gzip'd: the gateway's CPU is what the access log must spare, and gzip at BestSpeed costs it
	// more than sending the bytes to a collector on the same host (BenchmarkAccessLogSend: ~370 ns a
	// line more to compress, ~150-250 more in all; beside a real collector, 1-4 us a request more).
	if err := c.client.SendNDJSON(ctx, c.body, ""); err != nil {
		c.droppedSend += int64(taken)
		c.lastErr = err
		c.metrics.accessDropped.WithLabelValues("send-failed").Add(float64(taken))
	} else {
		c.metrics.accessSent.Add(float64(taken))
	}
	return taken
}

// encodeBatch encodes the oldest waiting lines, at most BatchLines and accessMaxBatchBytes of them,
// into c.body, gives their slots back and returns how many it took.
func (c *accessCollector) encodeBatch() int {
	start, n := c.queue.waiting(c.cfg.BatchLines)
	c.body = c.body[:0]
	taken := 0
	for taken < n && len(c.body) < accessMaxBatchBytes {
		c.body = c.appendSlot(c.body, c.queue.slot(start, taken))
		taken++
	}
	c.queue.release(taken)
	return taken
}

// appendSlot appends the NDJSON line of a queued access line. The Line's message is the slot's bytes,
// not a copy: the slot is not reused before it is released.
func (c *accessCollector) appendSlot(dst []byte, s *accessSlot) []byte {
	l := collector.Line{Time: s.time, Tenant: s.owner.tenant, App: s.owner.app, Component: s.owner.component,
		Kind: collector.KindAccess, Level: s.level, Message: unsafe.String(unsafe.SliceData(s.msg), len(s.msg))}
	dst = c.enc.AppendLine(dst, &l)
	return append(dst, '\n')
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
