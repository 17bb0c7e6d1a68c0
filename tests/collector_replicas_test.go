package tests

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/collector"
)

// TestCollectorReplicas runs three `rainflow collector` processes with a static member list: 300 apps
// split roughly evenly between them; a replica leaving moves exactly the apps it owned and a replica
// (re)joining takes back exactly its share; every acknowledged line is stored once, on the replica that
// owned its app when it was written, and reads through any replica reach the owner.
func TestCollectorReplicas(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	const apps, tenant = 300, "t1"
	reps := []*collectorProc{newCollectorProc(t, "c0"), newCollectorProc(t, "c1"), newCollectorProc(t, "c2")}
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
	// readThrough requires every app's stream, read through the replicas in turn, to be want(app)
	readThrough := func(via []*collectorProc, want func(app int) []string) {
		for a := range apps {
			got := messagesOf(readStream(t, ctx, via[a%len(via)].base(), key(a)))
			require.Equal(t, want(a), got, "app %d read through %s", a, via[a%len(via)].name)
		}
	}
	msg := func(phase string, app int) string { return phase + " " + key(app).App }

	// three replicas
	three := all(reps...)
	for _, p := range reps {
		p.start(three)
	}
	write("one", reps)
	own1 := owners("one", reps)
	n1 := count(own1)
	t.Logf("300 apps over 3 replicas: %v", n1)
	for _, p := range reps {
		require.InDelta(t, 100, n1[p.name], 30, "replica %s's share of 300 apps", p.name)
	}
	readThrough(reps, func(a int) []string { return []string{msg("one", a)} })

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
		if own1[a] == "c2" { // its earlier lines stay on c2's disk
			return []string{msg("two", a)}
		}
		return []string{msg("one", a), msg("two", a)}
	})

	// c2 joins again, on its data dir: it takes back exactly the apps it owned
	for _, p := range reps[:2] {
		p.stop()
	}
	for _, p := range reps {
		p.start(three)
	}
	write("three", reps)
	own3 := owners("three", reps)
	back := 0
	for a := range apps {
		if own3[a] != own2[a] {
			back++
			require.Equal(t, "c2", own3[a], "app %d moved to %s on a join of c2", a, own3[a])
		}
	}
	t.Logf("c2 joined: %d apps moved to it, now %v", back, count(own3))
	require.True(t, maps.Equal(own1, own3), "with the same members, every app has the same owner as before")
	readThrough(reps, func(a int) []string {
		if own1[a] == "c2" { // the lines written while c2 was away stay where they were written
			return []string{msg("one", a), msg("three", a)}
		}
		return []string{msg("one", a), msg("two", a), msg("three", a)}
	})

	// every acknowledged line is stored exactly once across the replicas' disks
	for a := range apps {
		var stored []string
		for _, p := range reps {
			stored = append(stored, messagesOf(readLocal(t, ctx, p.base(), key(a)))...)
		}
		slices.Sort(stored)
		want := []string{msg("one", a), msg("three", a), msg("two", a)}
		require.Equal(t, want, stored, "app %d's lines over all replicas", a)
	}
}
