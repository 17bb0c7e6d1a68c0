package collector

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A union read serves a read of a stream shared by several replicas. Lines stay on the replica that
// owned the app when they were written, so after a member leaves or joins, an app's stream is spread
// over several members' disks. The replica a read enters asks every current member for its part of
// the stream (with ForwardedHeader, so each answers from its own disk) and returns them one member
// after the other, ordered by the time of each member's first line of the stream (ties: member name;
// members holding nothing go last), each member's lines in its commit order. The cursor carries every
// member's own cursor, so a page may end inside one member and the next continues there, and the final
// cursor of a read returns only the lines acknowledged since on any member. A member that does not
// answer fails the read with 503 naming it: a page never silently misses a part. A replica that is no
// longer a member is not asked; its lines are read again when it rejoins with its data.

// Headers of the member reads of a union.
const (
	// unionHeader asks a member for the time of its first line of the stream, in streamStartHeader.
	unionHeader = "X-Rainflow-Union"
	// streamStartHeader is the time of the member's first line of the stream, RFC 3339; absent when it
	// holds none.
	streamStartHeader = "X-Rainflow-Stream-Start"
	// lastParam asks a member (forwarded requests only) for its last n lines of the stream instead of a
	// page: a tail's backfill.
	lastParam = "last"
)

// part of a stream one member holds, as far as a union read needs it.
type memberPart struct {
	member Member
	local  bool
	first  time.Time // time of the member's first line of the stream; zero: it holds none
	page   Page
	// origin, when set, says the part is member's copy of a former member's part (drain_read.go).
	origin string
	// imported are the copies of former members' parts of the stream the member holds.
	imported []importedCopy
}

// unionMembers returns the current members when the apps are shared with others, nil for a single
// collector (which reads its own store with plain cursors).
func (c *Collector) unionMembers() []Member {
	if c.members == nil {
		return nil
	}
	ms := c.members.ring.Load().members
	if len(ms) == 0 || len(ms) == 1 && ms[0].Name == c.cfg.Self && !c.holdsImports() {
		return nil
	}
	return ms
}

// unionRead is a read of a stream over every member (see above); q holds the filters and the limit
// (without a cursor) and cursors the members' cursors of the union cursor.
func (c *Collector) unionRead(w http.ResponseWriter, r *http.Request, rn *running, key StreamKey, q query, cursors map[string]string) {
	members := c.unionMembers()
	parts := make([]memberPart, len(members))
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Go(func() {
			parts[i], errs[i] = c.readMember(r.Context(), rn, m, "", key, r.URL.Query(), q, cursors[m.Name], q.limit)
		})
	}
	wg.Wait()
	if c.writeMemberErrors(w, key, members, errs) {
		return
	}
	parts, err := addImported(members, parts, func(p memberPart) (memberPart, error) {
		return c.readMember(r.Context(), rn, p.member, p.origin, key, r.URL.Query(), q, cursors[p.name()], q.limit)
	})
	var me *memberError
	if errors.As(err, &me) && c.writeMemberErrors(w, key, []Member{{Name: me.member}}, []error{me.err}) {
		return
	}
	sortParts(parts)

	next := make(map[string]string, len(cursors)+len(members))
	for name, cur := range cursors { // members gone since keep their place, for when they come back
		next[name] = cur
	}
	lines, more := []Line{}, false
	for _, p := range parts {
		remaining := q.limit - len(lines)
		if remaining == 0 {
			if len(p.page.Lines) > 0 || p.page.More {
				more = true
				break
			}
			next[p.name()] = p.page.Cursor // nothing matched from here: skip what it scanned
			continue
		}
		pg := p.page
		if len(pg.Lines) > remaining { // the page ends inside this member: read exactly what fits
			refetched, err := c.readMember(r.Context(), rn, p.member, p.origin, key, r.URL.Query(), q, cursors[p.name()], remaining)
			if c.writeMemberErrors(w, key, []Member{p.member}, []error{err}) {
				return
			}
			pg = refetched.page
			pg.More = true
		}
		lines = append(lines, pg.Lines...)
		next[p.name()] = pg.Cursor
		if pg.More {
			more = true
			break
		}
	}
	n := writeJSON(w, http.StatusOK, Page{Stream: key.String(), Lines: lines, Cursor: encodeUnionCursor(key, next), More: more})
	c.metrics.out(key.Kind, viaRead, len(lines), n)
}

// sortParts orders members by the time of their first line of the stream, then name; members that
// hold none go last.
func sortParts(parts []memberPart) {
	slices.SortFunc(parts, func(a, b memberPart) int {
		if a.first.IsZero() != b.first.IsZero() {
			if a.first.IsZero() {
				return 1
			}
			return -1
		}
		return cmp.Or(a.first.Compare(b.first), strings.Compare(a.name(), b.name()))
	})
}

// writeMemberErrors answers the first member error, if any: a refused cursor is the reader's 400,
// anything else a 503 naming the members that did not answer. It reports whether it answered.
func (c *Collector) writeMemberErrors(w http.ResponseWriter, key StreamKey, members []Member, errs []error) bool {
	var failed []string
	for i, err := range errs {
		if err == nil {
			continue
		}
		var pe *partError
		if errors.Is(err, errBadCursor) || errors.As(err, &pe) && pe.status == http.StatusBadRequest {
			writeProblem(w, http.StatusBadRequest, err.Error(), 0)
			return true
		}
		c.logger.Warn("union read: member did not answer", "stream", key.String(), "member", members[i].Name, "err", err)
		failed = append(failed, fmt.Sprintf("%s: %v", members[i].Name, err))
	}
	if len(failed) == 0 {
		return false
	}
	writeProblem(w, http.StatusServiceUnavailable, fmt.Sprintf(
		"the stream's lines are spread over the collector replicas and not every one answered (%s); retry later", strings.Join(failed, "; ")), 0)
	return true
}

// readMember reads one page (limit lines from cursor; "" is the start) of a member's part of a
// stream (with origin set: of its copy of origin's part), from this replica's store or from the member.
func (c *Collector) readMember(ctx context.Context, rn *running, m Member, origin string, key StreamKey, params url.Values, q query,
	cursor string, limit int) (memberPart, error) {
	out := memberPart{member: m, local: m.Name == c.cfg.Self, origin: origin}
	if out.local {
		lq := q
		lq.limit, lq.from = limit, nil
		if cursor != "" {
			pos, err := decodeCursor(key, cursor)
			if err != nil {
				return out, fmt.Errorf("read %s: %w", m.Name, err)
			}
			lq.from = &pos
		}
		var p page
		var err error
		if origin != "" {
			p, out.first, err = c.readImported(key, origin, lq)
		} else if p, err = rn.store.read(key, lq); err == nil {
			out.first, err = rn.store.firstTime(key)
			out.imported = c.importedOrigins(key)
		}
		if err != nil {
			return out, fmt.Errorf("read local stream: %w", err)
		}
		out.page = Page{Stream: key.String(), Lines: p.lines, Cursor: encodeCursor(key, p.next), More: p.more}
		return out, nil
	}
	v := url.Values{}
	for _, name := range []string{"since", "until", "q"} {
		if s := params.Get(name); s != "" {
			v.Set(name, s)
		}
	}
	v.Set("limit", fmt.Sprint(limit))
	if origin != "" {
		v.Set(originParam, origin)
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	return c.getMember(ctx, m, key, v)
}

// getMember asks a member for its own part of a stream (GET .../lines with params).
func (c *Collector) getMember(ctx context.Context, m Member, key StreamKey, params url.Values) (memberPart, error) {
	out := memberPart{member: m}
	body, header, err := c.memberCall(ctx, http.MethodGet, m.URL+"/v1/streams/"+key.String()+"/lines?"+params.Encode(), nil, -1,
		c.cfg.ForwardTimeout, http.Header{unionHeader: {"1"}})
	if err != nil {
		return out, fmt.Errorf("read member: %w", err)
	}
	if err := json.Unmarshal(body, &out.page); err != nil {
		return out, fmt.Errorf("decode member page: %w", err)
	}
	if s := header.Get(importedHeader); s != "" {
		out.imported = parseImported(s)
	}
	if s := header.Get(streamStartHeader); s != "" {
		if out.first, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return out, fmt.Errorf("parse %s %q: %w", streamStartHeader, s, err)
		}
	}
	return out, nil
}

// firstTime is the time of the stream's first line held here; zero when it holds none.
func (st *store) firstTime(key StreamKey) (time.Time, error) {
	p, err := st.read(key, query{limit: 1, maxScanBytes: maxScanBytes})
	if err != nil {
		return time.Time{}, fmt.Errorf("read first line: %w", err)
	}
	if len(p.lines) == 0 {
		return time.Time{}, nil
	}
	return p.lines[0].Time, nil
}

// answerMember serves a member read of a union (a forwarded request with unionHeader): it tells the
// time of this replica's first line of the stream in streamStartHeader and, for ?last=n (a tail's
// backfill), answers the last n matching lines up to the committed end itself. It reports whether it
// answered.
func (c *Collector) answerMember(w http.ResponseWriter, rn *running, key StreamKey, v url.Values, q query) bool {
	first, err := rn.store.firstTime(key)
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, err.Error(), 0)
		return true
	}
	if !first.IsZero() {
		w.Header().Set(streamStartHeader, first.Format(time.RFC3339Nano))
	}
	if copies := c.importedOrigins(key); len(copies) > 0 {
		w.Header().Set(importedHeader, formatImported(copies))
	}
	n, isLast, err := lastOf(v)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, err.Error(), 0)
		return true
	}
	if !isLast {
		return false
	}
	st, end, err := rn.store.committedEnd(key)
	var lines []Line
	if err == nil {
		lines, err = lastLines(st, end, n, newMatcher(q))
	}
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, "read last lines: "+err.Error(), 0)
		return true
	}
	if lines == nil {
		lines = []Line{}
	}
	writeJSON(w, http.StatusOK, Page{Stream: key.String(), Lines: lines})
	return true
}

// lastOf is the ?last=n of a member read (a tail's backfill) and whether it is there.
func lastOf(v url.Values) (int, bool, error) {
	s := v.Get(lastParam)
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > MaxTailBackfill {
		return 0, false, fmt.Errorf("last %q is not a number from 0 to %d", s, MaxTailBackfill)
	}
	return n, true, nil
}
