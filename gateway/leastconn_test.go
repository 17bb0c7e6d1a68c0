package gateway

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLeastConnections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		inflight []int64 // per upstream a, b, c
		picks    int
		want     []string
	}{
		{name: "none", inflight: nil, picks: 1, want: []string{""}},
		{name: "the least busy", inflight: []int64{3, 1, 2}, picks: 3, want: []string{"b", "b", "b"}},
		{name: "ties are spread by a rotating start", inflight: []int64{0, 0, 5}, picks: 4, want: []string{"a", "b", "a", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ups []*Upstream
			for i, n := range tt.inflight {
				u := &Upstream{Addr: string(rune('a' + i))}
				u.inflight.Store(n)
				ups = append(ups, u)
			}
			var lc LeastConnections
			var got []string
			for range tt.picks {
				if u := lc.Pick(ups, nil); u != nil {
					got = append(got, u.Addr)
				} else {
					got = append(got, "")
				}
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
