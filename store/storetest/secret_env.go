package storetest

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/seal"
	"github.com/rainflow/rainflow/store"
)

// Keyring is the keyring every store the suite opens must have (stores sharing a database must
// open each other's secrets): one fixed key, for tests only.
func Keyring() *seal.Keyring {
	k, err := seal.NewKeyring(seal.Key{ID: "storetest", Secret: []byte(strings.Repeat("k", seal.KeySize))})
	if err != nil {
		panic(err) // a fixed valid key
	}
	return k
}

func testSecretEnv(t *testing.T, open Opener) {
	f := newFixture(t, open)
	st, ctx := f.st, t.Context()
	cid := f.component.ID

	none, err := st.GetSecretEnv(ctx, cid)
	require.NoError(t, err)
	require.Equal(t, store.SecretEnv{ComponentID: cid, Names: []string{}}, none, "a component without secret env is at version 0")
	values, err := st.OpenSecretEnv(ctx, cid, 0)
	require.NoError(t, err)
	require.Empty(t, values)
	unchanged, changed, err := st.SetSecretEnv(ctx, cid, 0, map[string]string{}, "alice")
	require.NoError(t, err)
	require.False(t, changed, "an empty set on a component without secret env writes nothing")
	require.Equal(t, int64(0), unchanged.Version)

	first := map[string]string{"DB_PASSWORD": "hunter2", "API_KEY": "k-1", "EMPTY": ""}
	v1, changed, err := st.SetSecretEnv(ctx, cid, 0, first, "alice")
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, int64(1), v1.Version)
	require.Equal(t, []string{"API_KEY", "DB_PASSWORD", "EMPTY"}, v1.Names, "names sorted")
	require.Equal(t, "alice", v1.CreatedBy)
	require.False(t, v1.CreatedAt.IsZero())

	got, err := st.GetSecretEnv(ctx, cid)
	require.NoError(t, err)
	require.Equal(t, v1, got)
	values, err = st.OpenSecretEnv(ctx, cid, 1)
	require.NoError(t, err)
	require.Equal(t, first, values)

	same, changed, err := st.SetSecretEnv(ctx, cid, store.AnyVersion, map[string]string{"API_KEY": "k-1", "EMPTY": "", "DB_PASSWORD": "hunter2"}, "bob")
	require.NoError(t, err)
	require.False(t, changed, "the same variables again write no version")
	require.Equal(t, v1, same)

	_, _, err = st.SetSecretEnv(ctx, cid, 0, map[string]string{"X": "1"}, "bob")
	require.ErrorIs(t, err, store.ErrConflict, "a writer that read version 0 does not overwrite version 1")
	_, _, err = st.SetSecretEnv(ctx, cid, 5, map[string]string{"X": "1"}, "bob")
	require.ErrorIs(t, err, store.ErrConflict, "a version ahead of the latest is a conflict too")

	second := map[string]string{"API_KEY": "k-2"}
	v2, changed, err := st.SetSecretEnv(ctx, cid, 1, second, "bob")
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, int64(2), v2.Version)
	require.Equal(t, []string{"API_KEY"}, v2.Names)
	values, err = st.OpenSecretEnv(ctx, cid, 1)
	require.NoError(t, err)
	require.Equal(t, first, values, "versions are immutable: a rollback finds the old values")
	values, err = st.OpenSecretEnv(ctx, cid, 2)
	require.NoError(t, err)
	require.Equal(t, second, values)

	cleared, changed, err := st.SetSecretEnv(ctx, cid, store.AnyVersion, nil, "bob")
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, int64(3), cleared.Version)
	require.Empty(t, cleared.Names)
	values, err = st.OpenSecretEnv(ctx, cid, 3)
	require.NoError(t, err)
	require.Empty(t, values)

	unknown := "00000000-0000-0000-0000-000000000000"
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{name: "open an unknown version", want: store.ErrNotFound, do: func() error {
			_, err := st.OpenSecretEnv(ctx, cid, 4)
			return err
		}},
		{name: "open another component's version", want: store.ErrNotFound, do: func() error {
			_, err := st.OpenSecretEnv(ctx, unknown, 1)
			return err
		}},
		{name: "set on an unknown component", want: store.ErrNotFound, do: func() error {
			_, _, err := st.SetSecretEnv(ctx, unknown, store.AnyVersion, map[string]string{"A": "1"}, "bob")
			return err
		}},
		{name: "clear on an unknown component", want: store.ErrNotFound, do: func() error {
			_, _, err := st.SetSecretEnv(ctx, unknown, store.AnyVersion, nil, "bob")
			return err
		}},
		{name: "an empty name", want: store.ErrInvalid, do: func() error {
			_, _, err := st.SetSecretEnv(ctx, cid, store.AnyVersion, map[string]string{"": "1"}, "bob")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			require.ErrorIs(t, err, tt.want)
			require.NotContains(t, err.Error(), "hunter2", "errors never hold a value")
		})
	}

	t.Run("releases remember their secret env version", func(t *testing.T) {
		op, err := st.CreateOperation(ctx, deployOp(f, ""))
		require.NoError(t, err)
		rel, err := st.RecordRelease(ctx, store.Release{
			ID: uniq("rel"), ComponentID: cid, OperationID: op.ID,
			ImageDigest: "registry.example:5000/shop/web@sha256:" + sha("s"), Spec: f.component.Spec, SecretEnvVersion: 2,
		})
		require.NoError(t, err)
		require.Equal(t, int64(2), rel.SecretEnvVersion)
		got, err := st.GetRelease(ctx, rel.ID)
		require.NoError(t, err)
		require.Equal(t, int64(2), got.SecretEnvVersion)
	})
}

// testSecretEnvConcurrency: writers racing from the same version make one version each, never two
// with the same number, and the losers learn it (ErrConflict).
func testSecretEnvConcurrency(t *testing.T, open Opener) {
	f := newFixture(t, open)
	st, ctx := f.st, t.Context()
	const writers = 4
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			_, _, errs[i] = st.SetSecretEnv(ctx, f.component.ID, 0, map[string]string{"N": string(rune('a' + i))}, "w")
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.ErrorIs(t, err, store.ErrConflict)
	}
	require.Equal(t, 1, won, "exactly one writer from version 0 wins")
	got, err := st.GetSecretEnv(ctx, f.component.ID)
	require.NoError(t, err)
	require.Equal(t, int64(1), got.Version)
}

// testSecretEnvGoesWithComponent: deleting a component deletes its secret env.
func testSecretEnvGoesWithComponent(t *testing.T, open Opener) {
	f := newFixture(t, open)
	st, ctx := f.st, t.Context()
	_, _, err := st.SetSecretEnv(ctx, f.component.ID, 0, map[string]string{"TOKEN": "t0p"}, "alice")
	require.NoError(t, err)
	require.NoError(t, st.DeleteComponent(ctx, f.component.ID))
	_, err = st.OpenSecretEnv(ctx, f.component.ID, 1)
	require.ErrorIs(t, err, store.ErrNotFound, "the secret env rows went with the component")
	got, err := st.GetSecretEnv(ctx, f.component.ID)
	require.NoError(t, err)
	require.Equal(t, int64(0), got.Version)
}
