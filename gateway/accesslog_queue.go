package gateway

import (
	"strconv"
	"sync"
	"time"

	"github.com/rainflow/rainflow/collector"
)

// Sizes of the access queue's message buffers.
const (
	// accessSlotBytes is the message buffer every slot gets up front, from one allocation: a line with
	// a common host, path and request id fits, a longer one gets a buffer of its own once.
	accessSlotBytes = 192
	// accessSlotKeep is the largest message buffer a slot keeps once its line is sent: the buffer of a
	// line with a very long path is given back rather than held by the queue.
	accessSlotKeep = 4 << 10
)

// accessQueue holds the access lines waiting for the sender: a ring of slots allocated once, each with
// its own message buffer, so queueing a line copies bytes and allocates nothing. Requests fill slots
// under mu, which they hold for the copy of one line; the sender reads the waiting lines without it
// (the slots from head to head+n are the sender's to read, the others the requests' to fill) and then
// releases them under mu.
type accessQueue struct {
	mu    sync.Mutex
	slots []accessSlot
	head  int // the slot of the oldest waiting line
	n     int // lines waiting
}

// accessSlot is one waiting line: what the sender needs to encode it as a collector.Line.
type accessSlot struct {
	time  time.Time
	owner accessOwner
	level string
	msg   []byte // the message; its bytes are the slot's own
}

func newAccessQueue(size int) *accessQueue {
	q := &accessQueue{slots: make([]accessSlot, size)}
	buf := make([]byte, size*accessSlotBytes)
	for i := range q.slots {
		q.slots[i].msg = buf[i*accessSlotBytes : i*accessSlotBytes : (i+1)*accessSlotBytes]
	}
	return q
}

// put queues the line of one request for owner and returns how many lines wait with it, or false when
// the queue is full and the line was not kept.
func (q *accessQueue) put(owner accessOwner, ex *exchange, e *accessEntry, status int, elapsed time.Duration, end time.Time) (int, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == len(q.slots) {
		return q.n, false
	}
	s := &q.slots[(q.head+q.n)%len(q.slots)]
	s.time, s.owner, s.level = end, owner, accessLevel(status)
	s.msg = appendAccessMessage(s.msg[:0], ex, e, status, elapsed)
	q.n++
	return q.n, true
}

// waiting returns where the oldest waiting lines start and how many of them, at most limit, the sender
// may read: slot (start+i)%len(slots) for i below the count, until it releases them.
func (q *accessQueue) waiting(limit int) (start, n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.head, min(q.n, limit)
}

// slot is the i-th slot after start, in ring order.
func (q *accessQueue) slot(start, i int) *accessSlot {
	return &q.slots[(start+i)%len(q.slots)]
}

// release gives the n oldest waiting lines' slots back to the requests, once the sender has read them.
// A message buffer grown past accessSlotKeep is dropped.
func (q *accessQueue) release(n int) {
	for i := range n {
		if s := q.slot(q.head, i); cap(s.msg) > accessSlotKeep {
			s.msg = nil
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.head = (q.head + n) % len(q.slots)
	q.n -= n
}

// len is the number of lines waiting.
func (q *accessQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// accessLevel is a line's level by its status: 5xx error, 4xx warn.
func accessLevel(status int) string {
	switch {
	case status >= 500:
		return collector.LevelError
	case status >= 400:
		return collector.LevelWarn
	}
	return collector.LevelInfo
}

// appendAccessMessage appends the line a user reads, e.g.
// "GET shop.example.com/cart 200 512B 1.234ms request_id=9f3c remote=10.0.0.9:51234 upstream=10.1.0.7:8080".
func appendAccessMessage(b []byte, ex *exchange, e *accessEntry, status int, elapsed time.Duration) []byte {
	b = append(b, e.method...)
	b = append(b, ' ')
	b = append(b, e.host...)
	b = append(b, e.path...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.bytes, 10)
	b = append(b, "B "...)
	b = append(b, elapsed.Round(time.Microsecond).String()...) // String is inlined: its string stays on the stack
	b = append(b, " request_id="...)
	b = appendOrDash(b, e.requestID)
	b = append(b, " remote="...)
	b = appendOrDash(b, e.remote)
	b = append(b, " upstream="...)
	return appendOrDash(b, ex.upstreamAddr())
}

func appendOrDash(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return append(b, s...)
}
