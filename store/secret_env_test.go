package store_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/seal"
	"github.com/rainflow/rainflow/store"
)

func keyring(t *testing.T, keys ...seal.Key) *seal.Keyring {
	t.Helper()
	k, err := seal.NewKeyring(keys...)
	require.NoError(t, err)
	return k
}

func newKey(t *testing.T, id string) seal.Key {
	t.Helper()
	k, err := seal.NewKey(id)
	require.NoError(t, err)
	return k
}

// component makes a tenant, an app and a component, and answers the component's id.
func component(t *testing.T, st *store.Store, name string) string {
	t.Helper()
	ctx := t.Context()
	tenant, err := st.CreateTenant(ctx, store.Tenant{Name: "t-" + name})
	require.NoError(t, err)
	app, err := st.CreateApp(ctx, store.App{TenantID: tenant.ID, Name: "shop"})
	require.NoError(t, err)
	c, err := st.CreateComponent(ctx, store.Component{AppID: app.ID, Name: name})
	require.NoError(t, err)
	return c.ID
}

// TestSecretEnvSealedAtRest: the database file holds the names, never the values, and a sealed blob
// moved to another row does not open there.
func TestSecretEnvSealedAtRest(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "rainflow.db")
	st, err := store.Open(ctx, store.Config{DSN: path + "?_pragma=journal_mode(DELETE)", Keyring: keyring(t, newKey(t, "k1"))})
	require.NoError(t, err)
	defer st.Close()
	web, api := component(t, st, "web"), component(t, st, "api")
	const secret = "s3cr3t-plaintext-value"
	_, _, err = st.SetSecretEnv(ctx, web, 0, map[string]string{"DB_PASSWORD": secret}, "alice")
	require.NoError(t, err)
	_, _, err = st.SetSecretEnv(ctx, web, 1, map[string]string{"DB_PASSWORD": secret + "-2"}, "alice")
	require.NoError(t, err)
	_, _, err = st.SetSecretEnv(ctx, api, 0, map[string]string{"DB_PASSWORD": "other"}, "alice")
	require.NoError(t, err)

	names, sealed, err := st.SealedSecretEnv(ctx, web, 1)
	require.NoError(t, err)
	require.Equal(t, `["DB_PASSWORD"]`, names)
	require.True(t, strings.HasPrefix(sealed, "v1:k1:"), "sealed with the primary key: %s", sealed)
	require.NotContains(t, sealed, secret)
	require.NoError(t, st.Close())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(raw), "DB_PASSWORD", "names are plaintext")
	require.NotContains(t, string(raw), secret, "the database file holds no value in plaintext")

	st, err = store.Open(ctx, store.Config{DSN: path, Keyring: keyring(t, newKey(t, "k1"))})
	require.NoError(t, err)
	defer st.Close()
	_, err = st.OpenSecretEnv(ctx, web, 1)
	require.ErrorIs(t, err, seal.ErrCorrupt, "a keyring with another key of the same id does not open it")

	t.Run("a blob moved to another row does not open", func(t *testing.T) {
		t.Parallel()
		st := openSQLite(t, filepath.Join(t.TempDir(), "moved.db"))
		web, api := component(t, st, "web"), component(t, st, "api")
		_, _, err := st.SetSecretEnv(ctx, web, 0, map[string]string{"A": "1"}, "alice")
		require.NoError(t, err)
		_, _, err = st.SetSecretEnv(ctx, web, 1, map[string]string{"A": "2"}, "alice")
		require.NoError(t, err)
		_, _, err = st.SetSecretEnv(ctx, api, 0, map[string]string{"A": "3"}, "alice")
		require.NoError(t, err)
		_, webV1, err := st.SealedSecretEnv(ctx, web, 1)
		require.NoError(t, err)
		require.NoError(t, st.OverwriteSealedSecretEnv(ctx, web, 2, webV1))
		_, err = st.OpenSecretEnv(ctx, web, 2)
		require.ErrorIs(t, err, seal.ErrCorrupt, "version 1's values do not open as version 2's")
		require.NoError(t, st.OverwriteSealedSecretEnv(ctx, api, 1, webV1))
		_, err = st.OpenSecretEnv(ctx, api, 1)
		require.ErrorIs(t, err, seal.ErrCorrupt, "a component's values do not open as another's")
	})
}

// TestSecretEnvKeyRotation: a new primary key first and the old one kept opens the old rows and
// seals new ones with the new key; dropping the old key makes its rows unreadable, saying so.
func TestSecretEnvKeyRotation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "rainflow.db")
	old, next := newKey(t, "2025"), newKey(t, "2026")
	st, err := store.Open(ctx, store.Config{DSN: path, Keyring: keyring(t, old)})
	require.NoError(t, err)
	web, api := component(t, st, "web"), component(t, st, "api")
	_, _, err = st.SetSecretEnv(ctx, web, 0, map[string]string{"A": "old"}, "alice")
	require.NoError(t, err)
	_, _, err = st.SetSecretEnv(ctx, api, 0, map[string]string{"A": "old"}, "alice")
	require.NoError(t, err)
	require.NoError(t, st.Close())

	st, err = store.Open(ctx, store.Config{DSN: path, Keyring: keyring(t, next, old)})
	require.NoError(t, err)
	values, err := st.OpenSecretEnv(ctx, web, 1)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"A": "old"}, values)
	_, _, err = st.SetSecretEnv(ctx, web, 1, map[string]string{"A": "new"}, "alice")
	require.NoError(t, err)
	_, sealed, err := st.SealedSecretEnv(ctx, web, 2)
	require.NoError(t, err)
	require.Equal(t, "2026", seal.KeyID(sealed))
	require.NoError(t, st.Close())

	st, err = store.Open(ctx, store.Config{DSN: path, Keyring: keyring(t, next)})
	require.NoError(t, err)
	defer st.Close()
	_, err = st.OpenSecretEnv(ctx, web, 1)
	require.ErrorIs(t, err, seal.ErrUnknownKey)
	values, err = st.OpenSecretEnv(ctx, web, 2)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"A": "new"}, values)
	set, changed, err := st.SetSecretEnv(ctx, api, 1, map[string]string{"A": "old"}, "alice")
	require.NoError(t, err, "values sealed with a dropped key can still be replaced")
	require.True(t, changed)
	require.Equal(t, int64(2), set.Version)
}

// TestSecretEnvWithoutKeyring: names stay readable; values can be neither written nor read.
func TestSecretEnvWithoutKeyring(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "rainflow.db")
	st, err := store.Open(ctx, store.Config{DSN: path, Keyring: keyring(t, newKey(t, "k1"))})
	require.NoError(t, err)
	web := component(t, st, "web")
	_, _, err = st.SetSecretEnv(ctx, web, 0, map[string]string{"A": "1"}, "alice")
	require.NoError(t, err)
	require.NoError(t, st.Close())

	st, err = store.Open(ctx, store.Config{DSN: path})
	require.NoError(t, err)
	defer st.Close()
	got, err := st.GetSecretEnv(ctx, web)
	require.NoError(t, err)
	require.Equal(t, []string{"A"}, got.Names)
	_, err = st.OpenSecretEnv(ctx, web, 1)
	require.ErrorIs(t, err, store.ErrNoKeyring)
	_, _, err = st.SetSecretEnv(ctx, web, 1, map[string]string{"A": "2"}, "alice")
	require.ErrorIs(t, err, store.ErrNoKeyring)
}
