package gateway

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRequestIDs checks the fast path's ids: rand.Text's format (a valid token and a sane request
// id), different from one request to the next and from one connection to another.
func TestRequestIDs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name        string
		connections int
		perConn     int
		inPlace     bool // nextInPlace instead of next
	}{
		{name: "one connection", connections: 1, perConn: 10000},
		{name: "many connections", connections: 1000, perConn: 3},
		{name: "in place", connections: 10, perConn: 1000, inPlace: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			seen := make(map[string]bool, tt.connections*tt.perConn)
			for range tt.connections {
				var ids requestIDs
				for range tt.perConn {
					id := ids.next()
					if tt.inPlace {
						id = strings.Clone(ids.nextInPlace())
					}
					require.Len(t, id, 26)
					require.True(t, saneRequestID(id), id)
					for _, r := range id {
						require.True(t, strings.ContainsRune(requestIDAlphabet, r), "%q in %s", r, id)
					}
					require.False(t, seen[id], "id %s made twice", id)
					seen[id] = true
				}
			}
			// Every character position takes many values: the ids are not a counter.
			for pos := range 26 {
				values := map[byte]bool{}
				for id := range seen {
					values[id[pos]] = true
				}
				assert.Greater(t, len(values), 8, "position %d", pos)
			}
		})
	}
}

func BenchmarkRequestID(b *testing.B) {
	var ids requestIDs
	b.ReportAllocs()
	for b.Loop() {
		_ = ids.next()
	}
}
