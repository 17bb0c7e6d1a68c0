package collector

import (
	"encoding/json"
	"sync"
)

// hub fans committed lines out to the live tails, keyed by stream. The committer publishes every
// committed group; it never waits for a subscriber: each has a bounded buffer, a full buffer drops the
// group (counted, and reported to the reader in its stream), and the wake-up is a non-blocking send.
type hub struct {
	mu     sync.RWMutex
	subs   map[StreamKey]map[*subscriber]struct{}
	closed bool
	live   sync.WaitGroup // one per subscriber, so that shutdown can wait for the tails to end
	// onDrop is told how many lines a full buffer dropped (the metrics' seam); it must not block.
	onDrop func(n int)
}

// tailGroup is one committed group of lines of a stream and the stream position right after it. Its
// lines are shared by every subscriber and never modified.
type tailGroup struct {
	end   position
	lines []Line
	msg   *sharedMessage // the group as one unfiltered TailMessage, encoded once for every reader
}

// sharedMessage is a TailMessage encoded by the first reader that needs it.
type sharedMessage struct {
	once sync.Once
	b    []byte
	err  error
}

// encoded returns the group as one TailMessage of all its lines.
func (g tailGroup) encoded() ([]byte, error) {
	g.msg.once.Do(func() { g.msg.b, g.msg.err = json.Marshal(TailMessage{Lines: g.lines}) })
	return g.msg.b, g.msg.err
}

// subscriber is one live tail's buffer.
type subscriber struct {
	key      StreamKey
	capacity int // lines

	mu       sync.Mutex
	groups   []tailGroup
	buffered int   // lines in groups
	dropped  int64 // lines dropped since the last take
	count    func([]Line) int

	wake chan struct{} // capacity 1: something to take
	done chan struct{} // closed when the hub shuts down
}

func newHub(onDrop func(int)) *hub {
	if onDrop == nil {
		onDrop = func(int) {}
	}
	return &hub{subs: make(map[StreamKey]map[*subscriber]struct{}), onDrop: onDrop}
}

// subscribe registers a tail of key holding at most capacity lines; count says how many lines of a
// dropped group the reader would have seen (its filter). It returns nil once the hub is closed.
func (h *hub) subscribe(key StreamKey, capacity int, count func([]Line) int) *subscriber {
	s := &subscriber{key: key, capacity: capacity, count: count,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	m := h.subs[key]
	if m == nil {
		m = make(map[*subscriber]struct{})
		h.subs[key] = m
	}
	m[s] = struct{}{}
	h.live.Add(1)
	return s
}

// unsubscribe forgets s.
func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m := h.subs[s.key]; m != nil {
		if _, ok := m[s]; ok {
			h.live.Done()
		}
		delete(m, s)
		if len(m) == 0 {
			delete(h.subs, s.key)
		}
	}
}

// wait waits for every subscriber to be unsubscribed; call it after close.
func (h *hub) wait() { h.live.Wait() }

// subscribers is how many tails are registered.
func (h *hub) subscribers() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, m := range h.subs {
		n += len(m)
	}
	return n
}

// has says whether key has a tail.
func (h *hub) has(key StreamKey) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs[key]) > 0
}

// publish hands a committed group to every tail of key without waiting for any of them.
func (h *hub) publish(key StreamKey, g tailGroup) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.subs[key] {
		if n := s.offer(g); n > 0 {
			h.onDrop(n)
		}
	}
}

// close tells every tail that the collector is shutting down; later subscribes get nil.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for _, m := range h.subs {
		for s := range m {
			close(s.done)
		}
	}
}

// offer buffers g, or drops it whole when it does not fit, and returns how many lines it dropped. Once
// a group is dropped, the following ones are too until the reader takes the buffer, so that the drop
// notice comes exactly where the lines are missing.
func (s *subscriber) offer(g tailGroup) int {
	s.mu.Lock()
	dropped := 0
	if s.dropped == 0 && (s.buffered+len(g.lines) <= s.capacity || s.buffered == 0) {
		s.groups = append(s.groups, g)
		s.buffered += len(g.lines)
	} else {
		dropped = s.count(g.lines)
		s.dropped += int64(dropped)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return dropped
}

// take empties the buffer: the groups buffered, then how many lines were dropped after them.
func (s *subscriber) take() ([]tailGroup, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	groups, dropped := s.groups, s.dropped
	s.groups, s.buffered, s.dropped = nil, 0, 0
	return groups, dropped
}
