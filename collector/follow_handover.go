package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// A handover moves the following of an app from its old owner to its new one without loss or
// duplicates. The new owner does not follow the app's containers until every other member has answered
// GET /v1/follow/positions for the app: a member that (in its own view) no longer owns the app first
// stops its tails of it, which commit what they read and save their positions, and then answers with
// those positions; a member that still owns it answers 409 until its view of the members changes too.
// The new owner keeps the furthest position of each container and resumes from it. A member that does
// not answer (gone, or not running a follower) is skipped; after HandoverTimeout the new owner resumes
// from what it has.

// handoverRetry is how often a new owner asks again a member that still owns the app.
const handoverRetry = 200 * time.Millisecond

// handlePositions is GET /v1/follow/positions?tenant=&app=: the old owner's half of a handover.
func (c *Collector) handlePositions(w http.ResponseWriter, r *http.Request) {
	f := c.follower.Load()
	if f == nil {
		writeProblem(w, http.StatusServiceUnavailable, "this collector does not follow runtime output", 0)
		return
	}
	a := appKey{tenant: r.URL.Query().Get("tenant"), app: r.URL.Query().Get("app")}
	if !validName(a.tenant) || !validName(a.app) {
		writeProblem(w, http.StatusBadRequest, "tenant and app must be given as valid names", 0)
		return
	}
	if f.members != nil {
		if _, local, _ := f.members.owner(a.tenant, a.app); local {
			writeProblem(w, http.StatusConflict, fmt.Sprintf("this collector (%s) still owns app %s/%s", c.cfg.Self, a.tenant, a.app), 0)
			return
		}
	}
	f.release(a)
	writeJSON(w, http.StatusOK, f.pos.forApp(a.tenant, a.app))
}

// fetchPositions asks every other member for its positions of an app's containers and returns the
// furthest of each: the new owner's half of a handover.
func (c *Collector) fetchPositions(ctx context.Context, tenant, app string) map[string]followPos {
	if c.members == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.HandoverTimeout)
	defer cancel()
	var mu sync.Mutex
	out := make(map[string]followPos)
	var wg sync.WaitGroup
	for _, m := range c.members.others() {
		wg.Go(func() {
			got, err := c.askPositions(ctx, m, tenant, app)
			if err != nil {
				c.logger.Warn("no follow positions from member", "member", m.Name, "tenant", tenant, "app", app, "err", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for id, pos := range got {
				if cur, ok := out[id]; !ok || pos.after(cur) {
					out[id] = pos
				}
			}
		})
	}
	wg.Wait()
	return out
}

// askPositions asks one member, again while it still owns the app.
func (c *Collector) askPositions(ctx context.Context, m Member, tenant, app string) (map[string]followPos, error) {
	u := m.URL + "/v1/follow/positions?" + url.Values{"tenant": {tenant}, "app": {app}}.Encode()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, fmt.Errorf("build request: %w", err)
		}
		req.Header.Set(ForwardedHeader, c.cfg.Self)
		res, err := c.forwardClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("ask positions: %w", err)
		}
		body, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
		res.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read positions: %w", err)
		}
		switch res.StatusCode {
		case http.StatusOK:
			var got map[string]followPos
			if err := json.Unmarshal(body, &got); err != nil {
				return nil, fmt.Errorf("decode positions: %w", err)
			}
			return got, nil
		case http.StatusConflict:
			pause(ctx, handoverRetry)
			if ctx.Err() != nil {
				return nil, fmt.Errorf("member still owns the app: %w", ctx.Err())
			}
		default:
			return nil, fmt.Errorf("ask positions: %d %s", res.StatusCode, body)
		}
	}
}
