package collector

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// segmentView is one segment as readers see it: its index, its committed (fsync'd) length (uncompressed),
// whether it is compressed, and the time range of its lines when known (compressed segments).
type segmentView struct {
	index      uint64
	size       int64
	compressed bool
	times      timeRange
}

// stream is one stream's files. Readers take the committed view (view); everything else belongs to the
// committer goroutine, or to open before the stream is shared.
type stream struct {
	key StreamKey
	dir string

	mu   sync.Mutex    // guards segs
	segs []segmentView // committed view, ascending

	f        *os.File // active segment, open for appending; nil when closed for idleness
	index    uint64   // active segment index
	size     int64    // bytes written to the active segment, committed or not
	dirSync  []string // directories whose new entries must be fsync'd before the next acknowledgement
	lastUsed time.Time
}

// openStream opens the stream of key under root, creating its directory and first segment if needed,
// and truncates a torn tail of its last segment.
func openStream(root string, key StreamKey, logger *slog.Logger) (*stream, error) {
	s := &stream{key: key, dir: key.dir(root), lastUsed: time.Now()}
	changed, err := mkdirs(root, s.dir)
	if err != nil {
		return nil, err
	}
	s.dirSync = changed
	files, err := listSegments(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	s.index = 1
	n := len(files)
	switch {
	case n == 0 || files[n-1].compressed: // the active segment is never compressed: start one after it
		if n > 0 {
			s.index = files[n-1].index + 1
		}
		s.dirSync = append(s.dirSync, s.dir)
	default:
		s.index = files[n-1].index
		files = files[:n-1]
	}
	for _, sf := range files {
		seg, err := sealedView(s.dir, sf)
		if errors.Is(err, os.ErrNotExist) && !sf.compressed { // compressed meanwhile
			sf.compressed = true
			seg, err = sealedView(s.dir, sf)
		}
		if errors.Is(err, os.ErrNotExist) { // removed by retention meanwhile
			continue
		}
		if err != nil {
			return nil, err
		}
		s.segs = append(s.segs, seg)
	}
	if err := s.openActive(logger); err != nil {
		return nil, err
	}
	s.segs = append(s.segs, segmentView{index: s.index, size: s.size})
	return s, nil
}

// sealedView describes a sealed segment file: its size, or for a compressed one its index entry.
func sealedView(dir string, sf segmentFile) (segmentView, error) {
	seg := segmentView{index: sf.index, compressed: sf.compressed}
	if sf.compressed {
		size, tr, err := readCompressedIndex(filepath.Join(dir, compressedName(sf.index)))
		if err != nil {
			return seg, fmt.Errorf("read segment index: %w", err)
		}
		seg.size, seg.times = size, tr
		return seg, nil
	}
	fi, err := os.Stat(filepath.Join(dir, segmentName(sf.index)))
	if err != nil {
		return seg, fmt.Errorf("stat segment: %w", err)
	}
	seg.size = fi.Size()
	return seg, nil
}

// openActive opens (or creates) the active segment and truncates it after its last verified record.
func (s *stream) openActive(logger *slog.Logger) error {
	name := filepath.Join(s.dir, segmentName(s.index))
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat segment: %w", err)
	}
	valid, records, err := validLength(f, fi.Size())
	if err != nil {
		f.Close()
		return fmt.Errorf("scan segment %s: %w", name, err)
	}
	if valid < fi.Size() {
		logger.Warn("torn segment tail truncated", "stream", s.key.String(), "segment", name,
			"records", records, "kept_bytes", valid, "dropped_bytes", fi.Size()-valid)
		if err := f.Truncate(valid); err != nil {
			f.Close()
			return fmt.Errorf("truncate torn segment: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("sync truncated segment: %w", err)
		}
	}
	s.f, s.size = f, valid
	return nil
}

// view returns a copy of the committed segments.
func (s *stream) view() []segmentView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.segs)
}

// prepare makes the active segment ready for appending: reopens it after an idle close, and rolls to a
// new segment when the active one has reached segmentBytes.
func (s *stream) prepare(segmentBytes int64) error {
	s.lastUsed = time.Now()
	if s.f != nil && s.size < segmentBytes {
		return nil
	}
	if s.size >= segmentBytes {
		if err := s.close(); err != nil {
			return fmt.Errorf("close sealed segment: %w", err)
		}
		s.index++
		s.size = 0
		s.dirSync = append(s.dirSync, s.dir)
	}
	f, err := os.OpenFile(filepath.Join(s.dir, segmentName(s.index)), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	s.f = f
	return nil
}

// write appends records to the active segment (not yet durable).
func (s *stream) write(records []byte) error {
	n, err := s.f.Write(records)
	s.size += int64(n)
	if err != nil {
		return fmt.Errorf("write segment: %w", err)
	}
	return nil
}

// rollback drops what was written since the active segment had length size.
func (s *stream) rollback(size int64) error {
	if s.f == nil || s.size == size {
		return nil
	}
	if err := s.f.Truncate(size); err != nil {
		return fmt.Errorf("truncate segment: %w", err)
	}
	s.size = size
	return nil
}

// close closes the active segment's file.
func (s *stream) close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
