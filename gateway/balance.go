package gateway

import (
	"net/http"
	"time"
)

// pick chooses an upstream for r with the backend's policy, nil when the backend has no ready endpoint.
// An ejected pick (passive health) is replaced by the next upstream that is not ejected; when every
// upstream is ejected the policy's pick is tried anyway, since some upstream must answer.
func (b *backend) pick(r *http.Request) *Upstream {
	u := b.policy.Pick(b.upstreams, r)
	if u == nil || u.ejectedUntil.Load() == 0 {
		return u
	}
	now := time.Now()
	if !u.Ejected(now) {
		return u
	}
	if next := b.next(u, 0, now); next != nil {
		return next
	}
	return u
}

// next returns the first upstream after u (in the backend's order, wrapping) that is neither in tried (a
// bit per index, for the first 64) nor ejected at now; nil when there is none.
func (b *backend) next(u *Upstream, tried uint64, now time.Time) *Upstream {
	n := len(b.upstreams)
	at := b.index(u)
	for i := 1; i < n; i++ {
		j := (at + i) % n
		c := b.upstreams[j]
		if (j < 64 && tried&(1<<j) != 0) || c.Ejected(now) {
			continue
		}
		return c
	}
	return nil
}

// index is u's position in the backend, 0 when it is not there.
func (b *backend) index(u *Upstream) int {
	for i, c := range b.upstreams {
		if c == u {
			return i
		}
	}
	return 0
}

// sticky returns the upstream whose address hash the request's sticky cookie holds, when it is in the
// backend and not ejected.
func (b *backend) sticky(hash uint64) *Upstream {
	for _, u := range b.upstreams {
		if u.hash == hash {
			if u.Ejected(time.Now()) {
				return nil
			}
			return u
		}
	}
	return nil
}
