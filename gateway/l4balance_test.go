package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// l4Client is a client address: host 10.x.y.z from n, source port 40000+n%1000.
func l4Client(n int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}), uint16(40000+n%1000))
}

// l4Picked is the address of the endpoint the balancer picks for client, "" when there is none.
func l4Picked(b *l4Balancer, client netip.AddrPort) string {
	ups, start, _ := b.pick(client)
	if start < 0 {
		return ""
	}
	return ups[start].Addr
}

// l4Take picks for client and counts a connection in progress on the endpoint, as a successful dial
// does; the connection ends with the returned Upstream's end.
func l4Take(t *testing.T, b *l4Balancer, client netip.AddrPort) *Upstream {
	t.Helper()
	ups, start, _ := b.pick(client)
	require.GreaterOrEqual(t, start, 0)
	_, u, err := l4Dial(t.Context(), ups, start, func(context.Context, string) (struct{}, error) { return struct{}{}, nil })
	require.NoError(t, err)
	return u
}

func TestL4RoundRobinMovesOn(t *testing.T) {
	t.Parallel()
	b := newL4Balancer([]string{"a:1", "b:1", "c:1"}, Balance{})
	var got []string
	for range 4 {
		got = append(got, l4Picked(b, l4Client(1))) // one client too goes round
	}
	assert.Equal(t, []string{"a:1", "b:1", "c:1", "a:1"}, got)

	// A new endpoint set keeps the turn: the next pick is the fifth.
	b.set([]string{"a:1", "b:1", "c:1", "d:1", "e:1"}, Balance{})
	assert.Equal(t, "e:1", l4Picked(b, l4Client(1)))
}

func TestL4LeastConnectionsCountsUntilEnd(t *testing.T) {
	t.Parallel()
	b := newL4Balancer([]string{"a:1", "b:1", "c:1"}, Balance{Policy: BalanceLeastConnections})
	first, second, third := l4Take(t, b, l4Client(1)), l4Take(t, b, l4Client(1)), l4Take(t, b, l4Client(1))
	assert.ElementsMatch(t, []string{"a:1", "b:1", "c:1"}, []string{first.Addr, second.Addr, third.Addr},
		"each new connection goes to an endpoint without one")
	fourth := l4Take(t, b, l4Client(1))
	assert.Equal(t, int64(2), fourth.Inflight())

	// The second connection ends: its endpoint is the least loaded and gets the next connection.
	second.end()
	assert.Equal(t, int64(0), second.Inflight())
	for range 3 {
		assert.Equal(t, second.Addr, l4Picked(b, l4Client(2)), "a pick alone counts nothing")
	}
	assert.Same(t, second, l4Take(t, b, l4Client(2)))
	// Now the fourth's endpoint has two connections and the others one each: it is never picked.
	for range 4 {
		assert.NotEqual(t, fourth.Addr, l4Picked(b, l4Client(2)))
	}
}

func TestL4ConsistentHashByClientIP(t *testing.T) {
	t.Parallel()
	hash := Balance{Policy: BalanceHash, HashBy: "client-ip"}
	four := []string{"10.9.0.1:80", "10.9.0.2:80", "10.9.0.3:80", "10.9.0.4:80"}
	b := newL4Balancer(four, hash)

	// One IP, from any source port, lands on one endpoint.
	ip := netip.MustParseAddr("192.0.2.7")
	want := l4Picked(b, netip.AddrPortFrom(ip, 1))
	for port := range uint16(50) {
		require.Equal(t, want, l4Picked(b, netip.AddrPortFrom(ip, 30000+port)))
	}
	// An IPv4 client seen by a dual-stack socket (::ffff:a.b.c.d) is the same client.
	assert.Equal(t, want, l4Picked(b, netip.AddrPortFrom(netip.AddrFrom16(ip.As16()), 9)))

	// Many IPs spread over every endpoint.
	const clients = 2000
	before := make([]string, clients)
	share := map[string]int{}
	for i := range clients {
		before[i] = l4Picked(b, l4Client(i))
		share[before[i]]++
	}
	for _, ep := range four {
		assert.Greater(t, share[ep], clients/4*3/4, "endpoint %s has %d of %d clients: %v", ep, share[ep], clients, share)
	}

	// An endpoint added takes its share from the others, and no other client moves.
	b.set(append([]string{"10.9.0.0:80"}, four...), hash)
	moved := 0
	for i := range clients {
		if now := l4Picked(b, l4Client(i)); now != before[i] {
			moved++
			require.Equal(t, "10.9.0.0:80", now, "client %d moved between two old endpoints", i)
		}
	}
	assert.InDelta(t, clients/5, moved, clients/20, "about a fifth of the clients move to the fifth endpoint")

	// An endpoint removed: only its clients move.
	b.set(four[1:], hash)
	for i := range clients {
		if before[i] != four[0] {
			require.Equal(t, before[i], l4Picked(b, l4Client(i)), "client %d", i)
		}
	}
}

func TestL4BalancerSwapKeepsCounts(t *testing.T) {
	t.Parallel()
	b := newL4Balancer([]string{"a:1", "b:1"}, Balance{Policy: BalanceLeastConnections})
	a := l4Take(t, b, l4Client(1))
	require.Equal(t, "a:1", a.Addr)

	// Endpoints and policy change while the connection runs: a stays with its count, so
	// least-connections still sees it busy; b and c get the next connections.
	b.set([]string{"a:1", "b:1", "c:1"}, Balance{Policy: BalanceLeastConnections})
	ups, _, _ := b.pick(l4Client(1))
	assert.Same(t, a, ups[0], "the endpoint that stays keeps its Upstream")
	assert.Equal(t, int64(1), ups[0].Inflight())
	assert.ElementsMatch(t, []string{"b:1", "c:1"}, []string{l4Take(t, b, l4Client(1)).Addr, l4Take(t, b, l4Client(1)).Addr})

	// The connection ends after its endpoint left the route: the count it ends is its own.
	b.set([]string{"b:1"}, Balance{})
	a.end()
	assert.Equal(t, int64(0), a.Inflight())
	ups, start, _ := b.pick(l4Client(1))
	assert.Equal(t, int64(1), ups[start].Inflight(), "b's connection is still counted under round robin")
}

func TestL4BalancerWithoutEndpoints(t *testing.T) {
	t.Parallel()
	b := newL4Balancer(nil, Balance{Policy: BalanceHash, HashBy: "client-ip"})
	_, start, changed := b.pick(l4Client(1))
	assert.Equal(t, -1, start)
	b.set([]string{"a:1"}, Balance{Policy: BalanceHash, HashBy: "client-ip"})
	select {
	case <-changed:
	default:
		t.Fatal("a new endpoint set wakes the callers waiting for one")
	}
	assert.Equal(t, "a:1", l4Picked(b, l4Client(1)))
}

func TestL4DialTriesTheOtherEndpoints(t *testing.T) {
	t.Parallel()
	refused := errors.New("connection refused")
	tests := []struct {
		name    string
		down    map[string]bool
		start   int
		want    string // the endpoint dialed; "" when none answers
		dialed  []string
		wantErr string
	}{
		{name: "the picked one answers", start: 1, want: "b:1", dialed: []string{"b:1"}},
		{name: "the next one after a failure", down: map[string]bool{"b:1": true}, start: 1, want: "c:1",
			dialed: []string{"b:1", "c:1"}},
		{name: "wrapping around", down: map[string]bool{"b:1": true, "c:1": true}, start: 1, want: "a:1",
			dialed: []string{"b:1", "c:1", "a:1"}},
		{name: "none answers", down: map[string]bool{"a:1": true, "b:1": true, "c:1": true}, start: 2,
			dialed: []string{"c:1", "a:1", "b:1"}, wantErr: "dial endpoint: c:1: connection refused\na:1: connection refused\nb:1: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ups := []*Upstream{newUpstream("a:1", nil), newUpstream("b:1", nil), newUpstream("c:1", nil)}
			var dialed []string
			got, u, err := l4Dial(t.Context(), ups, tt.start, func(_ context.Context, addr string) (string, error) {
				dialed = append(dialed, addr)
				if tt.down[addr] {
					return "", fmt.Errorf("%s: %w", addr, refused)
				}
				return addr, nil
			})
			assert.Equal(t, tt.dialed, dialed)
			assert.Equal(t, tt.want, got)
			for _, c := range ups {
				want := int64(0)
				if c.Addr == tt.want {
					want = 1
					assert.Same(t, c, u)
				}
				assert.Equal(t, want, c.Inflight(), "a failed dial leaves no count on %s", c.Addr)
			}
			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				assert.ErrorIs(t, err, refused)
				assert.Nil(t, u)
				return
			}
			assert.NoError(t, err)
		})
	}
}

// BenchmarkL4Pick is the cost of choosing the endpoint of a new connection or session, among 10.
func BenchmarkL4Pick(b *testing.B) {
	endpoints := make([]string, 10)
	for i := range endpoints {
		endpoints[i] = fmt.Sprintf("10.0.0.%d:80", i+1)
	}
	for _, bc := range []struct {
		name    string
		balance Balance
	}{
		{name: "round-robin"},
		{name: "least-connections", balance: Balance{Policy: BalanceLeastConnections}},
		{name: "consistent-hash", balance: Balance{Policy: BalanceHash, HashBy: "client-ip"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bal := newL4Balancer(endpoints, bc.balance)
			client := l4Client(7)
			b.ReportAllocs()
			for b.Loop() {
				if _, start, _ := bal.pick(client); start < 0 {
					b.Fatal("no endpoint")
				}
			}
		})
	}
}
