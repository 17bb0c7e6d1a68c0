package collector

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentIngest runs many writers on a few shared streams: every request is acknowledged, no
// line is lost or duplicated, and each writer's lines keep their order within a stream.
func TestConcurrentIngest(t *testing.T) {
	t.Parallel()
	tc := startCollector(t, Config{SyncInterval: time.Millisecond})
	const writers, requests, perRequest, streams = 8, 25, 4, 3
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for r := range requests {
				var lines []Line
				for i := range perRequest {
					op := fmt.Sprintf("op-%d", (r+i)%streams)
					lines = append(lines, event(op, fmt.Sprintf("%d/%d/%d", w, r, i)))
				}
				tc.ingest(t, lines...)
			}
		})
	}
	wg.Wait()

	total := 0
	for s := range streams {
		lines := tc.readAll(t, eventStream(fmt.Sprintf("op-%d", s)))
		total += len(lines)
		last := map[int][2]int{} // writer → last (request, index) seen
		for _, l := range lines {
			var w, r, i int
			_, err := fmt.Sscanf(l.Message, "%d/%d/%d", &w, &r, &i)
			require.NoError(t, err)
			prev, seen := last[w]
			if seen {
				assert.True(t, r > prev[0] || (r == prev[0] && i > prev[1]), "writer %d out of order: %v after %v", w, [2]int{r, i}, prev)
			}
			last[w] = [2]int{r, i}
		}
	}
	assert.Equal(t, writers*requests*perRequest, total)
}

// TestGroupCommit shows requests that arrive while a commit's fsync is in progress are written behind
// it at once (not yet readable, not yet acknowledged) and share the next commit: one fsync of the stream
// for all of them.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	var syncs atomic.Int64
	var tc *testCollector
	tc = startCollector(t, Config{}, func(c *Collector) {
		c.syncFile = func(f *os.File) error {
			if syncs.Add(1) == 1 {
				<-hold
			}
			return f.Sync()
		}
	})
	var wg sync.WaitGroup
	wg.Go(func() { tc.ingest(t, event("op-group", "first")) })
	require.Eventually(t, func() bool { return syncs.Load() == 1 }, 5*time.Second, time.Millisecond)

	const waiting = 10
	for i := range waiting {
		wg.Go(func() { tc.ingest(t, event("op-group", fmt.Sprint("waiting ", i))) })
	}
	require.Eventually(t, func() bool { return recordsWritten(t, tc.cfg.DataDir, eventStream("op-group")) == 1+waiting },
		5*time.Second, time.Millisecond, "the waiting requests written behind the first")
	assert.Empty(t, tc.readAll(t, eventStream("op-group")), "nothing readable before its fsync")
	close(hold)
	wg.Wait()

	assert.EqualValues(t, 2, syncs.Load(), "one fsync for the first request, one for the ten queued behind it")
	assert.Len(t, tc.readAll(t, eventStream("op-group")), 1+waiting)
}

// TestFailedSyncRollsBack makes an fsync fail: the request is answered 500, nothing of it is readable,
// and the stream takes later lines normally.
func TestFailedSyncRollsBack(t *testing.T) {
	t.Parallel()
	var fail atomic.Bool
	tc := startCollector(t, Config{}, func(c *Collector) {
		c.syncFile = func(f *os.File) error {
			if fail.Load() {
				return fmt.Errorf("injected: %w", os.ErrInvalid)
			}
			return f.Sync()
		}
	})
	tc.ingest(t, event("op-fail", "before"))
	fail.Store(true)
	status, body := tc.post(t, ndjson(t, event("op-fail", "lost 1"), event("op-fail", "lost 2"),
		event("op-other", "lost too")), "")
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.Contains(t, string(body), "injected")
	fail.Store(false)
	tc.ingest(t, event("op-fail", "after"))
	assert.Equal(t, []string{"before", "after"}, messages(tc.readAll(t, eventStream("op-fail"))))
	assert.Empty(t, tc.readAll(t, eventStream("op-other")))
}

// TestCommitListener is the live tail's seam: every committed group, in order, after the ack.
func TestCommitListener(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	tc := startCollector(t, Config{}, func(c *Collector) {
		c.OnCommit(func(key StreamKey, lines []Line) {
			mu.Lock()
			defer mu.Unlock()
			for _, l := range lines {
				got = append(got, key.String()+" "+l.Message)
			}
		})
	})
	tc.ingest(t, event("op-tail", "a"), Line{Kind: KindRuntime, Tenant: "t1", App: "shop", Component: "web", Message: "b"}, event("op-tail", "c"))
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 3 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, []string{"event/t1/shop/op-tail a", "event/t1/shop/op-tail c", "runtime/t1/shop/web b"}, got)
}

func TestIdleStreamsAreClosed(t *testing.T) {
	t.Parallel()
	tc := startCollector(t, Config{IdleClose: time.Millisecond})
	tc.ingest(t, event("op-idle", "one"))
	rn := tc.running.Load()
	require.Eventually(t, func() bool {
		rn.store.mu.Lock()
		defer rn.store.mu.Unlock()
		return len(rn.store.streams) == 0
	}, 10*time.Second, 10*time.Millisecond)
	tc.ingest(t, event("op-idle", "two"))
	assert.Equal(t, []string{"one", "two"}, messages(tc.readAll(t, eventStream("op-idle"))))
}

// recordsWritten counts the whole records in the first segment of key under dir, durable or not.
func recordsWritten(t *testing.T, dir string, key StreamKey) int {
	t.Helper()
	f, err := os.Open(filepath.Join(key.dir(dir), segmentName(1)))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	require.NoError(t, err)
	defer f.Close()
	fi, err := f.Stat()
	require.NoError(t, err)
	_, n, err := validLength(f, fi.Size())
	require.NoError(t, err)
	return n
}
