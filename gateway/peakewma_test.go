package gateway

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPeakEWMAPrefersTheFasterUpstream(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	fast, slow := &Upstream{Addr: "fast"}, &Upstream{Addr: "slow"}
	fast.ewma.observe(time.Millisecond, now)
	slow.ewma.observe(50*time.Millisecond, now)
	tests := []struct {
		name      string
		upstreams []*Upstream
		want      string
	}{
		{name: "none", upstreams: nil, want: ""},
		{name: "one", upstreams: []*Upstream{slow}, want: "slow"},
		{name: "the cheaper of two", upstreams: []*Upstream{slow, fast}, want: "fast"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for range 20 { // two of two are always drawn
				got := ""
				if u := (PeakEWMA{}).Pick(tt.upstreams, nil); u != nil {
					got = u.Addr
				}
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

func TestPeakEWMALoadCounts(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	busy, idle := &Upstream{Addr: "busy"}, &Upstream{Addr: "idle"}
	busy.ewma.observe(10*time.Millisecond, now)
	idle.ewma.observe(30*time.Millisecond, now)
	busy.inflight.Store(5) // 10ms × 6 costs more than 30ms × 1
	assert.Equal(t, "idle", (PeakEWMA{}).Pick([]*Upstream{busy, idle}, nil).Addr)
}

func TestEWMAPeaksUpAndDecays(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	var e ewma
	e.observe(10*time.Millisecond, now)
	assert.Equal(t, int64(10*time.Millisecond), e.value.Load(), "the first measure is the value")
	e.observe(100*time.Millisecond, now.Add(time.Millisecond))
	assert.Equal(t, int64(100*time.Millisecond), e.value.Load(), "a slower answer counts at once")
	e.observe(10*time.Millisecond, now.Add(ewmaDecay+time.Millisecond))
	// After one decay period the old value weighs 1/e: 100ms/e + 10ms(1-1/e) ≈ 43.1ms.
	assert.InDelta(t, float64(43100*time.Microsecond), float64(e.value.Load()), float64(200*time.Microsecond))
	e.observe(10*time.Millisecond, now.Add(100*ewmaDecay))
	assert.InDelta(t, float64(10*time.Millisecond), float64(e.value.Load()), float64(10*time.Microsecond), "old peaks fade")
}
