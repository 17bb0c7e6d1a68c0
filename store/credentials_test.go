package store_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/seal"
	"github.com/rainflow/rainflow/store"
)

// TestCredentials: put, replace, list, open and delete a tenant's credentials; no read but
// OpenCredential answers the secret, and the database file holds none of it in plaintext.
func TestCredentials(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "rainflow.db")
	st, err := store.Open(ctx, store.Config{DSN: path + "?_pragma=journal_mode(DELETE)", Keyring: keyring(t, newKey(t, "k1"))})
	require.NoError(t, err)
	defer st.Close()
	acme, err := st.CreateTenant(ctx, store.Tenant{Name: "acme"})
	require.NoError(t, err)
	const token = "ghp_credential-secret-token"

	c, created, err := st.PutCredential(ctx, store.Credential{TenantID: acme.ID, Name: "github", Type: store.CredentialGitToken,
		Host: "github.com"}, store.CredentialSecret{Token: token}, "alice")
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, int64(1), c.Version)
	require.Equal(t, "alice", c.UpdatedBy)

	c, created, err = st.PutCredential(ctx, store.Credential{TenantID: acme.ID, Name: "github", Type: store.CredentialGitToken,
		Host: "github.com"}, store.CredentialSecret{Token: token + "-2", Username: "bot"}, "bob")
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, int64(2), c.Version)
	require.Equal(t, "bob", c.UpdatedBy)

	_, _, err = st.PutCredential(ctx, store.Credential{TenantID: acme.ID, Name: "hub", Type: store.CredentialRegistry},
		store.CredentialSecret{Username: "u", Password: "registry-password"}, "alice")
	require.NoError(t, err)

	_, _, err = st.PutCredential(ctx, store.Credential{TenantID: "no-such-tenant", Name: "x", Type: store.CredentialGitToken},
		store.CredentialSecret{Token: "t"}, "alice")
	require.ErrorIs(t, err, store.ErrNotFound)

	list, next, err := st.ListCredentials(ctx, acme.ID, store.Page{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, next)
	require.Len(t, list, 2)
	require.Equal(t, []string{"github", "hub"}, []string{list[0].Name, list[1].Name})
	require.Equal(t, store.CredentialGitToken, list[0].Type)
	require.Equal(t, "github.com", list[0].Host)

	got, secret, err := st.OpenCredential(ctx, acme.ID, "github")
	require.NoError(t, err)
	require.Equal(t, int64(2), got.Version)
	require.Equal(t, store.CredentialSecret{Token: token + "-2", Username: "bot"}, secret)

	sealed, err := st.SealedCredential(ctx, acme.ID, "github")
	require.NoError(t, err)
	require.NotContains(t, sealed, token)

	require.NoError(t, st.DeleteCredential(ctx, acme.ID, "hub"))
	require.ErrorIs(t, st.DeleteCredential(ctx, acme.ID, "hub"), store.ErrNotFound)
	_, err = st.GetCredential(ctx, acme.ID, "hub")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, _, err = st.OpenCredential(ctx, acme.ID, "hub")
	require.ErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, st.Close())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(raw), "github.com", "the host is plaintext")
	require.NotContains(t, string(raw), token, "the database file holds no token in plaintext")
}

// TestCredentialSealBinding: a sealed secret copied into another tenant's row, or another name's,
// does not open there; a replaced credential's old blob does not open as the new version.
func TestCredentialSealBinding(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := openSQLite(t, filepath.Join(t.TempDir(), "moved.db"))
	put := func(tenantID, name, token string) {
		t.Helper()
		_, _, err := st.PutCredential(ctx, store.Credential{TenantID: tenantID, Name: name, Type: store.CredentialGitToken},
			store.CredentialSecret{Token: token}, "alice")
		require.NoError(t, err)
	}
	acme, err := st.CreateTenant(ctx, store.Tenant{Name: "acme"})
	require.NoError(t, err)
	evil, err := st.CreateTenant(ctx, store.Tenant{Name: "evil"})
	require.NoError(t, err)
	put(acme.ID, "github", "acme-token")
	put(acme.ID, "gitlab", "acme-gitlab")
	put(evil.ID, "github", "evil-token")
	blob, err := st.SealedCredential(ctx, acme.ID, "github")
	require.NoError(t, err)

	tests := []struct {
		name     string
		tenantID string
		cred     string
	}{
		{name: "another tenant, same name", tenantID: evil.ID, cred: "github"},
		{name: "same tenant, another name", tenantID: acme.ID, cred: "gitlab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, st.OverwriteSealedCredential(ctx, tt.tenantID, tt.cred, blob))
			_, _, err := st.OpenCredential(ctx, tt.tenantID, tt.cred)
			require.ErrorIs(t, err, seal.ErrCorrupt)
			require.NotContains(t, err.Error(), "acme-token")
		})
	}
	t.Run("an older version", func(t *testing.T) {
		put(acme.ID, "github", "acme-token-2")
		require.NoError(t, st.OverwriteSealedCredential(ctx, acme.ID, "github", blob))
		_, _, err := st.OpenCredential(ctx, acme.ID, "github")
		require.ErrorIs(t, err, seal.ErrCorrupt)
	})
}

// TestCredentialsNeedKeyring: a store without a keyring neither writes nor opens credentials.
func TestCredentialsNeedKeyring(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := store.Open(ctx, store.Config{DSN: filepath.Join(t.TempDir(), "nokey.db")})
	require.NoError(t, err)
	defer st.Close()
	tn, err := st.CreateTenant(ctx, store.Tenant{Name: "acme"})
	require.NoError(t, err)
	_, _, err = st.PutCredential(ctx, store.Credential{TenantID: tn.ID, Name: "x", Type: store.CredentialGitToken},
		store.CredentialSecret{Token: "t"}, "alice")
	require.ErrorIs(t, err, store.ErrNoKeyring)
	_, _, err = st.OpenCredential(ctx, tn.ID, "x")
	require.ErrorIs(t, err, store.ErrNoKeyring)
}
