package gateway

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoundRobin(t *testing.T) {
	t.Parallel()
	ups := []*Upstream{{Addr: "a"}, {Addr: "b"}, {Addr: "c"}}
	tests := []struct {
		name      string
		upstreams []*Upstream
		picks     int
		want      []string
	}{
		{name: "none", upstreams: nil, picks: 2, want: []string{"", ""}},
		{name: "one", upstreams: ups[:1], picks: 3, want: []string{"a", "a", "a"}},
		{name: "in turn", upstreams: ups, picks: 7, want: []string{"a", "b", "c", "a", "b", "c", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var rr RoundRobin
			var got []string
			for range tt.picks {
				u := rr.Pick(tt.upstreams, nil)
				if u == nil {
					got = append(got, "")
					continue
				}
				got = append(got, u.Addr)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestPoolSurvivesSwap shows that per-endpoint state outlives a snapshot: a recompiled table points at
// the same Upstream, an endpoint that left keeps its state while requests are in flight, and balancer
// positions continue across swaps.
func TestPoolSurvivesSwap(t *testing.T) {
	t.Parallel()
	pool := NewPool()
	two := Routes{HTTP: []HTTPRoute{{Path: "", PathType: PathPrefix,
		Backend: Backend{Service: "ns/web", Port: "80", Endpoints: []string{"10.0.0.1:80", "10.0.0.2:80"}}}}}
	one := Routes{HTTP: []HTTPRoute{{Path: "", PathType: PathPrefix,
		Backend: Backend{Service: "ns/web", Port: "80", Endpoints: []string{"10.0.0.1:80"}}}}}

	first := Compile(two, pool)
	pool.retain(first)
	_, be := first.Match("x", "/", nil)
	require.NotNil(t, be)
	assert.Equal(t, "10.0.0.1:80", be.pick(nil).Addr)
	leaving := be.pick(nil)
	require.Equal(t, "10.0.0.2:80", leaving.Addr)
	leaving.begin() // a request still in flight to the endpoint that leaves

	second := Compile(two, pool)
	pool.retain(second)
	_, be2 := second.Match("x", "/", nil)
	assert.Same(t, be.upstreams[0], be2.upstreams[0], "same upstream state after a swap")
	assert.Equal(t, "10.0.0.1:80", be2.pick(nil).Addr, "balancer position continues")

	third := Compile(one, pool)
	pool.retain(third)
	assert.Same(t, leaving, pool.Upstream("10.0.0.2:80"), "kept while in flight")
	assert.EqualValues(t, 1, pool.Upstream("10.0.0.2:80").Inflight())
	leaving.end()
	pool.retain(third)
	assert.Nil(t, pool.Upstream("10.0.0.2:80"), "dropped once idle and unused")
	assert.NotNil(t, pool.Upstream("10.0.0.1:80"))
}
