package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/store"
)

func testVersions(t *testing.T, open Opener) {
	f := newFixture(t, open)
	st, ctx := f.st, t.Context()
	op, err := st.CreateOperation(ctx, deployOp(f, ""))
	require.NoError(t, err)
	digest := func(n string) string { return "registry.example:5000/shop/web@sha256:" + sha(n) }

	// a recorded release makes its image a version, once per digest
	for i, d := range []string{"1", "1", "2"} {
		_, err := st.RecordRelease(ctx, store.Release{ID: uniq("rel"), ComponentID: f.component.ID, OperationID: op.ID,
			ImageDigest: digest(d), Spec: f.component.Spec})
		require.NoError(t, err, "release %d", i)
	}
	versions, next, err := st.ListVersions(ctx, f.component.ID, store.Page{})
	require.NoError(t, err)
	require.Empty(t, next)
	require.Len(t, versions, 2)
	require.Equal(t, digest("2"), versions[0].ImageDigest, "newest first")
	require.Equal(t, store.SourceImage, versions[0].SourceKind)
	require.Equal(t, f.component.Spec.Image, versions[0].Source)
	require.Equal(t, op.ID, versions[0].OperationID)

	// a build records its version with its source
	_, err = st.FindBuiltVersion(ctx, f.component.ID, "key-1")
	require.ErrorIs(t, err, store.ErrNotFound, "no build made it yet")
	built, err := st.RecordVersion(ctx, store.Version{ComponentID: f.component.ID, ImageDigest: digest("3"),
		SourceKind: store.SourceGit, Source: "https://git.example/shop.git", Revision: "0a1b2c", BuildOperationID: op.ID,
		BuildKey: "key-1", Builder: "go", Language: "go", SizeBytes: 1234, BuildDuration: 1500 * time.Millisecond})
	require.NoError(t, err)
	found, err := st.FindBuiltVersion(ctx, f.component.ID, "key-1")
	require.NoError(t, err)
	require.Equal(t, built, found, "an equal build finds the version")
	require.Equal(t, "go", found.Builder)
	require.Equal(t, int64(1234), found.SizeBytes)
	require.Equal(t, 1500*time.Millisecond, found.BuildDuration)
	_, err = st.FindBuiltVersion(ctx, f.component.ID, "key-2")
	require.ErrorIs(t, err, store.ErrNotFound)
	again, err := st.RecordVersion(ctx, store.Version{ComponentID: f.component.ID, ImageDigest: digest("3"), SourceKind: store.SourceImage})
	require.NoError(t, err)
	require.Equal(t, built, again, "a digest recorded before answers the stored version")
	require.Equal(t, "0a1b2c", again.Revision)

	page, next, err := st.ListVersions(ctx, f.component.ID, store.Page{Limit: 2})
	require.NoError(t, err)
	require.Len(t, page, 2)
	rest, _, err := st.ListVersions(ctx, f.component.ID, store.Page{Limit: 2, Cursor: next})
	require.NoError(t, err)
	require.Len(t, rest, 1)

	_, err = st.RecordVersion(ctx, store.Version{ComponentID: "00000000-0000-0000-0000-000000000000", ImageDigest: digest("9"), SourceKind: store.SourceImage})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = st.RecordVersion(ctx, store.Version{ComponentID: f.component.ID})
	require.ErrorIs(t, err, store.ErrInvalid)
}
