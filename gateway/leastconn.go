package gateway

import (
	"net/http"
	"sync/atomic"
)

// LeastConnections hands a request to the upstream with the fewest requests in flight; ties go in turn,
// so an idle backend is still spread evenly.
type LeastConnections struct {
	next atomic.Uint64
}

// Pick returns the least busy upstream.
func (lc *LeastConnections) Pick(upstreams []*Upstream, _ *http.Request) *Upstream {
	n := uint64(len(upstreams))
	if n == 0 {
		return nil
	}
	start := lc.next.Add(1) - 1
	var best *Upstream
	for i := range n {
		u := upstreams[(start+i)%n]
		if best == nil || u.Inflight() < best.Inflight() {
			best = u
		}
	}
	return best
}
