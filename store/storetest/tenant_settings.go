package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

func testTenantSettings(t *testing.T, open Opener) {
	st := open(t)
	ctx := t.Context()
	settings := contract.TenantSettings{
		Quota:             &contract.TenantQuota{CPURequests: "2", MemoryLimits: "4Gi", Pods: 20},
		ContainerDefaults: contract.Resources{CPURequest: "50m", MemoryLimit: "256Mi"},
	}
	created, err := st.CreateTenant(ctx, store.Tenant{Name: uniq("quota"), Settings: settings})
	require.NoError(t, err)
	require.Equal(t, settings, created.Settings)
	got, err := st.GetTenant(ctx, created.Name)
	require.NoError(t, err)
	require.Equal(t, settings, got.Settings)

	got.DisplayName, got.Settings.Quota = "Quota Corp.", nil
	updated, err := st.UpdateTenant(ctx, got)
	require.NoError(t, err)
	require.Nil(t, updated.Settings.Quota)
	require.Equal(t, "Quota Corp.", updated.DisplayName)
	require.Equal(t, settings.ContainerDefaults, updated.Settings.ContainerDefaults)
	again, err := st.UpdateTenant(ctx, updated)
	require.NoError(t, err, "an update that changes nothing is not an error")
	require.Equal(t, updated, again)

	_, err = st.UpdateTenant(ctx, store.Tenant{ID: "00000000-0000-0000-0000-000000000000"})
	require.ErrorIs(t, err, store.ErrNotFound)
}
