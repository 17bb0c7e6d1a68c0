package collector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// setMembers gives every node of the cluster the same view: the members named by index.
func (tc *testCluster) setMembers(idx ...int) {
	var ms []Member
	for _, i := range idx {
		ms = append(ms, tc.members[i])
	}
	for _, n := range tc.nodes {
		n.members.set(ms)
	}
}

// appMovedFromC2 returns an app that c-2 owns among three members and c-0 among two.
func appMovedFromC2(tc *testCluster) string {
	two := newRing(tc.members[:2])
	for a := 0; ; a++ {
		app := fmt.Sprintf("app-%d", a)
		if o, _ := two.owner("t1", app); tc.owner("t1", app) == 2 && o.Name == "c-0" {
			return app
		}
	}
}

func phaseLines(app, phase string, n int) []Line {
	var out []Line
	for i := range n {
		out = append(out, Line{Kind: KindRuntime, Tenant: "t1", App: app, Component: "web", Message: fmt.Sprintf("%s %s %d", app, phase, i)})
	}
	return out
}

// readPages follows the cursor from cursor to the end with limit lines a page, through one replica.
func readPages(t *testing.T, n *testCollector, key StreamKey, limit int, cursor string) ([]string, string, int) {
	t.Helper()
	var all []string
	pages := 0
	for {
		params := url.Values{"limit": {fmt.Sprint(limit)}}
		if cursor != "" {
			params.Set("cursor", cursor)
		}
		p := n.read(t, key, params)
		pages++
		require.LessOrEqual(t, len(p.Lines), limit)
		all = append(all, messages(p.Lines)...)
		cursor = p.Cursor
		if !p.More {
			return all, cursor, pages
		}
		require.Less(t, pages, 100, "paging does not end")
	}
}

func TestUnionReadAfterLeaveAndJoin(t *testing.T) {
	t.Parallel()
	tc := startCluster(t, 3)
	app := appMovedFromC2(tc)
	key := webStream(app)
	stay := "" // an app c-0 owns throughout
	for a := 0; stay == ""; a++ {
		if s := fmt.Sprintf("stay-%d", a); tc.owner("t1", s) == 0 {
			stay = s
		}
	}
	stayKey := webStream(stay)
	ingest := func(phase string) {
		tc.nodes[1].ingest(t, append(phaseLines(app, phase, 3), phaseLines(stay, phase, 3)...)...)
	}
	msgs := func(app string, phases ...string) []string {
		var out []string
		for _, ph := range phases {
			out = append(out, messages(phaseLines(app, ph, 3))...)
		}
		return out
	}

	ingest("one") // on c-2 and c-0
	require.Equal(t, msgs(app, "one"), messages(readLocal(t, tc.nodes[2].base, key)))

	// c-2 leaves (it keeps running, but nobody counts it): the app moves to c-0; c-2's part is not read
	tc.setMembers(0, 1)
	ingest("two")
	require.Equal(t, msgs(app, "two"), messages(readLocal(t, tc.nodes[0].base, key)))
	for i, n := range tc.nodes {
		got, _, _ := readPages(t, n, key, 2, "")
		require.Equal(t, msgs(app, "two"), got, "moved app through replica %d after the leave", i)
		got, _, _ = readPages(t, n, stayKey, 2, "")
		require.Equal(t, msgs(stay, "one", "two"), got, "staying app through replica %d after the leave", i)
	}

	// c-2 joins again: the app moves back; every part is read once, c-2's first (its first line is older)
	tc.setMembers(0, 1, 2)
	ingest("three")
	want := append(msgs(app, "one", "three"), msgs(app, "two")...)
	for i, n := range tc.nodes {
		for _, limit := range []int{1, 2, 4, 1000} {
			got, _, pages := readPages(t, n, key, limit, "")
			require.Equal(t, want, got, "through replica %d, %d lines a page", i, limit)
			require.GreaterOrEqual(t, pages, len(want)/limit)
		}
		got, _, _ := readPages(t, n, stayKey, 2, "")
		require.Equal(t, msgs(stay, "one", "two", "three"), got, "staying app through replica %d", i)
	}

	// cursor then poll: the final cursor returns only the lines acknowledged since, on any member
	_, cursor, _ := readPages(t, tc.nodes[1], key, 4, "")
	got, cursor, _ := readPages(t, tc.nodes[0], key, 4, cursor)
	require.Empty(t, got, "nothing new since the final cursor")
	ingest("four")                                                                         // to the owner, c-2
	tc.nodes[0].ingestLocal(t, phaseLines(app, "late", 2)...)                              // an old member that still has its part
	got, cursor, _ = readPages(t, tc.nodes[2], key, 1, cursor)                             // through another replica
	require.ElementsMatch(t, append(msgs(app, "four"), app+" late 0", app+" late 1"), got) // each once
	got, _, _ = readPages(t, tc.nodes[1], key, 3, cursor)
	require.Empty(t, got)

	// filters go to every member
	p := tc.nodes[1].read(t, key, url.Values{"q": {"two 1"}})
	require.Equal(t, []string{app + " two 1"}, messages(p.Lines))
}

// ingestLocal stores lines on this replica itself, as a forwarded part (whoever owns the app).
func (tc *testCollector) ingestLocal(t *testing.T, lines ...Line) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, tc.base+"/v1/ingest", bytes.NewReader(ndjson(t, lines...)))
	require.NoError(t, err)
	req.Header.Set(ForwardedHeader, "test")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)
}

func TestUnionReadFailsWhenMemberDoesNotAnswer(t *testing.T) {
	t.Parallel()
	tc := startCluster(t, 3)
	tc.nodes[0].ingest(t, phaseLines("app-1", "one", 2)...)
	tc.nodes[2].stop()
	for _, n := range tc.nodes[:2] {
		status, body := n.get(t, webStream("app-1"), nil)
		require.Equal(t, http.StatusServiceUnavailable, status, "%s", body)
		var p Problem
		require.NoError(t, json.Unmarshal(body, &p))
		require.Contains(t, p.Detail, "c-2")
	}
}

func TestUnionCursorRefusedForAnotherStream(t *testing.T) {
	t.Parallel()
	tc := startCluster(t, 2)
	tc.nodes[0].ingest(t, phaseLines("app-1", "one", 3)...)
	p := tc.nodes[0].read(t, webStream("app-1"), url.Values{"limit": {"1"}})
	require.True(t, p.More)
	for _, cursor := range []string{p.Cursor[:len(p.Cursor)-2], "u.bad"} {
		status, _ := tc.nodes[1].get(t, webStream("app-1"), url.Values{"cursor": {cursor}})
		require.Equal(t, http.StatusBadRequest, status)
	}
	status, _ := tc.nodes[1].get(t, webStream("app-2"), url.Values{"cursor": {p.Cursor}})
	require.Equal(t, http.StatusBadRequest, status)
}

func TestUnionTailBackfill(t *testing.T) {
	t.Parallel()
	tc := startCluster(t, 3)
	app := appMovedFromC2(tc)
	key := webStream(app)
	tc.nodes[1].ingest(t, phaseLines(app, "one", 3)...)
	tc.setMembers(0, 1)
	tc.nodes[1].ingest(t, phaseLines(app, "two", 3)...)
	tc.setMembers(0, 1, 2)
	tc.nodes[1].ingest(t, phaseLines(app, "three", 3)...)
	all, _, _ := readPages(t, tc.nodes[0], key, 1000, "")
	require.Len(t, all, 9)

	for i, n := range tc.nodes {
		for _, backfill := range []int{4, 9, 20} {
			conn := n.dialTail(t, key, url.Values{"backfill": {fmt.Sprint(backfill)}})
			want := all[max(0, len(all)-backfill):]
			require.Equal(t, want, readTailLines(t, conn, len(want)), "backfill %d through replica %d", backfill, i)
			live := phaseLines(app, fmt.Sprintf("live-%d-%d", i, backfill), 1)
			n.ingest(t, live...)
			require.Equal(t, messages(live), readTailLines(t, conn, 1), "live line after the backfill")
			all = unionOrder(t, tc, key) // c-2 owns it: its part grows
			require.Contains(t, all, messages(live)[0])
		}
	}
}

// unionOrder is the whole stream as a union read returns it.
func unionOrder(t *testing.T, tc *testCluster, key StreamKey) []string {
	t.Helper()
	got, _, _ := readPages(t, tc.nodes[0], key, 1000, "")
	return got
}

func TestUnionCursor(t *testing.T) {
	t.Parallel()
	key, other := webStream("app-1"), webStream("app-2")
	good := encodeUnionCursor(key, map[string]string{"c-0": encodeCursor(key, position{segment: 1, offset: 42}), "c-1": ""})
	tests := []struct {
		name   string
		cursor string
		want   map[string]string
	}{
		{name: "empty is every member's start", cursor: "", want: map[string]string{}},
		{name: "round trip", cursor: good, want: map[string]string{"c-0": encodeCursor(key, position{segment: 1, offset: 42}), "c-1": ""}},
		{name: "another stream's", cursor: encodeUnionCursor(other, map[string]string{"c-0": ""})},
		{name: "mangled", cursor: good[:len(good)-3] + "AAA"},
		{name: "plain", cursor: encodeCursor(key, position{segment: 1})},
		{name: "not base64", cursor: "u.!!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeUnionCursor(key, tt.cursor)
			if tt.want == nil {
				require.ErrorIs(t, err, errBadCursor)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestUnionCursorOnSingleCollector(t *testing.T) {
	t.Parallel()
	tc := startCluster(t, 2)
	app := ""
	for a := 0; app == ""; a++ {
		if s := fmt.Sprintf("app-%d", a); tc.owner("t1", s) == 0 {
			app = s
		}
	}
	key := webStream(app)
	tc.nodes[1].ingest(t, phaseLines(app, "one", 3)...)
	p := tc.nodes[1].read(t, key, url.Values{"limit": {"1"}})
	require.True(t, isUnionCursor(p.Cursor))

	// c-1 leaves: c-0 alone reads its own store, with plain cursors, and continues a union cursor
	tc.nodes[0].members.set(tc.members[:1])
	p = tc.nodes[0].read(t, key, url.Values{"cursor": {p.Cursor}})
	require.Equal(t, messages(phaseLines(app, "one", 3))[1:], messages(p.Lines))
	require.False(t, isUnionCursor(p.Cursor))
	_, err := decodeCursor(key, p.Cursor)
	require.NoError(t, err)
}
