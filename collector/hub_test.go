package collector

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSubscriberBuffer(t *testing.T) {
	t.Parallel()
	lines := func(n int) []Line { return make([]Line, n) }
	tests := []struct {
		name        string
		offers      []int // lines per group, offered in order
		wantGroups  []int // lines per group taken
		wantDropped int64
	}{
		{name: "fits", offers: []int{1, 2, 1}, wantGroups: []int{1, 2, 1}},
		{name: "full drops the group", offers: []int{3, 2}, wantGroups: []int{3}, wantDropped: 2},
		{name: "a group larger than the buffer is taken when it is empty", offers: []int{10}, wantGroups: []int{10}},
		{name: "after a drop the following groups drop too", offers: []int{3, 5, 1}, wantGroups: []int{3}, wantDropped: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHub(nil)
			s := h.subscribe(eventStream("op"), 4, func(l []Line) int { return len(l) })
			for i, n := range tt.offers {
				h.publish(eventStream("op"), tailGroup{end: position{segment: 1, offset: int64(i)}, lines: lines(n)})
				h.publish(eventStream("other"), tailGroup{lines: lines(1)})
			}
			groups, dropped := s.take()
			var got []int
			for _, g := range groups {
				got = append(got, len(g.lines))
			}
			assert.Equal(t, tt.wantGroups, got)
			assert.Equal(t, tt.wantDropped, dropped)
			assert.Len(t, s.wake, 1, "woken once, without waiting")
			groups, dropped = s.take()
			assert.Empty(t, groups)
			assert.Zero(t, dropped)
		})
	}
}

func TestHubClose(t *testing.T) {
	t.Parallel()
	h := newHub(nil)
	s := h.subscribe(eventStream("op"), 4, func(l []Line) int { return len(l) })
	h.close()
	assert.Nil(t, h.subscribe(eventStream("op"), 4, nil), "no subscribing after close")
	<-s.done
	h.unsubscribe(s)
	h.wait()
	assert.Zero(t, h.subscribers())
}
