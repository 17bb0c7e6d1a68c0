package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/store"
)

func testTenants(t *testing.T, open Opener) {
	st := open(t)
	ctx := t.Context()
	before := time.Now().Add(-time.Second)

	created, err := st.CreateTenant(ctx, store.Tenant{Name: uniq("acme"), DisplayName: "ACME Corp."})
	require.NoError(t, err)
	require.NotEmpty(t, created.ID)
	require.Equal(t, "ACME Corp.", created.DisplayName)
	require.True(t, created.CreatedAt.After(before), "CreatedAt is set")
	require.Equal(t, time.UTC, created.CreatedAt.Location())

	byName, err := st.GetTenant(ctx, created.Name)
	require.NoError(t, err)
	require.Equal(t, created, byName, "a tenant reads back exactly as created")
	byID, err := st.GetTenantByID(ctx, created.ID)
	require.NoError(t, err)
	require.Equal(t, created, byID)

	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{name: "duplicate name", want: store.ErrAlreadyExists, do: func() error {
			_, err := st.CreateTenant(ctx, store.Tenant{Name: created.Name})
			return err
		}},
		{name: "empty name", want: store.ErrInvalid, do: func() error {
			_, err := st.CreateTenant(ctx, store.Tenant{})
			return err
		}},
		{name: "get unknown name", want: store.ErrNotFound, do: func() error {
			_, err := st.GetTenant(ctx, uniq("nobody"))
			return err
		}},
		{name: "get unknown id", want: store.ErrNotFound, do: func() error {
			_, err := st.GetTenantByID(ctx, "00000000-0000-0000-0000-000000000000")
			return err
		}},
		{name: "delete unknown", want: store.ErrNotFound, do: func() error {
			return st.DeleteTenant(ctx, "00000000-0000-0000-0000-000000000000")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			require.ErrorIs(t, err, tt.want)
		})
	}

	t.Run("delete refuses a tenant with apps", func(t *testing.T) {
		app, err := st.CreateApp(ctx, store.App{TenantID: created.ID, Name: "shop"})
		require.NoError(t, err)
		err = st.DeleteTenant(ctx, created.ID)
		require.ErrorIs(t, err, store.ErrNotEmpty)
		require.ErrorContains(t, err, "1 apps")

		require.NoError(t, st.DeleteApp(ctx, app.ID))
		require.NoError(t, st.DeleteTenant(ctx, created.ID))
		_, err = st.GetTenant(ctx, created.Name)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func testTenantPagination(t *testing.T, open Opener) {
	st := open(t)
	ctx := t.Context()
	prefix := uniq("page")
	var want []string
	for _, suffix := range []string{"e", "a", "d", "b", "c"} {
		tenant, err := st.CreateTenant(ctx, store.Tenant{Name: prefix + "-" + suffix})
		require.NoError(t, err)
		want = append(want, tenant.Name)
	}
	slices.Sort(want)

	// Other tests may add tenants to a shared database meanwhile: walk every page and keep ours.
	var got, all []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10_000, "pagination ends")
		page, next, err := st.ListTenants(ctx, store.Page{Limit: 2, Cursor: cursor})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), 2)
		for _, tenant := range page {
			all = append(all, tenant.Name)
			if strings.HasPrefix(tenant.Name, prefix+"-") {
				got = append(got, tenant.Name)
			}
		}
		if next == "" {
			break
		}
		require.Len(t, page, 2, "a page before the last is full")
		cursor = next
	}
	require.Equal(t, want, got, "every tenant once, ordered by name")
	require.True(t, slices.IsSorted(all), "pages are ordered by name")

	_, _, err := st.ListTenants(ctx, store.Page{Cursor: "not a cursor!"})
	require.ErrorIs(t, err, store.ErrInvalid)
}
