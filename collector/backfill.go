package collector

import (
	"errors"
	"fmt"
	"io"
	"slices"
)

// committedEnd is the stream's committed end: the position the next committed line will start at.
// A stream nothing was written to has the zero position, before every position of it.
func (st *store) committedEnd(key StreamKey) (*stream, position, error) {
	s, err := st.get(key, false)
	if errors.Is(err, errNoStream) {
		return nil, position{}, nil
	}
	if err != nil {
		return nil, position{}, err
	}
	segs := s.view()
	last := segs[len(segs)-1]
	return s, position{segment: last.index, offset: last.size}, nil
}

// lastLines returns the last n lines of s that match m and end at or before end, oldest first. It reads
// the segments from the newest back until it has n lines.
func lastLines(s *stream, end position, n int, m *matcher) ([]Line, error) {
	if s == nil || n <= 0 {
		return nil, nil
	}
	segs := s.view()
	var out []Line
	for i := len(segs) - 1; i >= 0 && len(out) < n; i-- {
		seg := segs[i]
		if seg.index > end.segment {
			continue
		}
		if seg.index == end.segment {
			seg.size = min(seg.size, end.offset)
		}
		lines, err := segmentTail(s.dir, seg, n-len(out), m)
		if errors.Is(err, errSegmentGone) {
			break // older segments are gone too
		}
		if err != nil {
			return nil, fmt.Errorf("read segment %d of %s: %w", seg.index, s.key, err)
		}
		out = append(lines, out...)
	}
	return out, nil
}

// segmentTail returns the last n matching lines of a segment, oldest first.
func segmentTail(dir string, seg segmentView, n int, m *matcher) ([]Line, error) {
	if seg.size == 0 {
		return nil, nil
	}
	rr, err := openRecords(dir, seg, 0)
	if err != nil {
		return nil, err
	}
	defer rr.Close()
	var keep []Line
	for {
		payload, err := rr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		l, ok, err := m.decode(payload)
		if err != nil {
			return nil, fmt.Errorf("decode record at offset %d: %w", rr.off, err)
		}
		if !ok {
			continue
		}
		if len(keep) == 2*n { // keep the newest n, sliding in blocks
			keep = slices.Delete(keep, 0, n)
		}
		keep = append(keep, l)
	}
	return keep[max(0, len(keep)-n):], nil
}

// before says whether p is at or before q in a stream.
func (p position) before(q position) bool {
	return p.segment < q.segment || p.segment == q.segment && p.offset <= q.offset
}
