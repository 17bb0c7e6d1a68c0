package store

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/seal"
)

// TestCertificateKeyAtRest: the key is sealed in its row, bound to it, and needs the keyring.
func TestCertificateKeyAtRest(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "certs.db")
	ring, err := seal.NewKeyring(seal.Key{ID: "k1", Secret: []byte(strings.Repeat("s", seal.KeySize))})
	require.NoError(t, err)
	st, err := Open(ctx, Config{DSN: path, Keyring: ring})
	require.NoError(t, err)
	defer st.Close()

	tenant, err := st.CreateTenant(ctx, Tenant{Name: "acme"})
	require.NoError(t, err)
	const plain = "-----BEGIN PRIVATE KEY-----\nvery-secret-key-bytes\n-----END PRIVATE KEY-----\n"
	c := Certificate{TenantID: tenant.ID, Name: "tls", CertPEM: "chain", SANs: []string{"a.example.com"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), Fingerprint: "f"}
	created, err := st.CreateCertificate(ctx, c, []byte(plain))
	require.NoError(t, err)

	var rows []map[string]any
	require.NoError(t, st.db.Raw("SELECT * FROM certificates").Scan(&rows).Error)
	require.Len(t, rows, 1)
	for col, v := range rows[0] {
		s, _ := v.(string)
		require.NotContains(t, s, "very-secret-key-bytes", "column %s holds the key in plaintext", col)
	}
	sealed, _ := rows[0]["key_sealed"].(string)
	require.True(t, strings.HasPrefix(sealed, "v1:k1:"), "sealed with the primary key: %q", sealed)

	// a sealed key copied to another certificate's row does not open there
	other, err := st.CreateCertificate(ctx, Certificate{TenantID: tenant.ID, Name: "other", CertPEM: "chain", SANs: []string{"b.example.com"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), Fingerprint: "g"}, []byte("other key"))
	require.NoError(t, err)
	require.NoError(t, st.db.Exec("UPDATE certificates SET key_sealed = ? WHERE id = ?", sealed, other.ID).Error)
	_, _, err = st.CertificateKey(ctx, tenant.ID, "other")
	require.ErrorIs(t, err, seal.ErrCorrupt)
	_, key, err := st.CertificateKey(ctx, tenant.ID, created.Name)
	require.NoError(t, err)
	require.Equal(t, plain, string(key))

	// without a keyring, reads work and the key does not
	require.NoError(t, st.Close())
	bare, err := Open(ctx, Config{DSN: path})
	require.NoError(t, err)
	defer bare.Close()
	_, err = bare.GetCertificate(ctx, tenant.ID, "tls")
	require.NoError(t, err)
	_, _, err = bare.CertificateKey(ctx, tenant.ID, "tls")
	require.ErrorIs(t, err, ErrNoKeyring)
	_, err = bare.CreateCertificate(ctx, Certificate{TenantID: tenant.ID, Name: "x", CertPEM: "c", SANs: []string{"x"}}, []byte("k"))
	require.ErrorIs(t, err, ErrNoKeyring)
}
