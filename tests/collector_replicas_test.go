package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/collector"
)

// TestCollectorReplicas runs three `rainflow collector` processes with a static member list: 300 apps
// split roughly evenly between them; a replica leaving moves exactly the apps it owned, a replica
// (re)joining takes back exactly its share and a new one takes only its share; every acknowledged line
// is stored once, on the replica that owned its app when it was written, and a read through any replica
// returns every line the members hold, each once, also page by page and polling from a final cursor.
func TestCollectorReplicas(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	const apps, tenant = 300, "t1"
	reps := []*collectorProc{newCollectorProc(t, "c0"), newCollectorProc(t, "c1"), newCollectorProc(t, "c2"), newCollectorProc(t, "c3")}
	all := func(ps ...*collectorProc) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.member())
		}
		return out
	}
	key := func(app int) collector.StreamKey {
		return collector.StreamKey{Kind: collector.KindBuild, Tenant: tenant, App: fmt.Sprintf("app-%03d", app), Name: "op"}
	}
	// write sends one line per app for the phase, 50 apps per request, through the replicas in turn
	write := func(phase string, via []*collectorProc) {
		for start := 0; start < apps; start += 50 {
			var lines []collector.Line
			for a := start; a < start+50; a++ {
				k := key(a)
				lines = append(lines, collector.Line{Kind: k.Kind, Tenant: k.Tenant, App: k.App, Operation: k.Name,
					Message: phase + " " + k.App})
			}
			mustIngest(t, ctx, via[(start/50)%len(via)].base(), lines)
		}
	}
	// owners says which replica stores the phase's line of each app, reading each replica's own disk
	owners := func(phase string, ps []*collectorProc) map[int]string {
		out := make(map[int]string, apps)
		for a := range apps {
			for _, p := range ps {
				if slices.Contains(messagesOf(readLocal(t, ctx, p.base(), key(a))), phase+" "+key(a).App) {
					require.NotContains(t, out, a, "the %s line of app %d is stored twice", phase, a)
					out[a] = p.name
				}
			}
			require.Contains(t, out, a, "the %s line of app %d is stored nowhere", phase, a)
		}
		return out
	}
	count := func(owner map[int]string) map[string]int {
		n := map[string]int{}
		for _, o := range owner {
			n[o]++
		}
		return n
	}
	// readThrough requires every app's stream, read through the replicas in turn, to be want(app) in
	// some order (a union read returns each member's part in turn), every 10th app one line a page
	readThrough := func(via []*collectorProc, want func(app int) []string) {
		for a := range apps {
			limit := 5000
			if a%10 == 0 {
				limit = 1
			}
			got, _ := readPaged(t, ctx, via[a%len(via)].base(), key(a), limit, "")
			require.ElementsMatch(t, want(a), got, "app %d read through %s, %d lines a page", a, via[a%len(via)].name, limit)
		}
	}
	msg := func(phase string, app int) string { return phase + " " + key(app).App }

	// three replicas
	three := all(reps[:3]...)
	for _, p := range reps[:3] {
		p.start(three)
	}
	write("one", reps[:3])
	own1 := owners("one", reps[:3])
	n1 := count(own1)
	t.Logf("300 apps over 3 replicas: %v", n1)
	for _, p := range reps[:3] {
		require.InDelta(t, 100, n1[p.name], 30, "replica %s's share of 300 apps", p.name)
	}
	readThrough(reps[:3], func(a int) []string { return []string{msg("one", a)} })

	// c2 leaves: stopped, the others restarted with the two of them
	reps[2].stop()
	two := all(reps[0], reps[1])
	for _, p := range reps[:2] {
		p.stop()
		p.start(two)
	}
	write("two", reps[:2])
	own2 := owners("two", reps[:2])
	var moved []int
	for a := range apps {
		if own2[a] != own1[a] {
			moved = append(moved, a)
			require.Equal(t, "c2", own1[a], "app %d moved from %s, which stayed", a, own1[a])
		}
	}
	t.Logf("c2 left: %d apps moved (c2 owned %d), now %v", len(moved), n1["c2"], count(own2))
	require.Len(t, moved, n1["c2"], "exactly the apps of the replica that left move")
	readThrough(reps[:2], func(a int) []string {
		if own1[a] == "c2" { // its earlier lines are on c2's disk, offline until it comes back
			return []string{msg("two", a)}
		}
		return []string{msg("one", a), msg("two", a)}
	})

	// c2 joins again, on its data dir: it takes back exactly the apps it owned
	for _, p := range reps[:2] {
		p.stop()
	}
	for _, p := range reps[:3] {
		p.start(three)
	}
	// final cursors of some apps before the phase: polling from them returns only its lines
	cursors := map[int]string{}
	for a := 0; a < apps; a += 7 {
		_, cursors[a] = readPaged(t, ctx, reps[a%3].base(), key(a), 5000, "")
	}
	write("three", reps[:3])
	own3 := owners("three", reps[:3])
	back := 0
	for a := range apps {
		if own3[a] != own2[a] {
			back++
			require.Equal(t, "c2", own3[a], "app %d moved to %s on a join of c2", a, own3[a])
		}
	}
	t.Logf("c2 joined: %d apps moved to it, now %v", back, count(own3))
	require.True(t, maps.Equal(own1, own3), "with the same members, every app has the same owner as before")
	// the lines written while c2 was away stay where they were written, and are read with the others
	readThrough(reps[:3], func(a int) []string { return []string{msg("one", a), msg("two", a), msg("three", a)} })
	for a, cursor := range cursors {
		got, _ := readPaged(t, ctx, reps[(a+1)%3].base(), key(a), 1, cursor)
		require.Equal(t, []string{msg("three", a)}, got, "app %d polled from its final cursor", a)
	}

	// c3 joins, new: it takes only its share, from every replica; the earlier lines stay where they are
	for _, p := range reps[:3] {
		p.stop()
	}
	four := all(reps...)
	for _, p := range reps {
		p.start(four)
	}
	write("four", reps)
	own4 := owners("four", reps)
	toC3 := 0
	for a := range apps {
		if own4[a] != own3[a] {
			toC3++
			require.Equal(t, "c3", own4[a], "app %d moved to %s on a join of c3", a, own4[a])
		}
	}
	t.Logf("c3 joined: %d apps moved to it, now %v", toC3, count(own4))
	require.InDelta(t, 75, toC3, 30, "c3's share of 300 apps")
	readThrough(reps, func(a int) []string {
		return []string{msg("one", a), msg("two", a), msg("three", a), msg("four", a)}
	})

	// every acknowledged line is stored exactly once across the replicas' disks
	for a := range apps {
		var stored []string
		for _, p := range reps {
			stored = append(stored, messagesOf(readLocal(t, ctx, p.base(), key(a)))...)
		}
		slices.Sort(stored)
		want := []string{msg("four", a), msg("one", a), msg("three", a), msg("two", a)}
		require.Equal(t, want, stored, "app %d's lines over all replicas", a)
	}
}

// readPaged reads a stream from cursor to its end through the replica at base, limit lines a page, and
// returns the messages and the final cursor.
func readPaged(t *testing.T, ctx context.Context, base string, key collector.StreamKey, limit int, cursor string) ([]string, string) {
	t.Helper()
	var all []string
	for pages := 0; ; pages++ {
		require.Less(t, pages, 1000, "paging through %s does not end", key)
		params := url.Values{"limit": {fmt.Sprint(limit)}}
		if cursor != "" {
			params.Set("cursor", cursor)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/streams/"+key.String()+"/lines?"+params.Encode(), nil)
		require.NoError(t, err)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var p collector.Page
		err = json.NewDecoder(res.Body).Decode(&p)
		res.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.LessOrEqual(t, len(p.Lines), limit)
		all = append(all, messagesOf(p.Lines)...)
		cursor = p.Cursor
		if !p.More {
			return all, cursor
		}
	}
}
