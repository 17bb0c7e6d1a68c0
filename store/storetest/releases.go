package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/store"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func testReleases(t *testing.T, open Opener) {
	f := newFixture(t, open)
	st, ctx := f.st, t.Context()
	op, err := st.CreateOperation(ctx, deployOp(f, ""))
	require.NoError(t, err)

	rel := store.Release{
		ID: uniq("rel"), ComponentID: f.component.ID, OperationID: op.ID,
		ImageDigest: "registry.example:5000/shop/web@sha256:" + sha("1"), Spec: f.component.Spec,
	}
	recorded, err := st.RecordRelease(ctx, rel)
	require.NoError(t, err)
	require.False(t, recorded.CreatedAt.IsZero())
	rel.CreatedAt = recorded.CreatedAt
	require.Equal(t, rel, recorded, "the spec snapshot reads back exactly")

	again, err := st.RecordRelease(ctx, rel)
	require.NoError(t, err, "recording the same release again is a no-op: workflows retry")
	require.Equal(t, recorded, again)

	got, err := st.GetRelease(ctx, rel.ID)
	require.NoError(t, err)
	require.Equal(t, recorded, got)

	tests := []struct {
		name   string
		change func(r *store.Release)
		want   error
	}{
		{name: "same id, other image", want: store.ErrConflict, change: func(r *store.Release) {
			r.ImageDigest = "registry.example:5000/shop/web@sha256:" + sha("2")
		}},
		{name: "same id, other operation", want: store.ErrConflict, change: func(r *store.Release) {
			r.OperationID = "00000000-0000-0000-0000-000000000000"
		}},
		{name: "unknown component", want: store.ErrNotFound, change: func(r *store.Release) {
			r.ID = uniq("rel")
			r.ComponentID = "00000000-0000-0000-0000-000000000000"
		}},
		{name: "no id", want: store.ErrInvalid, change: func(r *store.Release) { r.ID = "" }},
		{name: "no digest", want: store.ErrInvalid, change: func(r *store.Release) { r.ImageDigest = "" }},
		{name: "id too long", want: store.ErrInvalid, change: func(r *store.Release) { r.ID = sha("a") + sha("b") + "x" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rel
			tt.change(&r)
			_, err := st.RecordRelease(ctx, r)
			require.ErrorIs(t, err, tt.want)
		})
	}

	t.Run("list newest first", func(t *testing.T) {
		ids := []string{rel.ID}
		for i := range 4 {
			spec := f.component.Spec
			spec.Replicas = int32(i)
			r, err := st.RecordRelease(ctx, store.Release{
				ID: uniq("rel"), ComponentID: f.component.ID, OperationID: op.ID,
				ImageDigest: "registry.example:5000/shop/web@sha256:" + sha(string(rune('a'+i))), Spec: spec,
			})
			require.NoError(t, err)
			ids = append(ids, r.ID)
		}
		var got []store.Release
		cursor := ""
		for {
			page, next, err := st.ListReleases(ctx, f.component.ID, store.Page{Limit: 2, Cursor: cursor})
			require.NoError(t, err)
			got = append(got, page...)
			if next == "" {
				break
			}
			cursor = next
		}
		require.Len(t, got, len(ids))
		seen := map[string]bool{}
		for i, r := range got {
			require.False(t, seen[r.ID], "release %s listed twice", r.ID)
			seen[r.ID] = true
			if i > 0 {
				require.False(t, r.CreatedAt.After(got[i-1].CreatedAt), "newest first")
			}
		}
		for _, id := range ids {
			require.True(t, seen[id], "release %s listed", id)
		}
		empty, next, err := st.ListReleases(ctx, "00000000-0000-0000-0000-000000000000", store.Page{})
		require.NoError(t, err)
		require.Empty(t, empty)
		require.Empty(t, next)
	})
}
