package gateway

import (
	"hash/fnv"
	"net"
	"net/http"
	"strings"
)

// ConsistentHash sends the requests of one key (the client IP, a header or a cookie) to the same
// upstream, with rendezvous hashing: each upstream scores hash(key, upstream) and the highest wins, so
// when an upstream leaves only its keys move, and no ring needs building. A request without the key goes
// round robin.
type ConsistentHash struct {
	kind     hashKind
	name     string // header (canonical) or cookie name
	fallback RoundRobin
}

type hashKind int

const (
	hashClientIP hashKind = iota
	hashHeader
	hashCookie
)

// newConsistentHash reads a validated hash-by: "client-ip", "header:<Name>" or "cookie:<name>".
func newConsistentHash(by string) *ConsistentHash {
	kind, name, _ := strings.Cut(by, ":")
	switch kind {
	case "header":
		return &ConsistentHash{kind: hashHeader, name: name}
	case "cookie":
		return &ConsistentHash{kind: hashCookie, name: name}
	}
	return &ConsistentHash{kind: hashClientIP}
}

// Pick returns the upstream of the request's key.
func (ch *ConsistentHash) Pick(upstreams []*Upstream, r *http.Request) *Upstream {
	key := ch.key(r)
	if key == "" || len(upstreams) == 0 {
		return ch.fallback.Pick(upstreams, r)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	kh := h.Sum64()
	var best *Upstream
	var bestScore uint64
	for _, u := range upstreams {
		if score := mix64(kh ^ u.hash); best == nil || score > bestScore {
			best, bestScore = u, score
		}
	}
	return best
}

func (ch *ConsistentHash) key(r *http.Request) string {
	if r == nil {
		return ""
	}
	switch ch.kind {
	case hashHeader:
		if v := r.Header[ch.name]; len(v) > 0 {
			return v[0]
		}
		return ""
	case hashCookie:
		return cookieValue(r.Header, ch.name)
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// mix64 is SplitMix64's finalizer: it spreads the bits of x so that close inputs score far apart.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
