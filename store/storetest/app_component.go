package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/store"
)

func testAppComponent(t *testing.T, open Opener) {
	f := newFixture(t, open)
	st, ctx := f.st, t.Context()
	other, err := st.CreateApp(ctx, store.App{TenantID: f.tenant.ID, Name: "other"})
	require.NoError(t, err)
	_, err = st.CreateComponent(ctx, store.Component{AppID: other.ID, Name: "web", Spec: sampleSpec()})
	require.NoError(t, err)

	a, c, err := st.GetAppComponent(ctx, f.tenant.ID, "shop", "web")
	require.NoError(t, err)
	require.Equal(t, f.app, a, "the app reads as GetApp answers it")
	require.Equal(t, f.component, c, "the component reads as GetComponent answers it, of its own app")

	otherTenant, err := st.CreateTenant(ctx, store.Tenant{Name: uniq("appcomp-other")})
	require.NoError(t, err)
	tests := []struct{ name, tenant, app, component string }{
		{name: "unknown component", tenant: f.tenant.ID, app: "shop", component: "nope"},
		{name: "unknown app", tenant: f.tenant.ID, app: "nope", component: "web"},
		{name: "another tenant", tenant: otherTenant.ID, app: "shop", component: "web"},
		{name: "names compare exactly", tenant: f.tenant.ID, app: "Shop", component: "web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := st.GetAppComponent(ctx, tt.tenant, tt.app, tt.component)
			require.ErrorIs(t, err, store.ErrNotFound)
		})
	}
}
