package gateway

import (
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"
)

// Upstream is the runtime state of one endpoint address. It lives in the Pool, not in a snapshot, so a
// routing swap resets neither its counters nor its passive health (health.go) nor its latency (peak EWMA).
type Upstream struct {
	Addr string
	// hash is the address's FNV-1a hash: consistent hashing's and, in hex, the sticky cookie's value,
	// which does not reveal the address.
	hash uint64

	inflight atomic.Int64
	requests atomic.Uint64

	health       *PassiveHealth
	fails        atomic.Int32 // consecutive failures
	ejectedUntil atomic.Int64 // unix nanoseconds; 0 when never ejected or recovered

	ewma ewma // peak EWMA of the response-header latency

	idle idleConns // the fast path's keep-alive connections to it
}

func newUpstream(addr string, health *PassiveHealth) *Upstream {
	h := fnv.New64a()
	_, _ = h.Write([]byte(addr))
	return &Upstream{Addr: addr, hash: h.Sum64(), health: health}
}

// Inflight is the number of requests being proxied to the upstream right now.
func (u *Upstream) Inflight() int64 { return u.inflight.Load() }

// Requests is the number of requests proxied to the upstream since it entered the pool.
func (u *Upstream) Requests() uint64 { return u.requests.Load() }

// begin and end bracket one proxied request.
func (u *Upstream) begin() { u.inflight.Add(1); u.requests.Add(1) }
func (u *Upstream) end()   { u.inflight.Add(-1) }

// Latency is the upstream's peak EWMA of response-header latency, 0 before any response.
func (u *Upstream) Latency() time.Duration { return time.Duration(u.ewma.value.Load()) }

// Pool holds the runtime state the snapshots point into: upstreams by address and balancer state by
// backend key and policy. Compile takes entries from it; retain drops the ones no snapshot uses any more.
type Pool struct {
	health    PassiveHealth
	mu        sync.Mutex
	upstreams map[string]*Upstream
	balancers map[string]Policy
}

// NewPool returns an empty pool whose upstreams have the default passive health.
func NewPool() *Pool { return NewPoolWith(PassiveHealth{}) }

// NewPoolWith returns an empty pool whose upstreams have this passive health (zero fields: defaults).
func NewPoolWith(health PassiveHealth) *Pool {
	return &Pool{health: health.withDefaults(), upstreams: make(map[string]*Upstream), balancers: make(map[string]Policy)}
}

// upstream returns the state of addr, creating it on first use.
func (p *Pool) upstream(addr string) *Upstream {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.upstreams[addr]
	if u == nil {
		u = newUpstream(addr, &p.health)
		p.upstreams[addr] = u
	}
	return u
}

// policy returns the balancer of the backend named key under balance, creating it on first use. Its key
// is returned too, for retain.
func (p *Pool) policy(key string, balance Balance) (Policy, string) {
	if balance.Policy != BalanceRoundRobin {
		key += "|" + string(balance.Policy) + "|" + balance.HashBy
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pol := p.balancers[key]
	if pol == nil {
		pol = newPolicy(balance)
		p.balancers[key] = pol
	}
	return pol, key
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
			u.idle.closeAll()
		}
	}
	for key := range p.balancers {
		if !keys[key] {
			delete(p.balancers, key)
		}
	}
}

// closeIdle closes the fast path's idle upstream connections, at shutdown.
func (p *Pool) closeIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, u := range p.upstreams {
		u.idle.closeAll()
	}
}
