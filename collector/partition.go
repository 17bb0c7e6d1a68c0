package collector

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Apps are partitioned across collector replicas by rendezvous (highest-random-weight) hashing: the
// owner of (tenant, app) is the live member with the highest score hash(tenant, app, member). Every
// stream of an app lives on its owner. Removing a member moves only the apps it owned (each to the
// member with the next highest score); adding one moves to it only the apps it now scores highest on,
// about 1/n of them. Every replica computes the same owner from the same member list, so no
// coordination is needed beyond agreeing on the list (static, or the collector Service's
// EndpointSlices).

// Member is one collector replica: a stable name (the pod name in a cluster) and the base URL of its API.
type Member struct {
	Name string
	URL  string
}

// ParseMember parses "name=http://host:port".
func ParseMember(s string) (Member, error) {
	name, url, ok := strings.Cut(s, "=")
	if !ok || name == "" || url == "" {
		return Member{}, fmt.Errorf("member %q is not name=url", s)
	}
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return Member{}, fmt.Errorf("member %q: url must start with http:// or https://", s)
	}
	return Member{Name: name, URL: strings.TrimSuffix(url, "/")}, nil
}

// ring is an immutable set of members, sorted by name, with each name's hash.
type ring struct {
	members []Member
	seeds   []uint64
}

func newRing(members []Member) *ring {
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	ms = slices.CompactFunc(ms, func(a, b Member) bool { return a.Name == b.Name })
	r := &ring{members: ms, seeds: make([]uint64, len(ms))}
	for i, m := range ms {
		r.seeds[i] = hashString(m.Name)
	}
	return r
}

// owner returns the member that owns (tenant, app); false when there are no members.
func (r *ring) owner(tenant, app string) (Member, bool) { return r.ownerExcept(tenant, app, "") }

// ownerExcept is owner over every member but the one named skip (a draining replica: drain.go).
func (r *ring) ownerExcept(tenant, app, skip string) (Member, bool) {
	h := fnv1a(fnv1a(fnv1a(fnvOffset, tenant), "\x00"), app) // names have no NUL: ("ab", "c") ≠ ("a", "bc")
	best, bestScore := -1, uint64(0)
	for i, seed := range r.seeds {
		if s := mix64(h ^ seed); (best < 0 || s > bestScore) && r.members[i].Name != skip {
			best, bestScore = i, s
		}
	}
	if best < 0 {
		return Member{}, false
	}
	return r.members[best], true
}

func (r *ring) equal(o *ring) bool { return o != nil && slices.Equal(r.members, o.members) }

func hashString(s string) uint64 { return fnv1a(fnvOffset, s) }

// FNV-1a, 64 bits, without allocating.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnv1a(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// mix64 is the splitmix64 finalizer: it spreads the bits of FNV's output so that scores of the same
// app under different members are independent.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// membership is the live member list of this replica's view and who this replica is. Readers take the
// current ring without locking; watchers get a channel that is closed on the next change.
type membership struct {
	self string
	ring atomic.Pointer[ring]
	// prev is the ring before the last change: a member that just left may still hand over its apps.
	prev atomic.Pointer[ring]
	// draining says this replica owns nothing any more: every app goes to its owner among the others.
	draining atomic.Bool

	mu      sync.Mutex
	changed chan struct{}
}

func newMembership(self string, members []Member) *membership {
	m := &membership{self: self, changed: make(chan struct{})}
	m.ring.Store(newRing(members))
	m.prev.Store(newRing(nil))
	return m
}

// set replaces the member list; it reports whether the list changed.
func (m *membership) set(members []Member) bool {
	r := newRing(members)
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.equal(m.ring.Load()) {
		return false
	}
	m.prev.Store(m.ring.Load())
	m.ring.Store(r)
	close(m.changed)
	m.changed = make(chan struct{})
	return true
}

// watch returns a channel closed at the next change of the member list.
func (m *membership) watch() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

// owner returns the owner of (tenant, app) and whether it is this replica. With no members at all,
// nobody owns anything and ok is false.
func (m *membership) owner(tenant, app string) (owner Member, local, ok bool) {
	skip := ""
	if m.draining.Load() {
		skip = m.self
	}
	owner, ok = m.ring.Load().ownerExcept(tenant, app, skip)
	return owner, ok && owner.Name == m.self, ok
}

// others returns every member but this replica, of the current list and of the one before it (a
// member that just left may still be reachable and hand over its apps).
func (m *membership) others() []Member {
	var out []Member
	seen := map[string]bool{m.self: true}
	for _, r := range []*ring{m.ring.Load(), m.prev.Load()} {
		for _, mb := range r.members {
			if !seen[mb.Name] {
				seen[mb.Name] = true
				out = append(out, mb)
			}
		}
	}
	return out
}
