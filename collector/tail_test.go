package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dialTail opens the live tail of key.
func (tc *testCollector) dialTail(t *testing.T, key StreamKey, params url.Values) *websocket.Conn {
	t.Helper()
	u := strings.Replace(tc.base, "http", "ws", 1) + "/v1/streams/" + key.String() + "/tail?" + params.Encode()
	conn, _, err := websocket.Dial(t.Context(), u, nil)
	require.NoError(t, err)
	conn.SetReadLimit(4 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	return conn
}

// metricsText is GET /metrics.
func (tc *testCollector) metricsText(t *testing.T) string {
	t.Helper()
	res, err := http.Get(tc.base + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	return string(b)
}

// readTail reads one message of a tail within 10s.
func readTail(t *testing.T, conn *websocket.Conn) (TailMessage, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	typ, b, err := conn.Read(ctx)
	if err != nil {
		return TailMessage{}, err
	}
	require.Equal(t, websocket.MessageText, typ)
	var msg TailMessage
	require.NoError(t, json.Unmarshal(b, &msg))
	return msg, nil
}

// readTailLines reads messages until it has n lines (and requires no drop notice).
func readTailLines(t *testing.T, conn *websocket.Conn, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		msg, err := readTail(t, conn)
		require.NoError(t, err, "after %d lines: %v", len(got), got)
		require.Zero(t, msg.Dropped)
		got = append(got, messages(msg.Lines)...)
	}
	return got
}

func TestTailLiveLines(t *testing.T) {
	t.Parallel()
	tc := startCollector(t, Config{})
	key := eventStream("op-live")
	conn := tc.dialTail(t, key, nil)
	tc.ingest(t, event("op-live", "one"), event("op-other", "elsewhere"), event("op-live", "two"))
	tc.ingest(t, event("op-live", "three"))
	assert.Equal(t, []string{"one", "two", "three"}, readTailLines(t, conn, 3))
}

func TestTailBackfillAndFilter(t *testing.T) {
	t.Parallel()
	tc := startCollector(t, Config{})
	for i := range 10 {
		tc.ingest(t, event("op-back", fmt.Sprintf("old %d", i)), event("op-back", fmt.Sprintf("noise %d", i)))
	}
	tests := []struct {
		name   string
		params url.Values
		want   []string
	}{
		{name: "last three", params: url.Values{"backfill": {"3"}}, want: []string{"noise 8", "old 9", "noise 9", "new"}},
		{name: "last three matching", params: url.Values{"backfill": {"3"}, "q": {"old"}}, want: []string{"old 7", "old 8", "old 9"}},
		{name: "more than there is", params: url.Values{"backfill": {"100"}, "q": {"old 1"}}, want: []string{"old 1"}},
		{name: "none", params: nil, want: []string{"new"}},
	}
	conns := make([]*websocket.Conn, len(tests))
	for i, tt := range tests {
		conns[i] = tc.dialTail(t, eventStream("op-back"), tt.params)
	}
	tc.ingest(t, event("op-back", "new"), event("op-back", "old 1 again"))
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readTailLines(t, conns[i], len(tt.want))
			assert.Equal(t, tt.want, got[:len(tt.want)])
		})
	}
}

// TestTailSeam opens tails while lines are being committed: each sees a contiguous run of the stream,
// backfill then live, without a gap or a duplicate at the seam.
func TestTailSeam(t *testing.T) {
	t.Parallel()
	tc := startCollector(t, Config{SyncInterval: time.Millisecond})
	key := eventStream("op-seam")
	const total = 300
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range total {
			tc.ingest(t, event("op-seam", fmt.Sprint("line ", i)))
		}
	})
	var tails []*websocket.Conn
	for range 5 {
		time.Sleep(5 * time.Millisecond)
		tails = append(tails, tc.dialTail(t, key, url.Values{"backfill": {"20"}}))
	}
	wg.Wait()
	all := messages(tc.readAll(t, key))
	require.Len(t, all, total)
	for i, conn := range tails {
		var got []string
		for len(got) == 0 || got[len(got)-1] != all[total-1] {
			got = append(got, readTailLines(t, conn, 1)...)
		}
		assert.Equal(t, all[total-len(got):], got, "tail %d", i)
	}
}

// TestTailSlowReader stalls a reader with a small buffer: every ingest request is still acknowledged,
// and when the reader reads again it finds what it missed counted in the stream.
func TestTailSlowReader(t *testing.T) {
	t.Parallel()
	tc := startCollector(t, Config{Tail: TailConfig{Buffer: 16, WriteTimeout: time.Minute}})
	key := eventStream("op-slow")
	conn := tc.dialTail(t, key, nil)
	const requests, perRequest = 100, 100
	big := strings.Repeat("x", 2000)
	for r := range requests {
		var lines []Line
		for i := range perRequest {
			lines = append(lines, event("op-slow", fmt.Sprintf("%d/%d %s", r, i, big)))
		}
		tc.ingest(t, lines...) // acknowledged although the reader reads nothing
	}
	received, dropped := 0, int64(0)
	for int64(received)+dropped < requests*perRequest {
		msg, err := readTail(t, conn)
		require.NoError(t, err, "received %d, dropped %d", received, dropped)
		received += len(msg.Lines)
		dropped += msg.Dropped
	}
	assert.Positive(t, dropped)
	assert.EqualValues(t, requests*perRequest, int64(received)+dropped)
	assert.Contains(t, tc.metricsText(t), fmt.Sprintf("rainflow_collector_tail_dropped_lines_total %d", dropped))
}

func TestTailClosedOnShutdown(t *testing.T) {
	t.Parallel()
	tc := startCollector(t, Config{})
	conn := tc.dialTail(t, eventStream("op-bye"), nil)
	tc.ingest(t, event("op-bye", "hello"))
	readTailLines(t, conn, 1)
	go tc.stop()
	_, err := readTail(t, conn)
	assert.Equal(t, websocket.StatusGoingAway, websocket.CloseStatus(err))
	assert.ErrorContains(t, err, reasonShutdown)
}

func TestTailRefusesBadRequests(t *testing.T) {
	t.Parallel()
	tc := startCollector(t, Config{})
	tests := []struct {
		name, path string
		want       string
	}{
		{name: "backfill not a number", path: "event/t1/shop/op/tail?backfill=x", want: "backfill"},
		{name: "backfill too big", path: "event/t1/shop/op/tail?backfill=5001", want: "backfill"},
		{name: "bad kind", path: "nope/t1/shop/op/tail", want: "kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := strings.Replace(tc.base, "http", "ws", 1) + "/v1/streams/" + tt.path
			_, res, err := websocket.Dial(t.Context(), u, nil)
			require.Error(t, err)
			require.NotNil(t, res)
			assert.Equal(t, http.StatusBadRequest, res.StatusCode)
		})
	}
}
