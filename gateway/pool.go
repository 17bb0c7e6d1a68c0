package gateway

import (
	"sync"
	"sync/atomic"
)

// Upstream is the runtime state of one endpoint address. It lives in the Pool, not in a snapshot, so a
// routing swap does not reset it; health and passive failure counts (a later issue) belong here too.
type Upstream struct {
	Addr     string
	inflight atomic.Int64
	requests atomic.Uint64
}

// Inflight is the number of requests being proxied to the upstream right now.
func (u *Upstream) Inflight() int64 { return u.inflight.Load() }

// Requests is the number of requests proxied to the upstream since it entered the pool.
func (u *Upstream) Requests() uint64 { return u.requests.Load() }

// begin and end bracket one proxied request.
func (u *Upstream) begin() { u.inflight.Add(1); u.requests.Add(1) }
func (u *Upstream) end()   { u.inflight.Add(-1) }

// Pool holds the runtime state the snapshots point into: upstreams by address and balancer state by
// backend key. Compile takes entries from it; retain drops the ones no snapshot uses any more.
type Pool struct {
	mu        sync.Mutex
	upstreams map[string]*Upstream
	balancers map[string]*RoundRobin
}

// NewPool returns an empty pool.
func NewPool() *Pool {
	return &Pool{upstreams: make(map[string]*Upstream), balancers: make(map[string]*RoundRobin)}
}

// upstream returns the state of addr, creating it on first use.
func (p *Pool) upstream(addr string) *Upstream {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.upstreams[addr]
	if u == nil {
		u = &Upstream{Addr: addr}
		p.upstreams[addr] = u
	}
	return u
}

// roundRobin returns the balancer state of the backend named key, creating it on first use.
func (p *Pool) roundRobin(key string) *RoundRobin {
	p.mu.Lock()
	defer p.mu.Unlock()
	rr := p.balancers[key]
	if rr == nil {
		rr = &RoundRobin{}
		p.balancers[key] = rr
	}
	return rr
}

// Upstream returns the state of addr, or nil when no snapshot uses it.
func (p *Pool) Upstream(addr string) *Upstream {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.upstreams[addr]
}

// retain drops the entries the table does not use. An upstream with requests in flight stays until a
// later retain, so its count is never lost while requests still finish against it.
func (p *Pool) retain(t *Table) {
	addrs, keys := t.uses()
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, u := range p.upstreams {
		if !addrs[addr] && u.Inflight() == 0 {
			delete(p.upstreams, addr)
		}
	}
	for key := range p.balancers {
		if !keys[key] {
			delete(p.balancers, key)
		}
	}
}
