package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/collector"
)

// TestCollectorDrain runs three `rainflow collector` processes, writes the lines of 30 apps (two streams
// each, over several requests through every replica), drains one with `rainflow collector drain` (a first
// run interrupted by SIGKILL of a receiver, then of the drained replica, which is written to again before
// the drain is run again), stops it for good and restarts the other two with the two of them as members: every line of every stream is
// read back through either remaining replica exactly once and in order, whole and page by page. A line
// sent to the drained replica after the drain lands on the app's new owner. Then c2 comes back and, with
// c0 down, a live tail whose backfill needs c0's part answers 503 naming it.
func TestCollectorDrain(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	const apps, rounds, perRound = 30, 3, 40
	reps := []*collectorProc{newCollectorProc(t, "c0"), newCollectorProc(t, "c1"), newCollectorProc(t, "c2")}
	var three []string
	for _, p := range reps {
		three = append(three, p.member())
	}
	for _, p := range reps {
		p.start(three)
	}
	var keys []collector.StreamKey
	for a := range apps {
		app := fmt.Sprintf("app-%02d", a)
		keys = append(keys, collector.StreamKey{Kind: collector.KindBuild, Tenant: "t1", App: app, Name: "build-1"},
			collector.StreamKey{Kind: collector.KindEvent, Tenant: "t1", App: app, Name: "deploy-1"})
	}
	line := func(k collector.StreamKey, msg string) collector.Line {
		return collector.Line{Kind: k.Kind, Tenant: k.Tenant, App: k.App, Operation: k.Name, Message: msg}
	}
	want := make(map[collector.StreamKey][]string)
	for r := range rounds {
		for i := 0; i < len(keys); i += 10 {
			var lines []collector.Line
			for _, k := range keys[i : i+10] {
				for n := range perRound {
					msg := fmt.Sprintf("%s r%d n%02d %s", k, r, n, strings.Repeat("x", 200))
					lines = append(lines, line(k, msg))
					want[k] = append(want[k], msg)
				}
			}
			mustIngest(t, ctx, reps[(r+i/10)%3].base(), lines)
		}
	}
	var c2Keys []collector.StreamKey
	for _, k := range keys {
		if len(readLocal(t, ctx, reps[2].base(), k)) > 0 {
			c2Keys = append(c2Keys, k)
		}
	}
	require.NotEmpty(t, c2Keys, "c2 stores some of the streams")

	drain := func() (string, error) {
		out, err := exec.CommandContext(ctx, collectorBin(), "collector", "drain", "--url", reps[2].base(), "--poll", "100ms").CombinedOutput()
		t.Logf("rainflow collector drain (c2 stored %d of %d streams):\n%s", len(c2Keys), len(keys), out)
		return string(out), err
	}

	// an interrupted drain: c0 killed, the streams for it are not handed (those for c1 are); then c2 is
	// killed too, restarted (owning its apps again) and written to, and the drain is run again
	reps[0].kill()
	out, err := drain()
	require.Error(t, err)
	require.Contains(t, out, "c0")
	reps[2].kill()
	reps[0].start(three)
	reps[2].start(three)
	var again []collector.Line
	for _, k := range keys {
		msg := fmt.Sprintf("%s again", k)
		again = append(again, line(k, msg))
		want[k] = append(want[k], msg)
	}
	mustIngest(t, ctx, reps[1].base(), again)
	out, err = drain()
	require.NoError(t, err)
	require.Contains(t, out, "drain done")

	// c2 owns nothing now: a line sent through it goes to the app's owner among the two others
	var during []collector.Line
	for _, k := range keys {
		msg := fmt.Sprintf("%s during", k)
		during = append(during, line(k, msg))
		want[k] = append(want[k], msg)
	}
	mustIngest(t, ctx, reps[2].base(), during)
	for _, k := range keys {
		require.NotContains(t, messagesOf(readLocal(t, ctx, reps[2].base(), k)), fmt.Sprintf("%s during", k))
	}

	// c2 leaves for good; the others go on with the two of them
	reps[2].stop()
	two := []string{reps[0].member(), reps[1].member()}
	for _, p := range reps[:2] {
		p.stop()
		p.start(two)
	}
	for i, k := range keys {
		via := reps[i%2]
		got, _ := readPaged(t, ctx, via.base(), k, 5000, "")
		require.Equal(t, want[k], got, "%s read through %s", k, via.name)
		got, _ = readPaged(t, ctx, reps[(i+1)%2].base(), k, 7, "")
		require.Equal(t, want[k], got, "%s read through %s, 7 lines a page", k, reps[(i+1)%2].name)
	}

	// c2 comes back on its data dir with the three as members: it owns its apps again, and the lines of
	// the drain sit on c0 and c1. With c0 down, a tail on c2 of an app whose "during" line c0 holds cannot
	// be backfilled: 503 naming c0.
	var tailKey collector.StreamKey
	for _, k := range c2Keys {
		if slices.Contains(messagesOf(readLocal(t, ctx, reps[0].base(), k)), fmt.Sprintf("%s during", k)) {
			tailKey = k
			break
		}
	}
	require.NotEmpty(t, tailKey.App, "a stream of c2 whose line of the drain is on c0")
	for _, p := range reps[:2] {
		p.stop()
	}
	for _, p := range reps {
		p.start(three)
	}
	got, _ := readPaged(t, ctx, reps[1].base(), tailKey, 5000, "")
	require.Equal(t, want[tailKey], got, "%s once c2 is back", tailKey)
	reps[0].stop()
	u := strings.Replace(reps[2].base(), "http", "ws", 1) + "/v1/streams/" + tailKey.String() + "/tail?backfill=10"
	_, res, err := websocket.Dial(ctx, u, nil)
	require.Error(t, err)
	require.NotNil(t, res)
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	var p collector.Problem
	require.NoError(t, json.NewDecoder(res.Body).Decode(&p))
	require.Contains(t, p.Detail, "c0")
}
