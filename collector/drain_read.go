package collector

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Reading imported copies (drain_import.go). A member answering its part of a union read names, in
// importedHeader, the origins of which it holds a copy of the stream and their lengths. The replica the
// read entered adds, for each origin that is not a current member, one copy (the longest) as that
// origin's part: named by the origin in sorting and in the union cursor, read from the holder with ?origin=. While
// the origin is still a member (a drain in progress, or done but the replica not yet removed) its own
// answer is its part and the copies are not read, so no line is read twice.

const (
	// importedHeader lists the member's copies of the stream: comma-separated origin=length in bytes.
	importedHeader = "X-Rainflow-Imported"
	// originParam asks a member (forwarded reads only) for its copy of an origin's part instead of its own.
	originParam = "origin"
)

// name is what the part is called in the union's order and cursor: its origin for an imported copy.
func (p memberPart) name() string {
	if p.origin != "" {
		return p.origin
	}
	return p.member.Name
}

// addImported appends to parts (the members' own) the copies of the origins that are not members, one
// per origin, read by fetch (given the holder, local and origin). Of several copies of one origin (the
// members changed between two runs of its drain), the longest is read: copies only grow, so it holds the
// others. A copy that cannot be read fails the read with a memberError naming its holder.
func addImported(members []Member, parts []memberPart, fetch func(memberPart) (memberPart, error)) ([]memberPart, error) {
	isMember := make(map[string]bool, len(members))
	for _, m := range members {
		isMember[m.Name] = true
	}
	best := make(map[string]memberPart) // origin → the holder of its longest copy
	size := make(map[string]int64)
	for _, h := range parts {
		for _, ic := range h.imported {
			cur, seen := best[ic.origin]
			if isMember[ic.origin] || seen && (ic.size < size[ic.origin] ||
				ic.size == size[ic.origin] && cur.member.Name < h.member.Name) {
				continue
			}
			best[ic.origin], size[ic.origin] = memberPart{member: h.member, local: h.local, origin: ic.origin}, ic.size
		}
	}
	origins := slices.Sorted(maps.Keys(best))
	for _, origin := range origins {
		h := best[origin]
		got, err := fetch(h)
		if err != nil {
			return nil, &memberError{member: h.member.Name, err: fmt.Errorf("read copy of %s: %w", origin, err)}
		}
		got.member, got.local, got.origin = h.member, h.local, origin
		parts = append(parts, got)
	}
	return parts, nil
}

// readImported reads a page of this replica's copy of origin's part of key.
func (c *Collector) readImported(key StreamKey, origin string, q query) (page, time.Time, error) {
	s, err := c.importedStream(origin, key)
	if err != nil || s == nil {
		return page{next: position{segment: 1}}, time.Time{}, err
	}
	first, err := s.read(query{limit: 1, maxScanBytes: maxScanBytes})
	if err != nil {
		return page{}, time.Time{}, err
	}
	p, err := s.read(q)
	if len(first.lines) == 0 {
		return p, time.Time{}, err
	}
	return p, first.lines[0].Time, err
}

// lastImported is the last n lines of this replica's copy of origin's part of key that m matches.
func (c *Collector) lastImported(key StreamKey, origin string, n int, m *matcher) ([]Line, error) {
	s, err := c.importedStream(origin, key)
	if err != nil || s == nil {
		return nil, err
	}
	last := s.segs[len(s.segs)-1]
	return lastLines(s, position{segment: last.index, offset: last.size}, n, m)
}

// answerImported serves a member read of a copy (a forwarded request with ?origin=): a page, or with
// ?last=n its last n lines, and the time of its first line in streamStartHeader.
func (c *Collector) answerImported(w http.ResponseWriter, key StreamKey, v url.Values, q query) {
	origin := v.Get(originParam)
	if !validName(origin) {
		writeProblem(w, http.StatusBadRequest, fmt.Sprintf("origin %q is not a member name", origin), 0)
		return
	}
	n, isLast, err := lastOf(v)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, err.Error(), 0)
		return
	}
	if isLast {
		q.limit = 1 // the page is only for the first line's time
	}
	p, first, err := c.readImported(key, origin, q)
	if err == nil && isLast {
		p.lines, err = c.lastImported(key, origin, n, newMatcher(q))
	}
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, "read imported copy: "+err.Error(), 0)
		return
	}
	if !first.IsZero() {
		w.Header().Set(streamStartHeader, first.Format(time.RFC3339Nano))
	}
	if p.lines == nil {
		p.lines = []Line{}
	}
	out := Page{Stream: key.String(), Lines: p.lines}
	if !isLast {
		out.Cursor, out.More = encodeCursor(key, p.next), p.more
	}
	writeJSON(w, http.StatusOK, out)
}
