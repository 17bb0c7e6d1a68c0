package collector

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// maintainer is the background goroutine that keeps the sealed segments: every SweepInterval (and soon
// after a segment is sealed) it walks every stream on disk, removes whole sealed segments past their
// kind's retention, and compresses the remaining plain sealed ones. It never touches a stream's
// highest-numbered segment (the active one, or the one about to be), and it works on the files, so it
// needs no lock of the committer: readers that took a view before a change find the segment in its
// other form, or skip it once it is removed (see openRecords); open streams' views are updated too.
type maintainer struct {
	store   *store
	cfg     RetentionConfig
	metrics *metrics
	logger  *slog.Logger
	now     func() time.Time

	sealed  chan StreamKey // streams that just sealed a segment (the committer never waits on it)
	stop    chan struct{}
	stopped chan struct{}
}

func newMaintainer(st *store, cfg Config, m *metrics, logger *slog.Logger) *maintainer {
	return &maintainer{store: st, cfg: cfg.Retention, metrics: m, logger: logger, now: time.Now,
		sealed: make(chan StreamKey, 64), stop: make(chan struct{}), stopped: make(chan struct{})}
}

// run sweeps every stream at once and then every SweepInterval, and a stream that sealed a segment as
// soon as it is told, until shutdown.
func (m *maintainer) run() {
	defer close(m.stopped)
	if m.cfg.SweepInterval < 0 {
		return
	}
	tick := time.NewTicker(m.cfg.SweepInterval)
	defer tick.Stop()
	for {
		if err := m.sweep(); err != nil {
			m.logger.Error("sweep streams", "err", err)
		}
	waiting:
		for {
			select {
			case <-m.stop:
				return
			case <-tick.C:
				break waiting
			case key := <-m.sealed:
				if err := m.maintain(key); err != nil {
					m.logger.Warn("maintain stream", "stream", key.String(), "err", err)
				}
			}
		}
	}
}

// sealedSegment tells the maintainer that a stream sealed a segment, without waiting: when it is busy,
// the next sweep gets to the stream.
func (m *maintainer) sealedSegment(key StreamKey) {
	select {
	case m.sealed <- key:
	default:
	}
}

// shutdown stops the maintainer after the stream it is at.
func (m *maintainer) shutdown() {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.stopped
}

// stopping says whether shutdown was called.
func (m *maintainer) stopping() bool {
	select {
	case <-m.stop:
		return true
	default:
		return false
	}
}

// sweep applies retention and compression to every stream on disk.
func (m *maintainer) sweep() error {
	keys, err := streamKeys(m.store.root)
	if err != nil {
		return err
	}
	for _, key := range keys {
		if m.stopping() {
			return nil
		}
		if err := m.maintain(key); err != nil {
			m.logger.Warn("maintain stream", "stream", key.String(), "err", err)
		}
	}
	return m.sweepCopies()
}

// streamKeys lists the streams under root: the directories streams/kind/tenant/app/name.
func streamKeys(root string) ([]StreamKey, error) {
	var keys []StreamKey
	base := filepath.Join(root, "streams")
	err := filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, path)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if d.IsDir() && rel != "." && len(parts) == 4 {
			keys = append(keys, StreamKey{Kind: Kind(parts[0]), Tenant: parts[1], App: parts[2], Name: parts[3]})
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	return keys, nil
}

// sealedFile is a sealed segment file and what retention goes by.
type sealedFile struct {
	segmentFile
	name     string
	diskSize int64
	written  time.Time
}

// maintain removes the sealed segments of one stream past retention, then compresses the plain ones left.
func (m *maintainer) maintain(key StreamKey) error { return m.maintainIn(m.store.root, key, true) }

// maintainIn is maintain of the stream under root: the store's own (own), or an imported copy
// (drain_import.go), which is not compressed and whose view is not kept open.
func (m *maintainer) maintainIn(root string, key StreamKey, own bool) error {
	dir := key.dir(root)
	files, err := listSegments(dir)
	if err != nil {
		return fmt.Errorf("list segments: %w", err)
	}
	if len(files) < 2 {
		return nil
	}
	var total int64
	var sealed []sealedFile
	for i, sf := range files {
		name := segmentName(sf.index)
		if sf.compressed {
			name = compressedName(sf.index)
		}
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("stat segment: %w", err)
		}
		total += fi.Size()
		if i < len(files)-1 {
			sealed = append(sealed, sealedFile{segmentFile: sf, name: name, diskSize: fi.Size(), written: fi.ModTime()})
		}
	}
	keep := m.cfg.of(key.Kind)
	cutoff := m.now().Add(-keep.MaxAge)
	removed := 0
	for _, sf := range sealed {
		reason := ""
		switch {
		case sf.written.Before(cutoff):
			reason = "age"
		case total > keep.MaxBytes:
			reason = "size"
		}
		if reason == "" {
			break
		}
		if own {
			m.store.updateView(key, func(s *stream) { s.dropSealed(sf.index) })
		}
		if err := os.Remove(filepath.Join(dir, sf.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove segment: %w", err)
		}
		m.logger.Info("segment removed by retention", "stream", key.String(), "segment", sf.index, "reason", reason,
			"bytes", sf.diskSize)
		m.metrics.removed(key.Kind, reason, sf.diskSize)
		total -= sf.diskSize
		removed++
	}
	if removed > 0 {
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	for _, sf := range sealed[removed:] {
		if sf.compressed || !own || m.stopping() {
			continue
		}
		seg, err := compressSegment(dir, sf.index)
		if err != nil {
			return fmt.Errorf("compress segment %d: %w", sf.index, err)
		}
		m.store.updateView(key, func(s *stream) { s.replaceSealed(seg) })
		if err := os.Remove(filepath.Join(dir, segmentName(sf.index))); err != nil {
			return fmt.Errorf("remove compressed plain segment: %w", err)
		}
		m.metrics.compressed.Inc()
	}
	return nil
}

// updateView applies f to the stream of key when it is open, so its readers see a sealed segment's
// change; a stream not open lists its segments afresh when opened.
func (st *store) updateView(key StreamKey, f func(*stream)) {
	st.mu.Lock()
	e := st.streams[key]
	st.mu.Unlock()
	if e != nil && e.opened.Load() {
		f(e.s)
	}
}

// dropSealed forgets a sealed segment removed by retention.
func (s *stream) dropSealed(index uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if index == s.segs[len(s.segs)-1].index {
		return
	}
	s.segs = slices.DeleteFunc(s.segs, func(v segmentView) bool { return v.index == index })
}

// replaceSealed publishes a sealed segment's new form (compressed, with its time range).
func (s *stream) replaceSealed(seg segmentView) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.segs[:len(s.segs)-1] {
		if s.segs[i].index == seg.index {
			s.segs[i] = seg
		}
	}
}
