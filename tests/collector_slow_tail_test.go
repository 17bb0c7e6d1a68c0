package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/collector"
)

// TestCollectorSlowTail ingests the same load into a `rainflow collector` process twice: with no reader,
// and while a websocket tail reader of the stream reads nothing. Ingest completes both times (the rate
// ratio is logged, not asserted), and the stalled reader, once it reads, is told it dropped lines or finds
// itself disconnected.
func TestCollectorSlowTail(t *testing.T) {
	// not parallel: the rates compared should not depend on what else runs
	ctx := testContext(t)
	const clients, requests, perRequest = 4, 150, 100
	const total = clients * requests * perRequest
	p := newCollectorProc(t, "solo")
	p.start(nil, "--tail-buffer", "1000")

	key := func(phase string) collector.StreamKey {
		return collector.StreamKey{Kind: collector.KindBuild, Tenant: "t1", App: "app", Name: "op-" + phase}
	}
	ingest := func(phase string) time.Duration {
		k := key(phase)
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for c := range clients {
			wg.Go(func() {
				for r := range requests {
					lines := make([]collector.Line, perRequest)
					for i := range lines {
						lines[i] = collector.Line{Kind: k.Kind, Tenant: k.Tenant, App: k.App, Operation: k.Name,
							Message: fmt.Sprintf("c%d r%03d l%03d %s", c, r, i, filler)}
					}
					code, body, err := ingestLines(ctx, http.DefaultClient, p.base(), lines)
					if err == nil && code != http.StatusOK {
						err = fmt.Errorf("ingest answered %d: %s", code, body)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err, "ingest %s", phase)
		}
		return time.Since(start)
	}

	alone := ingest("alone")

	// a tail reader that reads nothing while the same load is ingested
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.base(), "http")+"/v1/streams/"+key("stalled").String()+"/tail", nil)
	require.NoError(t, err)
	if res.Body != nil {
		res.Body.Close()
	}
	t.Cleanup(func() { conn.CloseNow() })
	conn.SetReadLimit(1 << 30)
	require.Eventually(t, func() bool { return metricValue(t, p.base(), "rainflow_collector_tail_subscribers") == 1 },
		30*time.Second, 20*time.Millisecond, "the tail is subscribed")
	stalled := ingest("stalled")
	again := ingest("again") // alone again, to see the rates' spread
	rate := func(d time.Duration) float64 { return float64(total) / d.Seconds() }
	t.Logf("ingest of %d lines: alone %.0f and %.0f lines/s, with a stalled tail reader %.0f lines/s: "+
		"stalled/alone ratio %.2f", total, rate(alone), rate(again), rate(stalled), rate(stalled)/((rate(alone)+rate(again))/2))
	require.Len(t, readStream(t, ctx, p.base(), key("stalled")), total, "every line of the stalled phase is stored")

	// the reader reads now: it was told it dropped lines, or it was disconnected
	var received, dropped int64
	var readErr error
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for received+dropped < total {
		_, b, err := conn.Read(rctx)
		if err != nil {
			readErr = err
			break
		}
		var m collector.TailMessage
		require.NoError(t, json.Unmarshal(b, &m))
		received += int64(len(m.Lines))
		dropped += m.Dropped
	}
	t.Logf("the stalled reader received %d lines, was told %d were dropped, then: %v", received, dropped, readErr)
	require.True(t, dropped > 0 || readErr != nil && received < total,
		"the stalled reader is told it dropped lines or is disconnected (received %d, dropped %d, err %v)", received, dropped, readErr)
	require.Positive(t, metricValue(t, p.base(), "rainflow_collector_tail_dropped_lines_total"), "drops are counted")
}
