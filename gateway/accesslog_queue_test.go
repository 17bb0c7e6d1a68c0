package gateway

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/rainflow/rainflow/collector"
)

// TestAccessLogQueueAllocs: a request's access line costs no allocation when it is queued for the
// collector (the process's log off, as the fast path runs it), nor when the full queue drops it.
func TestAccessLogQueueAllocs(t *testing.T) {
	tests := []struct {
		name      string
		queue     int
		wantQueue bool // the lines are queued, not dropped
	}{
		{name: "queued", queue: 2000, wantQueue: true},
		{name: "dropped on a full queue", queue: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMetrics()
			access, c := newAccessLog(AccessLogConfig{CollectorURL: "http://127.0.0.1:7482", QueueSize: tt.queue},
				slog.New(slog.DiscardHandler), m)
			c.update(Objects{Ingresses: []*networkingv1.Ingress{withLabels(ingress("t1", "web"), componentLabels("t1", "shop", "web"))}})
			ex := &exchange{ingress: "t1/web", backend: "t1/web:http", upstream: &Upstream{Addr: "10.1.0.7:8080"}}
			e := accessEntry{requestID: "0123456789abcdef", method: "GET", host: "shop.example.com", path: "/cart",
				remote: "10.0.0.9:51234", status: 200, bytes: 512, start: time.Now(), unlogged: true}
			ctx := context.Background()
			allocs := testing.AllocsPerRun(1000, func() { logAccess(ctx, access, m, ex, e) }) // the sender is not running
			assert.Zero(t, allocs)
			dropped := value(t, m.accessDropped.WithLabelValues("queue-full"))
			if tt.wantQueue {
				assert.Equal(t, 1001, c.queue.len(), "AllocsPerRun's 1000 runs and its warm-up")
				assert.Zero(t, dropped)
			} else {
				assert.Equal(t, 1, c.queue.len())
				assert.Equal(t, 1000.0, dropped)
			}
		})
	}
}

// TestAccessQueueOrder: lines come out of the ring in the order they went in, across its wrap-around,
// with the sender reading some while requests add more; a full ring refuses lines until the sender
// releases slots.
func TestAccessQueueOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		size   int
		rounds []struct{ put, take int } // per round: lines put, then lines the sender takes
	}{
		{name: "in step", size: 4, rounds: []struct{ put, take int }{{3, 3}, {3, 3}, {3, 3}}},
		{name: "wraps while half read", size: 5, rounds: []struct{ put, take int }{{4, 2}, {3, 4}, {5, 3}, {0, 10}}},
		{name: "full", size: 3, rounds: []struct{ put, take int }{{5, 1}, {2, 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := newAccessQueue(tt.size)
			next, want := 0, 0 // the next line put, the next line expected out
			owner := accessOwner{tenant: "t1", app: "shop", component: "web"}
			for _, r := range tt.rounds {
				for range r.put {
					e := accessEntry{method: "GET", path: "/" + strconv.Itoa(next), status: 200}
					before := q.len()
					waiting, ok := q.put(owner, &exchange{}, &e, 200, 0, time.Time{})
					require.Equal(t, before < tt.size, ok, "a line is refused exactly when the ring is full")
					if ok {
						assert.Equal(t, before+1, waiting)
						next++
					}
				}
				require.LessOrEqual(t, q.len(), tt.size)
				start, n := q.waiting(r.take)
				require.Equal(t, min(r.take, next-want), n)
				for i := range n {
					msg := string(q.slot(start, i).msg)
					assert.Regexp(t, `^GET /`+strconv.Itoa(want)+` 200 `, msg)
					want++
				}
				q.release(n)
			}
			assert.Equal(t, next, want, "every line put came out")
		})
	}
}

// TestAccessQueueLongMessage: a line longer than a slot's buffer is kept whole, and the slot gives a
// very large buffer back once the line is sent.
func TestAccessQueueLongMessage(t *testing.T) {
	t.Parallel()
	q := newAccessQueue(2)
	long := "/" + string(make([]byte, 2*accessSlotKeep))
	_, ok := q.put(accessOwner{}, &exchange{}, &accessEntry{method: "GET", path: long}, 200, 0, time.Time{})
	require.True(t, ok)
	start, n := q.waiting(1)
	require.Equal(t, 1, n)
	assert.Contains(t, string(q.slot(start, 0).msg), long+" 200 ")
	q.release(1)
	assert.Nil(t, q.slots[start].msg, "the large buffer is given back")
	_, ok = q.put(accessOwner{}, &exchange{}, &accessEntry{method: "GET", path: "/again"}, 200, 0, time.Time{})
	require.True(t, ok)
	start, _ = q.waiting(1)
	assert.Regexp(t, `^GET /again 200 `, string(q.slot(start, 0).msg))
	assert.Equal(t, collector.LevelInfo, q.slot(start, 0).level)
}
