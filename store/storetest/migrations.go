package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/store"
)

func testMigrations(t *testing.T, open Opener) {
	st := open(t)
	ctx := t.Context()
	require.NoError(t, st.Ping(ctx))

	version, err := st.SchemaVersion(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, version, 1, "Open applies the migrations")

	tenant, err := st.CreateTenant(ctx, store.Tenant{Name: uniq("migrate")})
	require.NoError(t, err)

	for range 2 {
		require.NoError(t, st.Migrate(ctx), "running the migrations again is a no-op")
		again, err := st.SchemaVersion(ctx)
		require.NoError(t, err)
		require.Equal(t, version, again)
	}
	got, err := st.GetTenant(ctx, tenant.Name)
	require.NoError(t, err, "rows survive a re-run")
	require.Equal(t, tenant, got)
}
