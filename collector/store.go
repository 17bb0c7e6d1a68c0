package collector

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// store is the set of streams under one data directory. Streams are opened lazily, on first write or
// read, and closed again when idle, so the number of open files follows the active streams only.
type store struct {
	root   string
	logger *slog.Logger
	lock   *os.File // flock'd DataDir/LOCK while the store is open

	mu      sync.Mutex
	streams map[StreamKey]*streamEntry
}

// streamEntry opens its stream once, whoever asks first.
type streamEntry struct {
	once   sync.Once
	s      *stream
	err    error
	opened atomic.Bool // s is set; readable without going through once
}

// errNoStream is a read of a stream nothing was ever written to.
var errNoStream = errors.New("no such stream")

// openStore takes the data directory's lock, so that one collector at a time writes under it.
func openStore(root string, logger *slog.Logger) (*store, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	lock, err := os.OpenFile(root+"/LOCK", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open data dir lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("lock data dir %s (is another collector using it?): %w", root, err)
	}
	if err := cleanLeftovers(root, logger); err != nil {
		lock.Close()
		return nil, err
	}
	return &store{root: root, logger: logger, lock: lock, streams: make(map[StreamKey]*streamEntry)}, nil
}

// get returns the open stream of key. With create false, a stream that has no directory yet is
// errNoStream and nothing is created.
func (st *store) get(key StreamKey, create bool) (*stream, error) {
	st.mu.Lock()
	e := st.streams[key]
	if e == nil {
		if !create {
			if _, err := os.Stat(key.dir(st.root)); errors.Is(err, os.ErrNotExist) {
				st.mu.Unlock()
				return nil, errNoStream
			}
		}
		e = &streamEntry{}
		st.streams[key] = e
	}
	st.mu.Unlock()

	e.once.Do(func() {
		e.s, e.err = openStream(st.root, key, st.logger)
		e.opened.Store(e.err == nil)
	})
	if e.err != nil {
		st.forget(key, e)
		return nil, fmt.Errorf("open stream %s: %w", key, e.err)
	}
	return e.s, nil
}

// forget drops the entry of key if it is still e, so the next get opens the stream afresh.
func (st *store) forget(key StreamKey, e *streamEntry) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.streams[key] == e {
		delete(st.streams, key)
	}
}

// evict closes the stream of key and forgets it, so the next use reopens it from disk.
func (st *store) evict(key StreamKey) {
	st.mu.Lock()
	e := st.streams[key]
	delete(st.streams, key)
	st.mu.Unlock()
	if e != nil && e.opened.Load() {
		_ = e.s.close()
	}
}

// closeIdle closes the streams not written since before. Only the committer calls it, between
// commits, so no write is in progress; readers keep working from their committed view.
func (st *store) closeIdle(before time.Time) {
	st.mu.Lock()
	var idle []*stream
	for key, e := range st.streams {
		if e.opened.Load() && e.s.lastUsed.Before(before) {
			idle = append(idle, e.s)
			delete(st.streams, key)
		}
	}
	st.mu.Unlock()
	for _, s := range idle {
		if err := s.close(); err != nil {
			st.logger.Warn("close idle stream", "stream", s.key.String(), "err", err)
		}
	}
}

// close closes every stream and releases the data directory.
func (st *store) close() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	var errs []error
	for key, e := range st.streams {
		if e.opened.Load() {
			errs = append(errs, e.s.close())
		}
		delete(st.streams, key)
	}
	errs = append(errs, st.lock.Close()) // closing the file releases the flock
	return errors.Join(errs...)
}
