package activities

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// storedComponent opens a SQLite store in a temp dir with tenant acme, app shop, component web running
// image, and one operation of kind on it; it answers the store, the tenant, the component and the
// operation.
func storedComponent(t *testing.T, image string, kind contract.OperationKind) (*store.Store, store.Tenant, store.Component, store.Operation) {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, store.Config{DSN: filepath.Join(t.TempDir(), "rainflow.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	tenant, err := st.CreateTenant(ctx, store.Tenant{Name: "acme"})
	require.NoError(t, err)
	app, err := st.CreateApp(ctx, store.App{TenantID: tenant.ID, Name: "shop"})
	require.NoError(t, err)
	c, err := st.CreateComponent(ctx, store.Component{AppID: app.ID, Name: "web", Spec: contract.ComponentSpec{Image: image, Replicas: 1}})
	require.NoError(t, err)
	op, err := st.CreateOperation(ctx, store.Operation{TenantID: tenant.ID, ComponentID: c.ID, Kind: kind,
		WorkflowID: string(kind) + "/acme/shop/web/op1"})
	require.NoError(t, err)
	return st, tenant, c, op
}
