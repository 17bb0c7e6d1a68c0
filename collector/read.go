package collector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// query selects lines of one stream.
type query struct {
	from         *position // nil: the stream's start
	since, until time.Time // since inclusive, until exclusive; zero: unbounded
	text         string    // substring of Message, case-sensitive
	limit        int
	maxScanBytes int64 // stop (with more=true) after scanning this much without filling the page
}

// page is one answer: the lines in stream order and the position after the last record scanned.
type page struct {
	lines []Line
	next  position
	more  bool // the scan stopped before the committed end
}

// read scans the committed records of a stream from q.from and returns the lines that pass the filters.
func (st *store) read(key StreamKey, q query) (page, error) {
	s, err := st.get(key, false)
	if errors.Is(err, errNoStream) {
		return page{next: position{segment: 1}}, nil
	}
	if err != nil {
		return page{}, err
	}
	return s.read(q)
}

// read is store.read of an open stream (or of an imported copy: drain_import.go).
func (s *stream) read(q query) (page, error) {
	key := s.key
	segs := s.view()
	pos := position{segment: segs[0].index}
	if q.from != nil && q.from.segment >= segs[0].index { // older segments may be gone (retention)
		pos = *q.from
	}
	m := newMatcher(q)
	var out page
	var scanned int64
	for i, seg := range segs {
		if seg.index < pos.segment {
			continue
		}
		if seg.index > pos.segment {
			pos = position{segment: seg.index}
		}
		if pos.offset > seg.size {
			return page{}, fmt.Errorf("read stream %s: %w", key, errBadCursor)
		}
		last := i == len(segs)-1
		if seg.times.outside(q.since, q.until) { // the time index says no line of it can match
			pos.offset = seg.size
			continue
		}
		full, err := readSegment(s.dir, seg, &pos, m, q.limit, &out.lines, &scanned)
		if errors.Is(err, errSegmentGone) { // removed by retention since the view was taken
			pos.offset = seg.size
			continue
		}
		if err != nil {
			return page{}, fmt.Errorf("read stream %s segment %d: %w", key, seg.index, err)
		}
		if full || scanned >= q.maxScanBytes {
			out.next = pos
			out.more = !last || pos.offset < seg.size
			return out, nil
		}
	}
	out.next = pos
	return out, nil
}

// readSegment reads records of seg from pos up to its committed end, appending the matching lines to
// out until it holds limit lines; it advances pos past every record scanned and reports whether out is
// full.
func readSegment(dir string, seg segmentView, pos *position, m *matcher, limit int, out *[]Line, scanned *int64) (bool, error) {
	if pos.offset >= seg.size {
		return len(*out) >= limit, nil
	}
	rr, err := openRecords(dir, seg, pos.offset)
	if err != nil {
		return false, err
	}
	defer rr.Close()
	for len(*out) < limit {
		payload, err := rr.next()
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		*scanned += int64(len(payload)) + recordHeaderBytes
		pos.offset = rr.off
		if l, ok, err := m.decode(payload); err != nil {
			return false, fmt.Errorf("decode record at offset %d: %w", pos.offset, err)
		} else if ok {
			*out = append(*out, l)
		}
		if *scanned >= m.maxScanBytes {
			return len(*out) >= limit, nil
		}
	}
	return true, nil
}

// matcher applies a query's filters; maybe rejects a record from its raw JSON when the text cannot be in it.
type matcher struct {
	since, until time.Time
	text         string
	rawText      []byte // text as it appears inside a JSON string, for the raw pre-filter; nil: no pre-filter
	maxScanBytes int64
}

func newMatcher(q query) *matcher {
	m := &matcher{since: q.since, until: q.until, text: q.text, maxScanBytes: q.maxScanBytes}
	if q.text != "" && utf8.ValidString(q.text) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if enc.Encode(q.text) == nil {
			m.rawText = bytes.TrimSuffix(bytes.TrimSpace(buf.Bytes()), []byte(`"`))[1:]
		}
	}
	return m
}

// decode returns the line of a record and whether it matches.
func (m *matcher) decode(payload []byte) (Line, bool, error) {
	if !m.maybe(payload) {
		return Line{}, false, nil
	}
	var l Line
	if err := json.Unmarshal(payload, &l); err != nil {
		return Line{}, false, err
	}
	return l, m.match(&l), nil
}

// count is how many of lines match.
func (m *matcher) count(lines []Line) int {
	n := 0
	for i := range lines {
		if m.match(&lines[i]) {
			n++
		}
	}
	return n
}

func (m *matcher) maybe(payload []byte) bool {
	return m.rawText == nil || bytes.Contains(payload, m.rawText)
}

func (m *matcher) match(l *Line) bool {
	if !m.since.IsZero() && l.Time.Before(m.since) {
		return false
	}
	if !m.until.IsZero() && !l.Time.Before(m.until) {
		return false
	}
	return m.text == "" || strings.Contains(l.Message, m.text)
}
