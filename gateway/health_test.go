package gateway

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPassiveHealth(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	health := PassiveHealth{EjectAfter: 2, EjectFor: time.Minute}
	tests := []struct {
		name        string
		steps       func(u *Upstream)
		at          time.Time
		wantEjected bool
	}{
		{name: "fresh", steps: func(*Upstream) {}, at: now},
		{name: "fewer failures than the limit", steps: func(u *Upstream) { u.failed(now) }, at: now},
		{name: "failures in a row eject", steps: func(u *Upstream) { u.failed(now); u.failed(now) }, at: now, wantEjected: true},
		{name: "a success between failures resets", steps: func(u *Upstream) { u.failed(now); u.succeeded(); u.failed(now) }, at: now},
		{name: "back after the cool-off", steps: func(u *Upstream) { u.failed(now); u.failed(now) }, at: now.Add(time.Minute)},
		{name: "failing again after the cool-off ejects at once", steps: func(u *Upstream) {
			u.failed(now)
			u.failed(now)
			u.failed(now.Add(time.Minute))
		}, at: now.Add(time.Minute + time.Second), wantEjected: true},
		{name: "a success ends the ejection", steps: func(u *Upstream) { u.failed(now); u.failed(now); u.succeeded() }, at: now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := newUpstream("10.0.0.1:80", &health)
			tt.steps(u)
			assert.Equal(t, tt.wantEjected, u.Ejected(tt.at))
		})
	}
}

// TestBackendSkipsEjected shows the balancer's pick moves past an ejected upstream, unless all are.
func TestBackendSkipsEjected(t *testing.T) {
	t.Parallel()
	pool := NewPoolWith(PassiveHealth{EjectAfter: 1, EjectFor: time.Hour})
	table := Compile(Routes{HTTP: []HTTPRoute{{PathType: PathPrefix,
		Backend: Backend{Service: "ns/web", Port: "80", Endpoints: []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"}}}}}, pool)
	_, be := table.Match("x", "/", nil)
	require.NotNil(t, be)
	pool.Upstream("10.0.0.2:80").failed(time.Now())
	var got []string
	for range 6 {
		got = append(got, be.pick(nil).Addr)
	}
	assert.Equal(t, []string{"10.0.0.1:80", "10.0.0.3:80", "10.0.0.3:80", "10.0.0.1:80", "10.0.0.3:80", "10.0.0.3:80"}, got)

	pool.Upstream("10.0.0.1:80").failed(time.Now())
	pool.Upstream("10.0.0.3:80").failed(time.Now())
	assert.NotNil(t, be.pick(nil), "all ejected: still one is tried")
}

// TestPassiveHealthSurvivesSwap: a recompiled snapshot keeps an upstream's ejection.
func TestPassiveHealthSurvivesSwap(t *testing.T) {
	t.Parallel()
	pool := NewPoolWith(PassiveHealth{EjectAfter: 1, EjectFor: time.Hour})
	routes := Routes{HTTP: []HTTPRoute{{PathType: PathPrefix,
		Backend: Backend{Service: "ns/web", Port: "80", Endpoints: []string{"10.0.0.1:80"}}}}}
	pool.retain(Compile(routes, pool))
	pool.Upstream("10.0.0.1:80").failed(time.Now())
	pool.retain(Compile(routes, pool))
	assert.True(t, pool.Upstream("10.0.0.1:80").Ejected(time.Now()))
}
