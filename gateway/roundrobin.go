package gateway

import (
	"net/http"
	"sync/atomic"
)

// RoundRobin hands requests to the upstreams in turn.
type RoundRobin struct {
	next atomic.Uint64
}

// Pick returns the next upstream in turn.
func (rr *RoundRobin) Pick(upstreams []*Upstream, _ *http.Request) *Upstream {
	if len(upstreams) == 0 {
		return nil
	}
	n := rr.next.Add(1) - 1
	return upstreams[n%uint64(len(upstreams))]
}
