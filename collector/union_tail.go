package collector

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sync"
)

// unionBackfill is a tail's backfill over every member: the last n lines of the union of the stream
// (in a union read's order), of which local are this replica's (the owner's, read up to the end the
// live part starts after). Other members get no new lines of an app they do not own, so their parts
// need no seam with the live part. A single collector's backfill is local as it is.
func (c *Collector) unionBackfill(ctx context.Context, key StreamKey, local []Line, n int, text string) ([]Line, error) {
	members := c.unionMembers()
	if n == 0 || members == nil {
		return local, nil
	}
	if !slices.ContainsFunc(members, func(m Member) bool { return m.Name == c.cfg.Self }) { // the local lines come in any case
		members = append(slices.Clip(members), Member{Name: c.cfg.Self})
	}
	rn := c.running.Load()
	if rn == nil {
		return nil, fmt.Errorf("read backfill: %s", reasonShutdown)
	}
	parts := make([]memberPart, len(members))
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		if m.Name == c.cfg.Self {
			first, err := rn.store.firstTime(key)
			parts[i], errs[i] = memberPart{member: m, local: true, first: first, page: Page{Lines: local}, imported: c.importedOrigins(key)}, err
			continue
		}
		wg.Go(func() {
			v := url.Values{lastParam: {fmt.Sprint(n)}}
			if text != "" {
				v.Set("q", text)
			}
			parts[i], errs[i] = c.getMember(ctx, m, key, v)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			if members[i].Name == c.cfg.Self {
				return nil, fmt.Errorf("read local backfill: %w", err)
			}
			return nil, &memberError{member: members[i].Name, err: err}
		}
	}
	parts, err := addImported(members, parts, func(p memberPart) (memberPart, error) {
		if p.local {
			lines, err := c.lastImported(key, p.origin, n, newMatcher(query{text: text, maxScanBytes: maxScanBytes}))
			if err != nil {
				return p, err
			}
			_, first, err := c.readImported(key, p.origin, query{limit: 1, maxScanBytes: maxScanBytes})
			return memberPart{first: first, page: Page{Lines: lines}}, err
		}
		v := url.Values{lastParam: {fmt.Sprint(n)}, originParam: {p.origin}}
		if text != "" {
			v.Set("q", text)
		}
		return c.getMember(ctx, p.member, key, v)
	})
	if err != nil {
		return nil, err
	}
	sortParts(parts)
	var out []Line
	for _, p := range parts {
		out = append(out, p.page.Lines...)
	}
	return out[max(0, len(out)-n):], nil
}

// memberError is a member that did not answer its part of a stream: the reader's 503, naming it.
type memberError struct {
	member string
	err    error
}

func (e *memberError) Error() string {
	return fmt.Sprintf("collector %s did not answer: %v", e.member, e.err)
}

func (e *memberError) Unwrap() error { return e.err }
