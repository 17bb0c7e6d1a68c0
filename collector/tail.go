package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"
)

// TailMessage is one websocket text message of a live tail: lines in stream order, or a notice that
// Dropped lines are missing here because the reader did not keep up.
type TailMessage struct {
	Lines   []Line `json:"lines,omitempty"`
	Dropped int64  `json:"dropped,omitempty"`
}

// Tail limits.
const (
	// MaxTailBackfill bounds ?backfill.
	MaxTailBackfill = MaxReadLimit
	// tailMessageLines and tailMessageBytes bound one message's lines.
	tailMessageLines = 500
	tailMessageBytes = 256 << 10
)

// Close reasons of a tail.
const (
	reasonShutdown = "collector is shutting down"
	reasonTooSlow  = "reader too slow: lines were dropped for longer than the write timeout"
)

// handleTail is GET /v1/streams/{kind}/{tenant}/{app}/{name}/tail, a websocket. It sends the last
// ?backfill lines (0 to 5000, default 0) and then every line as it is committed, with no gap and no
// duplicate between the two; ?q filters on the message as in reads. The reader sends nothing. A reader
// that falls behind its buffer gets {"dropped": n} where lines are missing, and is closed (policy
// violation) when it keeps dropping for longer than Tail.WriteTimeout. Shutdown closes with going away.
func (c *Collector) handleTail(w http.ResponseWriter, r *http.Request) {
	rn := c.live(w)
	if rn == nil {
		return
	}
	key, ok := pathStream(w, r)
	if !ok {
		return
	}
	backfill := 0
	if s := r.URL.Query().Get("backfill"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > MaxTailBackfill {
			writeProblem(w, http.StatusBadRequest, fmt.Sprintf("backfill %q is not a number from 0 to %d", s, MaxTailBackfill), 0)
			return
		}
		backfill = n
	}
	m := newMatcher(query{text: r.URL.Query().Get("q"), maxScanBytes: maxScanBytes})

	// Subscribe first, then read the backfill up to the committed end as of now: every group committed
	// after that end reaches the subscription, and the ones before it that still do are skipped.
	sub := rn.hub.subscribe(key, c.cfg.Tail.Buffer, m.count)
	if sub == nil {
		writeProblem(w, http.StatusServiceUnavailable, reasonShutdown, 0)
		return
	}
	defer rn.hub.unsubscribe(sub)
	s, end, err := rn.store.committedEnd(key)
	var lines []Line
	if err == nil {
		lines, err = lastLines(s, end, backfill, m)
	}
	if err == nil {
		lines, err = c.unionBackfill(r.Context(), key, lines, backfill, m.text)
	}
	var down *memberError
	if errors.As(err, &down) {
		c.logger.Warn("tail backfill: member did not answer", "stream", key.String(), "member", down.member, "err", down.err)
		writeProblem(w, http.StatusServiceUnavailable, fmt.Sprintf(
			"the stream's lines are spread over the collector replicas and %s did not answer (%v); retry later", down.member, down.err), 0)
		return
	}
	if err != nil {
		c.logger.Error("tail backfill", "stream", key.String(), "err", err)
		writeProblem(w, http.StatusInternalServerError, "read backfill: "+err.Error(), 0)
		return
	}

	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept answered
	}
	defer conn.CloseNow()
	c.metrics.tails.Inc()
	defer c.metrics.tails.Dec()
	t := &liveTail{conn: conn, sub: sub, m: m, after: end, writeTimeout: c.cfg.Tail.WriteTimeout, metrics: c.metrics}
	ctx := conn.CloseRead(r.Context()) // answers pings, notices the reader's close, refuses data messages
	if err := t.sendLines(ctx, key, lines); err != nil {
		return
	}
	t.follow(ctx, key, c.cfg.Tail.PingInterval)
}

// liveTail is one live tail's connection.
type liveTail struct {
	conn         *websocket.Conn
	sub          *subscriber
	m            *matcher
	after        position // the backfill's end: live groups ending at or before it were in it
	writeTimeout time.Duration
	metrics      *metrics
	slowSince    time.Time // first take with drops of the current run of them
}

// follow sends what the subscription gets until the reader goes, the collector shuts down or the
// reader is too slow.
func (t *liveTail) follow(ctx context.Context, key StreamKey, pingInterval time.Duration) {
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.sub.done:
			_ = t.conn.Close(websocket.StatusGoingAway, reasonShutdown)
			return
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, t.writeTimeout)
			err := t.conn.Ping(pctx)
			cancel()
			if err != nil {
				return // a dead peer: nobody to tell
			}
			continue
		case <-t.sub.wake:
		}
		groups, dropped := t.sub.take()
		for _, g := range groups {
			if g.end.before(t.after) {
				continue
			}
			if err := t.sendGroup(ctx, key, g); err != nil {
				return
			}
		}
		if dropped == 0 {
			t.slowSince = time.Time{}
			continue
		}
		if _, err := t.send(ctx, TailMessage{Dropped: dropped}); err != nil {
			return
		}
		if t.slowSince.IsZero() {
			t.slowSince = time.Now()
		} else if time.Since(t.slowSince) > t.writeTimeout {
			_ = t.conn.Close(websocket.StatusPolicyViolation, reasonTooSlow)
			return
		}
	}
}

// sendGroup sends a committed group: encoded once for all readers when it is sent whole.
func (t *liveTail) sendGroup(ctx context.Context, key StreamKey, g tailGroup) error {
	if t.m.text != "" || len(g.lines) > tailMessageLines || g.msg == nil {
		return t.sendLines(ctx, key, g.lines)
	}
	b, err := g.encoded()
	if err != nil {
		return fmt.Errorf("encode tail message: %w", err)
	}
	if len(b) > tailMessageBytes {
		return t.sendLines(ctx, key, g.lines)
	}
	wctx, cancel := context.WithTimeout(ctx, t.writeTimeout)
	defer cancel()
	if err := t.conn.Write(wctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("write tail message: %w", err)
	}
	t.metrics.out(key.Kind, viaTail, len(g.lines), len(b))
	return nil
}

// sendLines sends the lines that match, a bounded number per message.
func (t *liveTail) sendLines(ctx context.Context, key StreamKey, lines []Line) error {
	var batch []Line
	size := 0
	for i := range lines {
		if !t.m.match(&lines[i]) {
			continue
		}
		batch = append(batch, lines[i])
		size += len(lines[i].Message) + 256
		if len(batch) == tailMessageLines || size >= tailMessageBytes {
			if err := t.sendBatch(ctx, key, batch); err != nil {
				return err
			}
			batch, size = batch[:0], 0
		}
	}
	if len(batch) == 0 {
		return nil
	}
	return t.sendBatch(ctx, key, batch)
}

func (t *liveTail) sendBatch(ctx context.Context, key StreamKey, batch []Line) error {
	n, err := t.send(ctx, TailMessage{Lines: batch})
	if err != nil {
		return err
	}
	t.metrics.out(key.Kind, viaTail, len(batch), n)
	return nil
}

// send writes one message within the write timeout; past it the connection is closed (a reader that
// reads nothing cannot be told why).
func (t *liveTail) send(ctx context.Context, msg TailMessage) (int, error) {
	b, err := json.Marshal(msg)
	if err != nil {
		return 0, fmt.Errorf("encode tail message: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, t.writeTimeout)
	defer cancel()
	if err := t.conn.Write(wctx, websocket.MessageText, b); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Errorf("write tail message: reader too slow: %w", err)
		}
		return 0, fmt.Errorf("write tail message: %w", err)
	}
	return len(b), nil
}
