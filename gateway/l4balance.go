package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sync/atomic"
)

// l4Balancer spreads the new connections (TCP) or client sessions (UDP) of a route over its endpoints
// with the route's policy: the HTTP side's Policy types (RoundRobin, LeastConnections, ConsistentHash),
// which see a connection as a request from its client's address. Each endpoint is an Upstream of the
// route's own whose in-flight count is its connections or sessions in progress: least-connections
// weighs TCP connections at L4, not HTTP requests.
type l4Balancer struct {
	current atomic.Pointer[l4EndpointSet]
}

// l4EndpointSet is one list of a route's endpoints and the policy that picks among them; changed is
// closed when set replaces it, which wakes the connections waiting for an endpoint.
type l4EndpointSet struct {
	upstreams []*Upstream
	balance   Balance
	policy    Policy
	changed   chan struct{}
}

func newL4Balancer(endpoints []string, balance Balance) *l4Balancer {
	b := &l4Balancer{}
	b.set(endpoints, balance)
	return b
}

// set swaps the endpoints and the policy; the connections in progress keep their endpoint. An endpoint
// that stays keeps its Upstream, so its count of connections in progress carries on, and an unchanged
// policy keeps its state (the round-robin turn). The l4Proxy calls it from one goroutine at a time.
func (b *l4Balancer) set(endpoints []string, balance Balance) {
	old := b.current.Load()
	next := &l4EndpointSet{upstreams: make([]*Upstream, 0, len(endpoints)), balance: balance, changed: make(chan struct{})}
	kept := make(map[string]*Upstream)
	if old != nil {
		for _, u := range old.upstreams {
			kept[u.Addr] = u
		}
		if old.balance == balance {
			next.policy = old.policy
		}
	}
	if next.policy == nil {
		next.policy = newPolicy(balance)
	}
	for _, addr := range endpoints {
		u := kept[addr]
		if u == nil {
			u = newUpstream(addr, nil)
		}
		next.upstreams = append(next.upstreams, u)
	}
	b.current.Store(next)
	if old != nil {
		close(old.changed)
	}
}

// pick returns the endpoints and the index of the one the policy picks for a new connection or session
// of client; a caller whose dial fails tries the following ones, wrapping around (l4Dial). start is -1
// when there is no endpoint; changed is closed when the endpoints are next replaced, so such a caller
// can wait on it for the route to get one.
func (b *l4Balancer) pick(client netip.AddrPort) (upstreams []*Upstream, start int, changed <-chan struct{}) {
	s := b.current.Load()
	if len(s.upstreams) == 0 {
		return nil, -1, s.changed
	}
	var r *http.Request // RoundRobin and LeastConnections do not look at it
	if s.balance.Policy == BalanceHash {
		// ConsistentHash keys on the host of RemoteAddr, as for an HTTP request from the same client.
		r = &http.Request{RemoteAddr: netip.AddrPortFrom(client.Addr().Unmap(), client.Port()).String()}
	}
	u := s.policy.Pick(s.upstreams, r)
	for i, c := range s.upstreams {
		if c == u {
			return s.upstreams, i, s.changed
		}
	}
	return s.upstreams, 0, s.changed
}

// l4Dial dials the picked endpoint, then the following ones (wrapping around) until one answers. The
// endpoint counts the connection in progress from the start of its dial (Upstream.begin), so that a
// burst of connections is spread by least-connections before any is established; a failed dial uncounts
// it. The caller ends the count of the endpoint returned (Upstream.end) when the connection or session
// ends.
func l4Dial[C any](ctx context.Context, upstreams []*Upstream, start int,
	dial func(ctx context.Context, addr string) (C, error)) (C, *Upstream, error) {
	var errs []error
	for i := range upstreams {
		u := upstreams[(start+i)%len(upstreams)]
		u.begin()
		c, err := dial(ctx, u.Addr)
		if err == nil {
			return c, u, nil
		}
		u.end()
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	var none C
	return none, nil, fmt.Errorf("dial endpoint: %w", errors.Join(errs...))
}

// l4PolicyName is the name of a route's policy as the load-balance annotation writes it.
func l4PolicyName(b Balance) string {
	if b.Policy == BalanceRoundRobin {
		return L4PolicyRoundRobin
	}
	return string(b.Policy)
}
