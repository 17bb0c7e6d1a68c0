package collector

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// freePort returns a 127.0.0.1 address nothing listens on right now.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// testCluster is n collectors on 127.0.0.1 sharing the apps.
type testCluster struct {
	members []Member
	nodes   []*testCollector
}

func startCluster(t testing.TB, n int, setup ...func(*Config)) *testCluster {
	t.Helper()
	tc := &testCluster{}
	var specs []string
	for i := range n {
		m := Member{Name: fmt.Sprintf("c-%d", i), URL: "http://" + freePort(t)}
		tc.members = append(tc.members, m)
		specs = append(specs, m.Name+"="+m.URL)
	}
	for _, m := range tc.members {
		cfg := Config{DataDir: t.TempDir(), Partition: Partition{Self: m.Name, Members: specs}}
		for _, s := range setup {
			s(&cfg)
		}
		tc.nodes = append(tc.nodes, startCollectorAt(t, cfg, m.URL[len("http://"):]))
	}
	return tc
}

// startCollectorAt runs a collector listening on addr.
func startCollectorAt(t testing.TB, cfg Config, addr string) *testCollector {
	t.Helper()
	return startCollector(t, cfg, func(c *Collector) { c.cfg.Listen = addr })
}

// owner is the index of the member that owns (tenant, app).
func (tc *testCluster) owner(tenant, app string) int {
	m, _ := newRing(tc.members).owner(tenant, app)
	for i, mb := range tc.members {
		if mb.Name == m.Name {
			return i
		}
	}
	return -1
}

// readLocal reads a stream from one collector's own store, without forwarding.
func readLocal(t *testing.T, base string, key StreamKey) []Line {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/v1/streams/"+key.String()+"/lines?"+url.Values{"limit": {"5000"}}.Encode(), nil)
	require.NoError(t, err)
	req.Header.Set(ForwardedHeader, "test")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
	var p Page
	require.NoError(t, json.Unmarshal(body, &p))
	return p.Lines
}

func runtimeLine(app string, i int) Line {
	return Line{Kind: KindRuntime, Tenant: "t1", App: app, Component: "web", Message: fmt.Sprintf("%s line %d", app, i)}
}

func TestForwardIngestSplitsBatchByOwner(t *testing.T) {
	t.Parallel()
	tc := startCluster(t, 3)
	const apps, perApp = 30, 4
	var lines []Line
	for i := range perApp {
		for a := range apps {
			lines = append(lines, runtimeLine(fmt.Sprintf("app-%d", a), i))
		}
	}
	for entry := range tc.nodes { // every replica accepts any batch
		status, body := tc.nodes[entry].post(t, ndjson(t, lines...), "")
		require.Equal(t, http.StatusOK, status, "%s", body)
		require.JSONEq(t, fmt.Sprintf(`{"accepted":%d}`, len(lines)), string(body))
	}
	owned := make([]int, len(tc.nodes))
	for a := range apps {
		app := fmt.Sprintf("app-%d", a)
		key := StreamKey{Kind: KindRuntime, Tenant: "t1", App: app, Name: "web"}
		owner := tc.owner("t1", app)
		owned[owner]++
		var want []string
		for range tc.nodes {
			for i := range perApp {
				want = append(want, fmt.Sprintf("%s line %d", app, i))
			}
		}
		for i, n := range tc.nodes {
			local := messages(readLocal(t, n.base, key))
			if i == owner {
				require.Equal(t, want, local, "the owner %d holds every line of %s, in order", i, app)
			} else {
				require.Empty(t, local, "replica %d holds lines of %s, owned by %d", i, app, owner)
			}
			// a read through any replica sees every line
			require.Equal(t, want, messages(n.readAll(t, key)), "read of %s through replica %d", app, i)
		}
	}
	for i, n := range owned {
		require.Positive(t, n, "replica %d owns no app of 30", i)
	}
}

func TestForwardIngestAcknowledgesOnlyWhenEveryPartIs(t *testing.T) {
	t.Parallel()
	tc := startCluster(t, 3)
	// an app owned by replica 2, and one owned by replica 0
	var down, live string
	for a := 0; down == "" || live == ""; a++ {
		switch app := fmt.Sprintf("app-%d", a); tc.owner("t1", app) {
		case 2:
			down = app
		case 0:
			live = app
		}
	}
	tc.nodes[2].stop()

	status, body := tc.nodes[0].post(t, ndjson(t, runtimeLine(live, 1), runtimeLine(down, 1)), "")
	require.Equal(t, http.StatusServiceUnavailable, status, "%s", body)
	var p Problem
	require.NoError(t, json.Unmarshal(body, &p))
	require.Contains(t, p.Detail, "1 of 2 lines stored")
	require.Contains(t, p.Detail, "c-2")

	// lines only for live owners are acknowledged, through either live replica
	tc.nodes[1].ingest(t, runtimeLine(live, 2))
	liveKey := StreamKey{Kind: KindRuntime, Tenant: "t1", App: live, Name: "web"}
	require.Equal(t, []string{live + " line 1", live + " line 2"}, messages(readLocal(t, tc.nodes[0].base, liveKey)))

	// a read through the replicas while a member is down says so (it may hold part of any stream)
	for _, app := range []string{live, down} {
		status, body = tc.nodes[1].get(t, StreamKey{Kind: KindRuntime, Tenant: "t1", App: app, Name: "web"}, nil)
		require.Equal(t, http.StatusServiceUnavailable, status, "%s", body)
		require.Contains(t, string(body), "c-2")
	}
}

func TestForwardIngestRejectsBadBatchWhole(t *testing.T) {
	t.Parallel()
	tc := startCluster(t, 3)
	lines := ndjson(t, runtimeLine("app-1", 1), runtimeLine("app-2", 1))
	lines = append(lines, []byte(`{"kind":"runtime","tenant":"t1","app":"app-3","message":"no component"}`+"\n")...)
	for i, n := range tc.nodes {
		status, body := n.post(t, lines, "")
		require.Equal(t, http.StatusBadRequest, status, "replica %d: %s", i, body)
		var p Problem
		require.NoError(t, json.Unmarshal(body, &p))
		require.Equal(t, 3, p.Line)
	}
	for i, n := range tc.nodes {
		for _, app := range []string{"app-1", "app-2"} {
			require.Empty(t, readLocal(t, n.base, StreamKey{Kind: KindRuntime, Tenant: "t1", App: app, Name: "web"}),
				"replica %d stored part of a refused batch", i)
		}
	}
}

func TestForwardGzipBatch(t *testing.T) {
	t.Parallel()
	tc := startCluster(t, 2)
	var lines []Line
	for a := range 10 {
		lines = append(lines, runtimeLine(fmt.Sprintf("app-%d", a), 0))
	}
	status, body := tc.nodes[1].post(t, gzipped(t, ndjson(t, lines...)), "gzip")
	require.Equal(t, http.StatusOK, status, "%s", body)
	for a := range 10 {
		app := fmt.Sprintf("app-%d", a)
		got := readLocal(t, tc.nodes[tc.owner("t1", app)].base, StreamKey{Kind: KindRuntime, Tenant: "t1", App: app, Name: "web"})
		require.Equal(t, []string{app + " line 0"}, messages(got))
	}
}

func TestForwardTailIsProxiedToOwner(t *testing.T) {
	t.Parallel()
	tc := startCluster(t, 3)
	app := ""
	for a := 0; app == ""; a++ {
		if name := fmt.Sprintf("app-%d", a); tc.owner("t1", name) == 2 {
			app = name
		}
	}
	conn := tc.nodes[0].dialTail(t, webStream(app), nil) // a websocket through a replica that does not own the app
	tc.nodes[1].ingest(t, runtimeLine(app, 1), runtimeLine(app, 2))
	tc.nodes[2].ingest(t, runtimeLine(app, 3))
	require.Equal(t, []string{app + " line 1", app + " line 2", app + " line 3"}, readTailLines(t, conn, 3))
}
