package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/store"
)

func testApps(t *testing.T, open Opener) {
	st := open(t)
	ctx := t.Context()
	tenant, err := st.CreateTenant(ctx, store.Tenant{Name: uniq("apps")})
	require.NoError(t, err)
	other, err := st.CreateTenant(ctx, store.Tenant{Name: uniq("apps-other")})
	require.NoError(t, err)

	app, err := st.CreateApp(ctx, store.App{TenantID: tenant.ID, Name: "shop"})
	require.NoError(t, err)
	require.NotEmpty(t, app.ID)
	require.Equal(t, tenant.ID, app.TenantID)
	require.False(t, app.CreatedAt.IsZero())

	got, err := st.GetApp(ctx, tenant.ID, "shop")
	require.NoError(t, err)
	require.Equal(t, app, got)
	got, err = st.GetAppByID(ctx, app.ID)
	require.NoError(t, err)
	require.Equal(t, app, got)

	sameNameElsewhere, err := st.CreateApp(ctx, store.App{TenantID: other.ID, Name: "shop"})
	require.NoError(t, err, "app names are unique per tenant only")
	require.NotEqual(t, app.ID, sameNameElsewhere.ID)

	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{name: "duplicate name in tenant", want: store.ErrAlreadyExists, do: func() error {
			_, err := st.CreateApp(ctx, store.App{TenantID: tenant.ID, Name: "shop"})
			return err
		}},
		{name: "unknown tenant", want: store.ErrNotFound, do: func() error {
			_, err := st.CreateApp(ctx, store.App{TenantID: "00000000-0000-0000-0000-000000000000", Name: "shop"})
			return err
		}},
		{name: "empty name", want: store.ErrInvalid, do: func() error {
			_, err := st.CreateApp(ctx, store.App{TenantID: tenant.ID})
			return err
		}},
		{name: "get unknown", want: store.ErrNotFound, do: func() error {
			_, err := st.GetApp(ctx, tenant.ID, "nothing")
			return err
		}},
		{name: "get from another tenant", want: store.ErrNotFound, do: func() error {
			_, err := st.GetApp(ctx, uniq("x"), "shop")
			return err
		}},
		{name: "delete unknown", want: store.ErrNotFound, do: func() error {
			return st.DeleteApp(ctx, "00000000-0000-0000-0000-000000000000")
		}},
		{name: "bad cursor", want: store.ErrInvalid, do: func() error {
			_, _, err := st.ListApps(ctx, tenant.ID, store.Page{Cursor: "%%%"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.do(), tt.want)
		})
	}

	t.Run("pagination", func(t *testing.T) {
		for _, name := range []string{"e", "c", "a", "d"} {
			_, err := st.CreateApp(ctx, store.App{TenantID: tenant.ID, Name: name})
			require.NoError(t, err)
		}
		tests := []struct {
			name  string
			limit int
			pages [][]string
		}{
			{name: "two per page", limit: 2, pages: [][]string{{"a", "c"}, {"d", "e"}, {"shop"}}},
			{name: "exact fit", limit: 5, pages: [][]string{{"a", "c", "d", "e", "shop"}}},
			{name: "default limit", limit: 0, pages: [][]string{{"a", "c", "d", "e", "shop"}}},
			{name: "one per page", limit: 1, pages: [][]string{{"a"}, {"c"}, {"d"}, {"e"}, {"shop"}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				cursor := ""
				for i, want := range tt.pages {
					page, next, err := st.ListApps(ctx, tenant.ID, store.Page{Limit: tt.limit, Cursor: cursor})
					require.NoError(t, err)
					var names []string
					for _, a := range page {
						names = append(names, a.Name)
						require.Equal(t, tenant.ID, a.TenantID)
					}
					require.Equal(t, want, names, "page %d", i)
					if i == len(tt.pages)-1 {
						require.Empty(t, next, "the last page has no next cursor")
					} else {
						require.NotEmpty(t, next)
					}
					cursor = next
				}
			})
		}
	})

	t.Run("delete refuses an app with components", func(t *testing.T) {
		c, err := st.CreateComponent(ctx, store.Component{AppID: app.ID, Name: "web", Spec: sampleSpec()})
		require.NoError(t, err)
		err = st.DeleteApp(ctx, app.ID)
		require.ErrorIs(t, err, store.ErrNotEmpty)
		require.ErrorContains(t, err, "1 components")

		require.NoError(t, st.DeleteComponent(ctx, c.ID))
		require.NoError(t, st.DeleteApp(ctx, app.ID))
		_, err = st.GetApp(ctx, tenant.ID, "shop")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}
