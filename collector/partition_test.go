package collector

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func members(names ...string) []Member {
	out := make([]Member, len(names))
	for i, n := range names {
		out[i] = Member{Name: n, URL: "http://" + n + ":7482"}
	}
	return out
}

type app struct{ tenant, app string }

func apps(n int) []app {
	out := make([]app, n)
	for i := range out {
		out[i] = app{tenant: fmt.Sprintf("team-%d", i%7), app: fmt.Sprintf("app-%d", i)}
	}
	return out
}

func owners(r *ring, as []app) map[app]string {
	out := make(map[app]string, len(as))
	for _, a := range as {
		m, ok := r.owner(a.tenant, a.app)
		if ok {
			out[a] = m.Name
		}
	}
	return out
}

func TestRingSpreadsAppsEvenly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		members []Member
		apps    int
	}{
		{name: "3 members 300 apps", members: members("c-0", "c-1", "c-2"), apps: 300},
		{name: "3 pod-like names 300 apps", members: members("collector-7d9f-abcde", "collector-7d9f-fghij", "collector-7d9f-klmno"), apps: 300},
		{name: "5 members 1000 apps", members: members("a", "b", "c", "d", "e"), apps: 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			count := make(map[string]int)
			for _, name := range owners(newRing(tc.members), apps(tc.apps)) {
				count[name]++
			}
			want := tc.apps / len(tc.members)
			require.Len(t, count, len(tc.members), "every member owns some apps")
			for name, n := range count {
				require.InDelta(t, want, n, float64(want)/4, "member %s owns %d apps, want %d ±25%%", name, n, want)
			}
		})
	}
}

func TestRingOwnerIgnoresListOrder(t *testing.T) {
	t.Parallel()
	a := owners(newRing(members("c-0", "c-1", "c-2")), apps(300))
	b := owners(newRing(members("c-2", "c-0", "c-1", "c-0")), apps(300))
	require.Equal(t, a, b)
}

func TestRingMembershipChangeMovesFewApps(t *testing.T) {
	t.Parallel()
	as := apps(300)
	for _, tc := range []struct {
		name          string
		before, after []Member
		// moved is the member every moved app must leave (removal) or go to (addition).
		removed, added string
		// minMoved, maxMoved bound how many apps move.
		minMoved, maxMoved int
	}{
		{name: "remove one of 3", before: members("c-0", "c-1", "c-2"), after: members("c-0", "c-2"), removed: "c-1", minMoved: 75, maxMoved: 125},
		{name: "add a 4th", before: members("c-0", "c-1", "c-2"), after: members("c-0", "c-1", "c-2", "c-3"), added: "c-3", minMoved: 50, maxMoved: 100},
		{name: "add a 2nd", before: members("c-0"), after: members("c-0", "c-1"), added: "c-1", minMoved: 110, maxMoved: 190},
		{name: "same members", before: members("c-0", "c-1"), after: members("c-1", "c-0"), minMoved: 0, maxMoved: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before, after := owners(newRing(tc.before), as), owners(newRing(tc.after), as)
			moved := 0
			for _, a := range as {
				if before[a] == after[a] {
					continue
				}
				moved++
				if tc.removed != "" {
					require.Equal(t, tc.removed, before[a], "app %v moved though its owner stayed", a)
				}
				if tc.added != "" {
					require.Equal(t, tc.added, after[a], "app %v moved to an old member", a)
				}
			}
			require.GreaterOrEqual(t, moved, tc.minMoved)
			require.LessOrEqual(t, moved, tc.maxMoved)
		})
	}
}

func TestMembershipOwnerAndWatch(t *testing.T) {
	t.Parallel()
	m := newMembership("c-1", members("c-0", "c-1"))
	ch := m.watch()
	require.False(t, m.set(members("c-1", "c-0")), "same list in another order is no change")
	select {
	case <-ch:
		t.Fatal("watch fired without a change")
	default:
	}
	localApps := 0
	for _, a := range apps(100) {
		owner, local, ok := m.owner(a.tenant, a.app)
		require.True(t, ok)
		require.Equal(t, owner.Name == "c-1", local)
		if local {
			localApps++
		}
	}
	require.Positive(t, localApps)
	require.Equal(t, members("c-0"), m.others())

	require.True(t, m.set(members("c-1")))
	<-ch
	require.Equal(t, members("c-0"), m.others(), "a member that just left is still asked for a handover")
	for _, a := range apps(100) {
		_, local, _ := m.owner(a.tenant, a.app)
		require.True(t, local, "the only member owns everything")
	}
	require.True(t, m.set(members("c-1", "c-2")))
	require.Equal(t, members("c-2"), m.others(), "only the list before the last change is remembered")
	require.True(t, m.set(nil))
	_, _, ok := m.owner("t", "a")
	require.False(t, ok, "no members, no owner")
}

func TestParseMember(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     Member
		err      string
	}{
		{name: "ok", in: "c-0=http://10.0.0.1:7482/", want: Member{Name: "c-0", URL: "http://10.0.0.1:7482"}},
		{name: "https", in: "c-1=https://c1.example:443", want: Member{Name: "c-1", URL: "https://c1.example:443"}},
		{name: "no name", in: "=http://x", err: "not name=url"},
		{name: "no url", in: "c-0", err: "not name=url"},
		{name: "no scheme", in: "c-0=10.0.0.1:7482", err: "must start with http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseMember(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
