package gateway

import "net/http"

// Policy picks one of a backend's upstreams for a request, or nil when there is none. One tiny type per
// policy, one file each: RoundRobin, LeastConnections, ConsistentHash, PeakEWMA. A policy's state lives
// in the Pool (or in the Upstreams) so a routing swap keeps it. Policies ignore passive health: the
// backend skips an ejected pick (backend.pick).
type Policy interface {
	Pick(upstreams []*Upstream, r *http.Request) *Upstream
}

// newPolicy makes the policy balance names; Build validated it.
func newPolicy(balance Balance) Policy {
	switch balance.Policy {
	case BalanceLeastConnections:
		return &LeastConnections{}
	case BalanceHash:
		return newConsistentHash(balance.HashBy)
	case BalancePeakEWMA:
		return &PeakEWMA{}
	}
	return &RoundRobin{}
}
