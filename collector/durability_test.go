package collector

import (
	"encoding/binary"
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

// TestAckWaitsForFsync holds the committer's fsync and shows the request is not answered until it
// returns; then reopens the data dir in a fresh Collector and finds every acknowledged line.
func TestAckWaitsForFsync(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	release := make(chan struct{})
	var syncs atomic.Int64
	tc := startCollector(t, Config{DataDir: dir}, func(c *Collector) {
		c.syncFile = func(f *os.File) error {
			syncs.Add(1)
			<-release
			return f.Sync()
		}
	})
	answered := make(chan int, 1)
	go func() {
		status, _ := tc.post(t, ndjson(t, event("op-sync", "one"), event("op-sync", "two")), "")
		answered <- status
	}()
	require.Eventually(t, func() bool { return syncs.Load() == 1 }, 5*time.Second, time.Millisecond, "fsync reached")
	select {
	case status := <-answered:
		t.Fatalf("answered %d before its fsync returned", status)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	assert.Equal(t, http.StatusOK, <-answered)
	tc.stop()

	again := startCollector(t, Config{DataDir: dir})
	assert.Equal(t, []string{"one", "two"}, messages(again.readAll(t, eventStream("op-sync"))))
}

// TestFailedSyncFailsTheCycleBehind holds a commit's fsync while later requests are written behind it,
// then makes that fsync fail: the request and every one written behind it are answered 500, their
// streams are truncated back to where the failed commit started (on disk too), nothing of them is
// readable, and the streams take later lines normally.
func TestFailedSyncFailsTheCycleBehind(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hold := make(chan struct{})
	var failing atomic.Bool
	var syncs atomic.Int64
	tc := startCollector(t, Config{DataDir: dir}, func(c *Collector) {
		c.syncFile = func(f *os.File) error {
			if failing.Load() && syncs.Add(1) == 1 {
				<-hold
				return fmt.Errorf("injected: %w", os.ErrInvalid)
			}
			return f.Sync()
		}
	})
	tc.ingest(t, event("op-fail", "before"), event("op-behind", "before"))
	failing.Store(true)

	type answer struct {
		status int
		body   string
	}
	answers := make(chan answer, 4)
	post := func(lines ...Line) {
		status, body := tc.post(t, ndjson(t, lines...), "")
		answers <- answer{status, string(body)}
	}
	go post(event("op-fail", "failed"))
	require.Eventually(t, func() bool { return syncs.Load() == 1 }, 5*time.Second, time.Millisecond, "first fsync reached")
	go post(event("op-fail", "behind 1"))
	go post(event("op-fail", "behind 2"), event("op-behind", "behind 2"))
	go post(event("op-behind", "behind 3"))
	require.Eventually(t, func() bool {
		return recordsWritten(t, dir, eventStream("op-fail")) == 4 && recordsWritten(t, dir, eventStream("op-behind")) == 3
	}, 5*time.Second, time.Millisecond, "the later requests written behind the held fsync")
	close(hold)
	for range 4 {
		a := <-answers
		assert.Equal(t, http.StatusInternalServerError, a.status)
		assert.Contains(t, a.body, "injected")
	}
	assert.Equal(t, 1, recordsWritten(t, dir, eventStream("op-fail")), "truncated back on disk")
	assert.Equal(t, 1, recordsWritten(t, dir, eventStream("op-behind")), "truncated back on disk")

	failing.Store(false)
	tc.ingest(t, event("op-fail", "after"), event("op-behind", "after"))
	assert.Equal(t, []string{"before", "after"}, messages(tc.readAll(t, eventStream("op-fail"))))
	assert.Equal(t, []string{"before", "after"}, messages(tc.readAll(t, eventStream("op-behind"))))
	tc.stop()
	again := startCollector(t, Config{DataDir: dir})
	assert.Equal(t, []string{"before", "after"}, messages(again.readAll(t, eventStream("op-fail"))))
}

// TestReopenFindsAcknowledgedLines ingests concurrently into several streams, stops, and reads every
// acknowledged line back from a fresh Collector over the same directory; the new one appends after them.
func TestReopenFindsAcknowledgedLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tc := startCollector(t, Config{DataDir: dir, SegmentBytes: 4096})
	const writers, requests = 4, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for r := range requests {
				tc.ingest(t, event(fmt.Sprintf("op-%d", w), fmt.Sprintf("w%d r%d a", w, r)),
					event(fmt.Sprintf("op-%d", w), fmt.Sprintf("w%d r%d b", w, r)))
			}
		})
	}
	wg.Wait()
	tc.stop()

	again := startCollector(t, Config{DataDir: dir, SegmentBytes: 4096})
	for w := range writers {
		var want []string
		for r := range requests {
			want = append(want, fmt.Sprintf("w%d r%d a", w, r), fmt.Sprintf("w%d r%d b", w, r))
		}
		key := eventStream(fmt.Sprintf("op-%d", w))
		assert.Equal(t, want, messages(again.readAll(t, key)), "stream %s", key)
	}
	segs, err := listSegments(eventStream("op-0").dir(dir))
	require.NoError(t, err)
	assert.Greater(t, len(segs), 1, "small segments rolled")

	again.ingest(t, event("op-0", "after reopen"))
	all := again.readAll(t, eventStream("op-0"))
	assert.Equal(t, "after reopen", all[len(all)-1].Message)
	assert.Len(t, all, 2*requests+1)
}

func TestTornTailTruncatedOnOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tail func(t *testing.T) []byte // bytes a crash left after the last whole record
		kept []string                  // lines of the tail that stay
	}{
		{name: "short header", tail: func(*testing.T) []byte { return []byte{42, 0, 0} }},
		{name: "short payload", tail: func(*testing.T) []byte {
			rec := appendRecord(nil, []byte(`{"kind":"event","message":"half of it"}`))
			return rec[:len(rec)-7]
		}},
		{name: "bad checksum", tail: func(*testing.T) []byte {
			rec := appendRecord(nil, []byte(`{"kind":"event","message":"bit flip"}`))
			rec[len(rec)-3] ^= 0x20
			return rec
		}},
		{name: "absurd length", tail: func(*testing.T) []byte {
			return binary.LittleEndian.AppendUint32(nil, 0xFFFFFFF0)
		}},
		{name: "zeroes", tail: func(*testing.T) []byte { return make([]byte, 4096) }},
		// a SIGKILL can end a write part way: the whole records of an unfinished write go with it
		{name: "write cut inside a record", tail: func(*testing.T) []byte {
			w := oneWrite("lost 1", "lost 2", "lost 3")
			return w[:len(w)-5]
		}},
		{name: "write cut between records", tail: func(*testing.T) []byte {
			w := oneWrite("lost 1", "lost 2", "lost 3")
			return w[:len(w)-len(appendRecord(nil, []byte(`{"kind":"event","message":"lost 3"}`)))]
		}},
		{name: "whole write, then a cut one", tail: func(*testing.T) []byte {
			w := oneWrite("lost 1", "lost 2")
			return append(oneWrite("kept 1", "kept 2"), w[:len(w)-1]...)
		}, kept: []string{"kept 1", "kept 2"}},
		{name: "records without write marks (written before them)", tail: func(*testing.T) []byte {
			old := appendRecord(nil, eventPayload("old 1"))
			old = appendRecord(old, eventPayload("old 2"))
			return append(old, 42, 0)
		}, kept: []string{"old 1", "old 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			tc := startCollector(t, Config{DataDir: dir})
			tc.ingest(t, event("op-torn", "one"), event("op-torn", "two"))
			tc.ingest(t, event("op-torn", "three"))
			tc.stop()

			seg := filepath.Join(eventStream("op-torn").dir(dir), segmentName(1))
			whole, err := os.Stat(seg)
			require.NoError(t, err)
			f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			_, err = f.Write(tt.tail(t))
			require.NoError(t, err)
			require.NoError(t, f.Close())

			again := startCollector(t, Config{DataDir: dir})
			want := append([]string{"one", "two", "three"}, tt.kept...)
			assert.Equal(t, want, messages(again.readAll(t, eventStream("op-torn"))))
			if tt.kept == nil {
				after, err := os.Stat(seg)
				require.NoError(t, err)
				assert.Equal(t, whole.Size(), after.Size(), "truncated back to the last whole write")
			}

			again.ingest(t, event("op-torn", "four"))
			assert.Equal(t, append(want, "four"), messages(again.readAll(t, eventStream("op-torn"))))
		})
	}
}

func TestDataDirIsLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	startCollector(t, Config{DataDir: dir})
	second, err := New(Config{DataDir: dir, Listen: "127.0.0.1:0"}, nil)
	require.NoError(t, err)
	assert.ErrorContains(t, second.Run(t.Context()), "is another collector using it?")
}

// eventPayload is the record payload of an event line of op-torn saying msg.
func eventPayload(msg string) []byte {
	return fmt.Appendf(nil, `{"time":"2026-11-28T12:00:00Z","tenant":"t1","app":"shop","operation":"op-torn","message":%q,"kind":"event"}`, msg)
}

// oneWrite is the records of msgs as the committer writes one request's lines: marked as one write.
func oneWrite(msgs ...string) []byte {
	var w []byte
	for _, m := range msgs {
		w = appendRecord(w, eventPayload(m))
	}
	markWrite(w)
	return w
}
