package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// testComponentRead checks that ReadComponent's one query answers what the reads it replaces answer
// (TenantAccess, GetAppComponent, GetSecretEnv), and that it finds nothing outside its tenant and app.
func testComponentRead(t *testing.T, open Opener) {
	f := newFixture(t, open)
	st, ctx := f.st, t.Context()

	// a component of the same name in another app, and an app of the same name in another tenant
	other, err := st.CreateApp(ctx, store.App{TenantID: f.tenant.ID, Name: "other"})
	require.NoError(t, err)
	_, err = st.CreateComponent(ctx, store.Component{AppID: other.ID, Name: "web", Spec: contract.ComponentSpec{Image: "other:1"}})
	require.NoError(t, err)
	otherTenant, err := st.CreateTenant(ctx, store.Tenant{Name: uniq("read-other")})
	require.NoError(t, err)
	_, err = st.CreateApp(ctx, store.App{TenantID: otherTenant.ID, Name: "lone"})
	require.NoError(t, err)
	// a second component whose secret env has two versions; the fixture's has none
	db, err := st.CreateComponent(ctx, store.Component{AppID: f.app.ID, Name: "db", Spec: sampleSpec()})
	require.NoError(t, err)
	_, _, err = st.SetSecretEnv(ctx, db.ID, 0, map[string]string{"OLD": "1"}, "alice")
	require.NoError(t, err)
	_, _, err = st.SetSecretEnv(ctx, db.ID, 1, map[string]string{"PASSWORD": "p", "API_KEY": "k"}, "bob")
	require.NoError(t, err)
	// a tenant with settings, whose decoding the query shares with TenantAccess
	quota := contract.TenantQuota{CPULimits: "4", MemoryLimits: "8Gi", Pods: 20}
	f.tenant.Settings = contract.TenantSettings{Quota: &quota}
	f.tenant, err = st.UpdateTenant(ctx, f.tenant)
	require.NoError(t, err)

	ana, err := st.CreateUser(ctx, store.User{Name: uniq("ana")})
	require.NoError(t, err)
	bo, err := st.CreateUser(ctx, store.User{Name: uniq("bo")})
	require.NoError(t, err)
	_, _, err = st.SetMembership(ctx, f.tenant.ID, ana.ID, store.RoleDeveloper)
	require.NoError(t, err)
	_, _, err = st.SetMembership(ctx, otherTenant.ID, bo.ID, store.RoleAdmin)
	require.NoError(t, err)

	tests := []struct {
		name                   string
		tenant, user           string
		app, component         string
		wantRole               string
		wantApp, wantComponent bool
		wantSecretEnvVersion   int64
	}{
		{name: "member, no secret env", tenant: f.tenant.Name, user: ana.ID, app: "shop", component: "web",
			wantRole: store.RoleDeveloper, wantApp: true, wantComponent: true},
		{name: "latest secret env version", tenant: f.tenant.Name, user: ana.ID, app: "shop", component: "db",
			wantRole: store.RoleDeveloper, wantApp: true, wantComponent: true, wantSecretEnvVersion: 2},
		{name: "member of another tenant", tenant: f.tenant.Name, user: bo.ID, app: "shop", component: "web",
			wantApp: true, wantComponent: true},
		{name: "no user", tenant: f.tenant.Name, app: "shop", component: "web", wantApp: true, wantComponent: true},
		{name: "unknown component", tenant: f.tenant.Name, user: ana.ID, app: "shop", component: "nope",
			wantRole: store.RoleDeveloper, wantApp: true},
		{name: "unknown app", tenant: f.tenant.Name, user: ana.ID, app: "nope", component: "web", wantRole: store.RoleDeveloper},
		{name: "app of another tenant", tenant: f.tenant.Name, user: ana.ID, app: "lone", component: "web", wantRole: store.RoleDeveloper},
		{name: "names compare exactly", tenant: f.tenant.Name, user: ana.ID, app: "Shop", component: "web", wantRole: store.RoleDeveloper},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.ReadComponent(ctx, tt.tenant, tt.user, tt.app, tt.component)
			require.NoError(t, err)
			tenant, role, err := st.TenantAccess(ctx, tt.tenant, tt.user)
			require.NoError(t, err)
			require.Equal(t, tenant, got.Tenant, "the tenant reads as TenantAccess answers it")
			require.Equal(t, role, got.Role)
			require.Equal(t, tt.wantRole, got.Role)
			require.Equal(t, tt.wantApp, got.HasApp, "has app")
			require.Equal(t, tt.wantComponent, got.HasComponent, "has component")
			if !tt.wantApp {
				require.Zero(t, got.App)
				require.Zero(t, got.Component)
				return
			}
			a, err := st.GetApp(ctx, tenant.ID, tt.app)
			require.NoError(t, err)
			require.Equal(t, a, got.App, "the app reads as GetApp answers it")
			if !tt.wantComponent {
				require.Zero(t, got.Component)
				return
			}
			_, c, err := st.GetAppComponent(ctx, tenant.ID, tt.app, tt.component)
			require.NoError(t, err)
			require.Equal(t, c, got.Component, "the component reads as GetAppComponent answers it")
			se, err := st.GetSecretEnv(ctx, c.ID)
			require.NoError(t, err)
			require.Equal(t, se, got.SecretEnv, "the secret env reads as GetSecretEnv answers it")
			require.Equal(t, tt.wantSecretEnvVersion, got.SecretEnv.Version)
		})
	}
	require.Equal(t, []string{"API_KEY", "PASSWORD"}, func() []string {
		got, err := st.ReadComponent(ctx, f.tenant.Name, ana.ID, "shop", "db")
		require.NoError(t, err)
		return got.SecretEnv.Names
	}(), "the latest version's names, sorted")

	_, err = st.ReadComponent(ctx, uniq("nope"), ana.ID, "shop", "web")
	require.ErrorIs(t, err, store.ErrNotFound, "an unknown tenant")
}
