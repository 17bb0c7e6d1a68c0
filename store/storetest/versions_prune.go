package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/store"
)

// pruneFixture is a component with, oldest first: an image deployed as it is ("ext"), then built
// versions b0..b5, of which b1 a release ran and b2 is the component's current image.
type pruneFixture struct {
	fixture
	digest func(string) string
	ids    map[string]string // name -> version id
}

func newPruneFixture(t *testing.T, open Opener) pruneFixture {
	t.Helper()
	f := pruneFixture{fixture: newFixture(t, open), ids: map[string]string{}}
	st, ctx := f.st, t.Context()
	f.digest = func(n string) string { return "registry.example:5000/shop/web@sha256:" + sha(n) }
	op, err := st.CreateOperation(ctx, deployOp(f.fixture, ""))
	require.NoError(t, err)
	release := func(name string) {
		_, err := st.RecordRelease(ctx, store.Release{ID: uniq("rel"), ComponentID: f.component.ID, OperationID: op.ID,
			ImageDigest: f.digest(name), Spec: f.component.Spec})
		require.NoError(t, err)
	}
	release("ext")
	for _, name := range []string{"b0", "b1", "b2", "b3", "b4", "b5"} {
		time.Sleep(2 * time.Millisecond) // distinct creation times on every database
		v, err := st.RecordVersion(ctx, store.Version{ComponentID: f.component.ID, ImageDigest: f.digest(name),
			SourceKind: store.SourceGit, Source: "https://git.example/shop.git", BuildOperationID: op.ID, OperationID: op.ID})
		require.NoError(t, err)
		f.ids[name] = v.ID
	}
	release("b1")
	spec := f.component.Spec
	spec.Image = f.digest("b2")
	_, err = st.UpdateComponentSpec(ctx, f.component.ID, f.component.Version, spec)
	require.NoError(t, err)
	return f
}

func (f pruneFixture) names(t *testing.T, vs []store.Version) []string {
	t.Helper()
	out := []string{}
	for _, v := range vs {
		for name, id := range f.ids {
			if id == v.ID {
				out = append(out, name)
			}
		}
	}
	require.Len(t, out, len(vs), "every version answered is a built one")
	return out
}

func testPrunableVersions(t *testing.T, open Opener) {
	cases := []struct {
		name    string
		keep    int
		want    []string
		wantErr error
	}{
		{name: "keeps all when fewer than keep", keep: 10, want: []string{}},
		{name: "keeps exactly as many as there are", keep: 7, want: []string{}},
		{name: "beyond the newest three only the unreferenced built one", keep: 3, want: []string{"b0"}},
		{name: "keep one skips the released and the current", keep: 1, want: []string{"b0", "b3", "b4"}},
		{name: "zero is invalid", keep: 0, wantErr: store.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newPruneFixture(t, open)
			got, err := f.st.PrunableVersions(t.Context(), f.component.ID, tc.keep)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, f.names(t, got), "oldest first")
		})
	}
	t.Run("unknown component", func(t *testing.T) {
		f := newFixture(t, open)
		_, err := f.st.PrunableVersions(t.Context(), "00000000-0000-0000-0000-000000000000", 1)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func testDeleteVersion(t *testing.T, open Opener) {
	f := newPruneFixture(t, open)
	st, ctx := f.st, t.Context()

	for name, want := range map[string]bool{"b1": true, "b2": true, "b3": false} {
		inUse, err := st.VersionInUse(ctx, f.component.ID, f.digest(name))
		require.NoError(t, err)
		require.Equal(t, want, inUse, name)
	}

	require.NoError(t, st.DeleteVersion(ctx, f.component.ID, f.ids["b0"]))
	require.NoError(t, st.DeleteVersion(ctx, f.component.ID, f.ids["b0"]), "deleting again is a no-op")
	require.ErrorIs(t, st.DeleteVersion(ctx, f.component.ID, f.ids["b1"]), store.ErrConflict, "a release ran it")
	require.ErrorIs(t, st.DeleteVersion(ctx, f.component.ID, f.ids["b2"]), store.ErrConflict, "the component runs it")
	require.NoError(t, st.DeleteVersion(ctx, "00000000-0000-0000-0000-000000000000", f.ids["b3"]), "the component is gone")

	left, err := st.PrunableVersions(ctx, f.component.ID, 1)
	require.NoError(t, err)
	require.Equal(t, []string{"b3", "b4"}, f.names(t, left))
	all, _, err := st.ListVersions(ctx, f.component.ID, store.Page{})
	require.NoError(t, err)
	require.Len(t, all, 6, "ext, b1..b5")
}
