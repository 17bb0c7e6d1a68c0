package tests

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/collector"
)

// TestCollectorKilled kills a `rainflow collector` process with SIGKILL while several clients ingest,
// restarts it on the same data dir, and finds every acknowledged line exactly once; a request that was
// not acknowledged is stored whole or not at all.
func TestCollectorKilled(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	const clients, requests, perRequest = 8, 400, 100
	p := newCollectorProc(t, "solo")
	p.start(nil)

	key := func(client int) collector.StreamKey {
		return collector.StreamKey{Kind: collector.KindEvent, Tenant: "t1", App: fmt.Sprintf("app-%d", client%4), Name: fmt.Sprintf("op-%d", client)}
	}
	request := func(client, req int) []collector.Line {
		k := key(client)
		lines := make([]collector.Line, perRequest)
		for i := range lines {
			lines[i] = collector.Line{Kind: k.Kind, Tenant: k.Tenant, App: k.App, Operation: k.Name,
				Message: fmt.Sprintf("c%d r%03d l%03d %s", client, req, i, filler)}
		}
		return lines
	}
	type outcome int
	const (
		notSent outcome = iota
		acked
		unknown // sent, answered by an error or nothing
	)
	results := make([][]outcome, clients)
	var ackedRequests atomic.Int64
	var wg sync.WaitGroup
	hc := &http.Client{Timeout: 30 * time.Second}
	for c := range clients {
		results[c] = make([]outcome, requests)
		wg.Go(func() {
			for r := range requests {
				code, _, err := ingestLines(ctx, hc, p.base(), request(c, r))
				if err == nil && code == http.StatusOK {
					results[c][r] = acked
					ackedRequests.Add(1)
					continue
				}
				results[c][r] = unknown
				return // the collector is gone: this client stops
			}
		})
	}
	// kill it in the middle of the ingest: after a quarter of the requests were acknowledged
	require.Eventually(t, func() bool { return ackedRequests.Load() >= clients*requests/4 }, 3*time.Minute, time.Millisecond,
		"a quarter of the requests acknowledged")
	p.kill()
	wg.Wait()
	ackedAtKill := ackedRequests.Load()
	t.Logf("SIGKILL after %d of %d requests (%d lines each) were acknowledged", ackedAtKill, clients*requests, perRequest)
	require.Less(t, ackedAtKill, int64(clients*requests), "the collector was killed during the ingest")

	p.start(nil)
	for c := range clients {
		lines := readStream(t, ctx, p.base(), key(c))
		seen := make(map[string]bool, len(lines))
		perReq := make(map[int]int)
		for _, l := range lines {
			require.False(t, seen[l.Message], "line %q is stored twice", l.Message)
			seen[l.Message] = true
			var cc, r, i int
			_, err := fmt.Sscanf(l.Message, "c%d r%d l%d", &cc, &r, &i)
			require.NoError(t, err, "line %q", l.Message)
			require.Equal(t, c, cc)
			perReq[r]++
		}
		for r, o := range results[c] {
			switch o {
			case acked:
				require.Equal(t, perRequest, perReq[r], "client %d's acknowledged request %d: lines found", c, r)
			case unknown:
				require.Contains(t, []int{0, perRequest}, perReq[r], "client %d's unacknowledged request %d is stored whole or not at all", c, r)
			case notSent:
				require.Zero(t, perReq[r], "client %d's request %d was never sent", c, r)
			}
		}
		// and in the order they were acknowledged, per client
		last := -1
		for _, l := range lines {
			var cc, r, i int
			_, _ = fmt.Sscanf(l.Message, "c%d r%d l%d", &cc, &r, &i)
			require.GreaterOrEqual(t, r, last, "client %d's requests are stored in order", c)
			last = r
		}
	}
	// the restarted collector takes new lines on the same streams
	mustIngest(t, ctx, p.base(), request(0, requests))
	got := readStream(t, ctx, p.base(), key(0))
	require.Equal(t, fmt.Sprintf("c0 r%03d l%03d %s", requests, perRequest-1, filler), got[len(got)-1].Message)
}

// filler makes lines about 200 bytes, like real log lines.
const filler = "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation"
