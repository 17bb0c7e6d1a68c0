package gateway

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func hashUpstreams(n int) []*Upstream {
	var ups []*Upstream
	for i := range n {
		ups = append(ups, newUpstream(fmt.Sprintf("10.0.0.%d:80", i+1), &PassiveHealth{}))
	}
	return ups
}

func TestConsistentHashKeys(t *testing.T) {
	t.Parallel()
	ups := hashUpstreams(5)
	tests := []struct {
		name string
		by   string
		a, b *http.Request // two requests of the same key
	}{
		{name: "client ip, any port", by: "client-ip",
			a: &http.Request{RemoteAddr: "192.0.2.7:1111"}, b: &http.Request{RemoteAddr: "192.0.2.7:2222"}},
		{name: "header", by: "header:X-User",
			a: &http.Request{Header: http.Header{"X-User": {"ann"}}}, b: &http.Request{Header: http.Header{"X-User": {"ann"}, "X-Other": {"1"}}}},
		{name: "cookie", by: "cookie:session",
			a: &http.Request{Header: http.Header{"Cookie": {"session=s1"}}}, b: &http.Request{Header: http.Header{"Cookie": {"a=b; session=s1"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ch := newConsistentHash(tt.by)
			first := ch.Pick(ups, tt.a)
			require.NotNil(t, first)
			for range 5 {
				assert.Same(t, first, ch.Pick(ups, tt.a))
				assert.Same(t, first, ch.Pick(ups, tt.b))
			}
		})
	}
}

// TestConsistentHashSpreadsAndMovesLittle hashes many keys: they spread over every upstream, and when one
// upstream leaves only its own keys move.
func TestConsistentHashSpreadsAndMovesLittle(t *testing.T) {
	t.Parallel()
	ups := hashUpstreams(5)
	ch := newConsistentHash("header:X-User")
	req := func(key string) *http.Request { return &http.Request{Header: http.Header{"X-User": {key}}} }
	before := map[string]*Upstream{}
	counts := map[*Upstream]int{}
	for i := range 5000 {
		key := fmt.Sprint("user-", i)
		u := ch.Pick(ups, req(key))
		before[key] = u
		counts[u]++
	}
	for _, u := range ups {
		assert.InDelta(t, 1000, counts[u], 200, "share of %s", u.Addr)
	}
	left := ups[2]
	rest := append(append([]*Upstream{}, ups[:2]...), ups[3:]...)
	for key, u := range before {
		got := ch.Pick(rest, req(key))
		if u != left {
			assert.Same(t, u, got, "key %s moved though its upstream stayed", key)
		}
	}
}

func TestConsistentHashWithoutKeyGoesRoundRobin(t *testing.T) {
	t.Parallel()
	ups := hashUpstreams(2)
	ch := newConsistentHash("header:X-User")
	got := []string{ch.Pick(ups, &http.Request{}).Addr, ch.Pick(ups, &http.Request{}).Addr, ch.Pick(ups, nil).Addr}
	assert.Equal(t, []string{ups[0].Addr, ups[1].Addr, ups[0].Addr}, got)
	assert.Nil(t, ch.Pick(nil, &http.Request{Header: http.Header{"X-User": {"a"}}}))
}
