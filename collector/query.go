package collector

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Read limits.
const (
	DefaultReadLimit = 500
	MaxReadLimit     = 5000
	maxScanBytes     = 64 << 20
)

// Page is the answer of a read.
type Page struct {
	// Stream is "kind/tenant/app/name".
	Stream string `json:"stream"`
	// Lines are the matching lines, in the order they were acknowledged.
	Lines []Line `json:"lines"`
	// Cursor continues the read after the last record scanned. With More false it is the end of the
	// stream as of now: reading again from it returns only lines acknowledged since (polling; the live
	// tail will start from it).
	Cursor string `json:"cursor"`
	// More says the read stopped before the end (the page is full or the scan budget ran out).
	More bool `json:"more"`
}

// handleRead is GET /v1/streams/{kind}/{tenant}/{app}/{name}/lines with optional query parameters:
//
//	since, until  RFC 3339 times; since inclusive, until exclusive (on Line.Time)
//	q             a substring the message must contain (case-sensitive)
//	limit         lines per page, 1 to 5000, default 500
//	cursor        the cursor of the previous page
//
// A stream nothing was written to yet reads as empty. On a replica sharing the apps with others, the
// read covers every member's part of the stream (union.go) and its cursors are union cursors; a
// forwarded read answers from this replica's own store.
func (c *Collector) handleRead(w http.ResponseWriter, r *http.Request) {
	rn := c.live(w)
	if rn == nil {
		return
	}
	key, ok := pathStream(w, r)
	if !ok {
		return
	}
	v := r.URL.Query()
	forwarded := r.Header.Get(ForwardedHeader) != ""
	union := !forwarded && c.unionMembers() != nil
	cursors, err := decodeUnionCursor(key, v.Get("cursor"))
	switch {
	case union && err != nil:
		writeProblem(w, http.StatusBadRequest, err.Error(), 0)
		return
	case union || err == nil: // a union cursor on a single collector: its own part of it
		v.Set("cursor", cursors[c.cfg.Self])
	}
	q, err := parseQuery(key, v)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, err.Error(), 0)
		return
	}
	if union {
		c.unionRead(w, r, rn, key, q, cursors)
		return
	}
	if forwarded && v.Has(originParam) {
		c.answerImported(w, key, v, q)
		return
	}
	if forwarded && r.Header.Get(unionHeader) != "" && c.answerMember(w, rn, key, v, q) {
		return
	}
	p, err := rn.store.read(key, q)
	if errors.Is(err, errBadCursor) {
		writeProblem(w, http.StatusBadRequest, err.Error(), 0)
		return
	}
	if err != nil {
		c.logger.Error("read stream", "stream", key.String(), "err", err)
		writeProblem(w, http.StatusInternalServerError, err.Error(), 0)
		return
	}
	if p.lines == nil {
		p.lines = []Line{}
	}
	n := writeJSON(w, http.StatusOK, Page{Stream: key.String(), Lines: p.lines, Cursor: encodeCursor(key, p.next), More: p.more})
	c.metrics.out(key.Kind, viaRead, len(p.lines), n)
}

// pathStream is the stream of a /v1/streams/{kind}/{tenant}/{app}/{name}/... path; a bad one is
// answered 400.
func pathStream(w http.ResponseWriter, r *http.Request) (StreamKey, bool) {
	key := StreamKey{
		Kind: Kind(r.PathValue("kind")), Tenant: r.PathValue("tenant"), App: r.PathValue("app"), Name: r.PathValue("name"),
	}
	if err := key.Validate(); err != nil {
		writeProblem(w, http.StatusBadRequest, "stream: "+err.Error(), 0)
		return key, false
	}
	return key, true
}

func parseQuery(key StreamKey, v url.Values) (query, error) {
	q := query{text: v.Get("q"), limit: DefaultReadLimit, maxScanBytes: maxScanBytes}
	var err error
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"since", &q.since}, {"until", &q.until}} {
		if s := v.Get(t.name); s != "" {
			if *t.to, err = time.Parse(time.RFC3339Nano, s); err != nil {
				return query{}, fmt.Errorf("%s %q is not an RFC 3339 time", t.name, s)
			}
		}
	}
	if s := v.Get("limit"); s != "" {
		if q.limit, err = strconv.Atoi(s); err != nil || q.limit < 1 || q.limit > MaxReadLimit {
			return query{}, fmt.Errorf("limit %q is not a number from 1 to %d", s, MaxReadLimit)
		}
	}
	if s := v.Get("cursor"); s != "" {
		pos, err := decodeCursor(key, s)
		if err != nil {
			return query{}, err
		}
		q.from = &pos
	}
	return q, nil
}
