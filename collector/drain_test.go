package collector

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// failingPuts fails the segment PUTs of a drain once its budget is spent (a receiver killed mid-way, as
// the sender sees it).
type failingPuts struct {
	next   http.RoundTripper
	fail   atomic.Bool // fail once budget is spent
	budget atomic.Int64
}

func (f *failingPuts) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && f.fail.Load() && f.budget.Add(-1) < 0 {
		return nil, errors.New("injected: connection reset by peer")
	}
	return f.next.RoundTrip(r)
}

// startDrainCluster is startCluster with small segments that are compressed soon after they are sealed,
// and c-2's calls to the other members through puts.
func startDrainCluster(t *testing.T, puts *failingPuts) *testCluster {
	t.Helper()
	tc := &testCluster{}
	var specs []string
	for i := range 3 {
		m := Member{Name: fmt.Sprintf("c-%d", i), URL: "http://" + freePort(t)}
		tc.members = append(tc.members, m)
		specs = append(specs, m.Name+"="+m.URL)
	}
	for i, m := range tc.members {
		cfg := Config{DataDir: t.TempDir(), SegmentBytes: 4096, Retention: RetentionConfig{SweepInterval: 10 * time.Millisecond},
			Partition: Partition{Self: m.Name, Members: specs}}
		tc.nodes = append(tc.nodes, startCollector(t, cfg, func(c *Collector) {
			c.cfg.Listen = m.URL[len("http://"):]
			if i == 2 && puts != nil {
				puts.next = c.forwardClient.Transport
				c.forwardClient.Transport = puts
			}
		}))
	}
	return tc
}

// drainApps writes lines of apps whose streams spread over the three members and span several
// segments, and one app whose stream both c-0 and c-2 hold lines of (c-0's written while c-2 was away).
// It returns the apps.
func drainApps(t *testing.T, tc *testCluster) []string {
	t.Helper()
	mixed := appMovedFromC2(tc)
	tc.setMembers(0, 1)
	tc.nodes[1].ingest(t, phaseLines(mixed, "early", 20)...)
	tc.setMembers(0, 1, 2)
	apps := []string{mixed}
	for a := range 12 {
		apps = append(apps, fmt.Sprintf("drain-%d", a))
	}
	for round := range 4 {
		var lines []Line
		for _, app := range apps {
			for _, l := range phaseLines(app, fmt.Sprintf("before-%d", round), 20) {
				l.Message += " " + strings.Repeat("x", 100) // a few segments per stream
				lines = append(lines, l)
			}
		}
		tc.nodes[round%3].ingest(t, lines...)
	}
	return apps
}

// drain runs a drain of n to its end and returns its final status.
func (tc *testCollector) drainToEnd(t *testing.T) DrainStatus {
	t.Helper()
	res, err := http.Post(tc.base+"/v1/admin/drain", "", nil)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusAccepted, res.StatusCode, "%s", body)
	var st DrainStatus
	require.Eventually(t, func() bool {
		res, err := http.Get(tc.base + "/v1/admin/drain")
		require.NoError(t, err)
		defer res.Body.Close()
		require.NoError(t, json.NewDecoder(res.Body).Decode(&st))
		return st.State != DrainRunning
	}, 30*time.Second, 10*time.Millisecond)
	return st
}

// unionOf reads every app's stream through node, whole and 7 lines a page, and requires both the same.
func unionOf(t *testing.T, node *testCollector, apps []string) map[string][]string {
	t.Helper()
	out := make(map[string][]string, len(apps))
	for _, app := range apps {
		whole, _, _ := readPages(t, node, webStream(app), 1000, "")
		paged, _, _ := readPages(t, node, webStream(app), 7, "")
		require.Equal(t, whole, paged, "app %s read 7 lines a page", app)
		out[app] = whole
	}
	return out
}

// requireOnce requires every line of every app read exactly once.
func requireOnce(t *testing.T, got map[string][]string) {
	t.Helper()
	for app, lines := range got {
		seen := make(map[string]bool, len(lines))
		for _, l := range lines {
			require.False(t, seen[l], "app %s: line %q read twice in %v", app, l, lines)
			seen[l] = true
		}
	}
}

func TestDrainHandsEveryStreamOver(t *testing.T) {
	t.Parallel()
	tc := startDrainCluster(t, nil)
	apps := drainApps(t, tc)
	c2 := tc.nodes[2]
	require.Eventually(t, func() bool {
		found, _ := filepath.Glob(filepath.Join(c2.cfg.DataDir, "streams", "*", "*", "*", "*", "*"+compressedSuffix))
		return len(found) > 0
	}, 10*time.Second, 10*time.Millisecond, "c-2 holds compressed segments")
	before := unionOf(t, tc.nodes[0], apps)
	requireOnce(t, before)
	_, cursor, _ := readPages(t, tc.nodes[1], webStream(apps[0]), 1000, "")

	st := c2.drainToEnd(t)
	require.Equal(t, DrainDone, st.State, "drain: %+v", st)
	require.Positive(t, st.SegmentsSent)
	require.Equal(t, st.Streams, st.StreamsDone)
	t.Logf("drain of c-2: %+v", st)

	// c-2 owns nothing now: lines sent through it or to it go to the others; reads are unchanged
	c2.ingest(t, phaseLines(apps[0], "after", 3)...)
	tc.nodes[0].ingest(t, phaseLines(apps[1], "after", 3)...)
	for _, app := range apps[:2] {
		require.NotContains(t, messages(readLocal(t, c2.base, webStream(app))), app+" after 0")
	}
	want := unionOf(t, tc.nodes[0], apps)
	requireOnce(t, want)
	for _, app := range apps[2:] {
		require.Equal(t, before[app], want[app], "app %s through a member while c-2 is still one", app)
	}
	for _, app := range apps[:2] {
		require.Subset(t, want[app], messages(phaseLines(app, "after", 3)), "app %s", app)
		require.Len(t, want[app], len(before[app])+3, "app %s", app)
	}

	// c-2 is removed: every line of every stream is read once, in the same order, through either member
	c2.stop()
	tc.setMembers(0, 1)
	for i, n := range tc.nodes[:2] {
		got := unionOf(t, n, apps)
		require.Equal(t, want, got, "through c-%d once c-2 is gone", i)
	}
	// a cursor taken while c-2 was a member continues on the copy: only the lines since
	got, _, _ := readPages(t, tc.nodes[0], webStream(apps[0]), 2, cursor)
	require.Equal(t, messages(phaseLines(apps[0], "after", 3)), got)
	// the tail's backfill of the new owner covers the copy
	for _, app := range apps {
		owner := tc.nodes[newRingOwnerIndex(tc, app, 0, 1)]
		conn := owner.dialTail(t, webStream(app), url.Values{"backfill": {"5000"}})
		require.Equal(t, want[app], readTailLines(t, conn, len(want[app])), "backfill of app %s", app)
		conn.CloseNow()
	}
}

// newRingOwnerIndex is the index of the owner of app among the members idx.
func newRingOwnerIndex(tc *testCluster, app string, idx ...int) int {
	var ms []Member
	for _, i := range idx {
		ms = append(ms, tc.members[i])
	}
	m, _ := newRing(ms).owner("t1", app)
	for i, mb := range tc.members {
		if mb.Name == m.Name {
			return i
		}
	}
	return -1
}

func TestDrainInterruptedRunsAgain(t *testing.T) {
	t.Parallel()
	puts := &failingPuts{}
	puts.budget.Store(3)
	puts.fail.Store(true)
	tc := startDrainCluster(t, puts)
	apps := drainApps(t, tc)
	c2 := tc.nodes[2]
	first := c2.drainToEnd(t)
	require.Equal(t, DrainFailed, first.State)
	require.Contains(t, first.Error, "injected")
	require.Equal(t, 3, first.SegmentsSent)

	// lines acknowledged between the two runs (through c-2, which still forwards them) are kept too
	c2.ingest(t, phaseLines(apps[0], "between", 2)...)
	want := unionOf(t, tc.nodes[0], apps)
	requireOnce(t, want)
	require.Subset(t, want[apps[0]], messages(phaseLines(apps[0], "between", 2)))

	puts.fail.Store(false)
	second := c2.drainToEnd(t)
	require.Equal(t, DrainDone, second.State, "%+v", second)
	// the segments the first run handed are not sent again
	total := 0
	for _, s := range c2.storedSegments(t) {
		total += s
	}
	require.Equal(t, total-3, second.SegmentsSent, "second run: %+v", second)

	// a third run hands nothing
	third := c2.drainToEnd(t)
	require.Equal(t, DrainDone, third.State)
	require.Zero(t, third.SegmentsSent)

	c2.stop()
	tc.setMembers(0, 1)
	for i, n := range tc.nodes[:2] {
		got := unionOf(t, n, apps)
		requireOnce(t, got)
		require.Equal(t, want, got, "through c-%d once c-2 is gone", i)
	}
}

// storedSegments counts the non-empty segments of each stream c stores itself (in either form).
func (tc *testCollector) storedSegments(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	files, err := filepath.Glob(filepath.Join(tc.cfg.DataDir, "streams", "*", "*", "*", "*", "*"))
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, f := range files {
		fi, err := os.Stat(f)
		if errors.Is(err, os.ErrNotExist) { // compressed meanwhile
			continue
		}
		require.NoError(t, err)
		name := strings.TrimSuffix(strings.TrimSuffix(f, compressedSuffix), segmentSuffix)
		if fi.Size() > 0 && name != f && !seen[name] {
			seen[name] = true
			out[filepath.Dir(f)]++
		}
	}
	return out
}

func TestDrainRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		start func(t *testing.T) *testCollector
	}{
		{name: "single collector", start: func(t *testing.T) *testCollector { return startCollector(t, Config{}) }},
		{name: "only member", start: func(t *testing.T) *testCollector {
			addr := freePort(t)
			return startCollectorAt(t, Config{Partition: Partition{Self: "c-0", Members: []string{"c-0=http://" + addr}}}, addr)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := tt.start(t)
			res, err := http.Post(n.base+"/v1/admin/drain", "", nil)
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, http.StatusConflict, res.StatusCode)
		})
	}
}

func TestTailBackfillMemberDown(t *testing.T) {
	t.Parallel()
	tc := startCluster(t, 3)
	app := appMovedFromC2(tc) // c-0's among two, c-2's among three
	tc.setMembers(0, 1)
	tc.nodes[1].ingest(t, phaseLines(app, "one", 3)...)
	tc.setMembers(0, 1, 2)
	tc.nodes[0].stop()
	u := strings.Replace(tc.nodes[2].base, "http", "ws", 1) + "/v1/streams/" + webStream(app).String() + "/tail?backfill=10"
	_, res, err := websocket.Dial(t.Context(), u, nil)
	require.Error(t, err)
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	var p Problem
	require.NoError(t, json.NewDecoder(res.Body).Decode(&p))
	require.Contains(t, p.Detail, "c-0")
}
