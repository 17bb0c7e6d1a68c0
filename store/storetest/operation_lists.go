package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// listedOps is a tenant's operations as the lists test knows them.
type listedOps struct {
	all                 []store.Operation // every operation of the tenant, in creation order
	web, api, app       []store.Operation // web's, api's (api is deleted later), and the app-level one
	adminWeb, tenantOps []store.Operation // the other app's component's, and the one of no app
}

// seedOperationLists records operations of every shape in f's tenant: two components of app shop
// (api deleted afterwards), an app-level operation of shop, a component of a second app, one operation
// of no app, and one in another tenant that no list may show.
func seedOperationLists(t *testing.T, f fixture) listedOps {
	t.Helper()
	st, ctx := f.st, t.Context()
	api, err := st.CreateComponent(ctx, store.Component{AppID: f.app.ID, Name: "api", Spec: sampleSpec()})
	require.NoError(t, err)
	admin, err := st.CreateApp(ctx, store.App{TenantID: f.tenant.ID, Name: "admin"})
	require.NoError(t, err)
	adminWeb, err := st.CreateComponent(ctx, store.Component{AppID: admin.ID, Name: "web", Spec: sampleSpec()})
	require.NoError(t, err)

	var ops listedOps
	add := func(to *[]store.Operation, op store.Operation) {
		op.TenantID = f.tenant.ID
		if op.WorkflowID == "" {
			op.WorkflowID = "wf-" + uniq("op")
		}
		created, err := st.CreateOperation(ctx, op)
		require.NoError(t, err)
		*to = append(*to, created)
		ops.all = append(ops.all, created)
	}
	add(&ops.web, store.Operation{ComponentID: f.component.ID, Kind: contract.OperationDeploy, RequestedBy: "alice"})
	add(&ops.api, store.Operation{ComponentID: api.ID, Kind: contract.OperationDeploy, RequestedBy: "alice"})
	add(&ops.app, store.Operation{AppID: f.app.ID, Kind: contract.AppOperationKind(contract.OperationDeploy), RequestedBy: "bob"})
	add(&ops.web, store.Operation{ComponentID: f.component.ID, Kind: contract.OperationStop, RequestedBy: "bob"})
	add(&ops.adminWeb, store.Operation{ComponentID: adminWeb.ID, Kind: contract.OperationRestart, RequestedBy: "carol"})
	add(&ops.tenantOps, store.Operation{Kind: contract.OperationDeploy, RequestedBy: "alice"})
	add(&ops.web, store.Operation{ComponentID: f.component.ID, Kind: contract.OperationDeploy, RequestedBy: "carol"})

	other, err := st.CreateTenant(ctx, store.Tenant{Name: uniq("ops-lists-other")})
	require.NoError(t, err)
	_, err = st.CreateOperation(ctx, store.Operation{TenantID: other.ID, Kind: contract.OperationDeploy, WorkflowID: "wf", RequestedBy: "alice"})
	require.NoError(t, err)

	// a deleted component's operations stay in its app's and its tenant's lists
	require.NoError(t, st.DeleteComponent(ctx, api.ID))
	for i := range ops.api {
		ops.api[i].ComponentID = ""
	}
	for i, op := range ops.all {
		if op.ID == ops.api[0].ID {
			ops.all[i].ComponentID = ""
		}
	}
	return ops
}

// newestFirst answers the operations ordered as the lists are: newest first, ties by id.
func newestFirst(groups ...[]store.Operation) []store.Operation {
	out := slices.Concat(groups...)
	slices.SortFunc(out, func(a, b store.Operation) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out
}

// keep answers the operations that pass.
func keep(ops []store.Operation, pass func(store.Operation) bool) []store.Operation {
	var out []store.Operation
	for _, op := range ops {
		if pass(op) {
			out = append(out, op)
		}
	}
	return out
}

// listAll reads every page of the filtered list, limit at a time.
func listAll(t *testing.T, st *store.Store, f store.OperationFilter, limit int) []store.Operation {
	t.Helper()
	var got []store.Operation
	cursor := ""
	for range 100 {
		page, next, err := st.ListOperationsWhere(t.Context(), f, store.Page{Limit: limit, Cursor: cursor})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), limit)
		got = append(got, page...)
		if next == "" {
			return got
		}
		cursor = next
	}
	t.Fatal("the list did not end after 100 pages")
	return nil
}

func testOperationLists(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ops := seedOperationLists(t, f)
	all := newestFirst(ops.all)
	at := func(i int) time.Time { return ops.all[i].CreatedAt }
	tenant := f.tenant.ID

	tests := []struct {
		name   string
		filter store.OperationFilter
		want   []store.Operation
	}{
		{name: "tenant", filter: store.OperationFilter{TenantID: tenant}, want: all},
		{name: "app: its own, its components', a deleted component's", filter: store.OperationFilter{TenantID: tenant, AppID: f.app.ID},
			want: newestFirst(ops.web, ops.api, ops.app)},
		{name: "component", filter: store.OperationFilter{TenantID: tenant, ComponentID: f.component.ID}, want: newestFirst(ops.web)},
		{name: "app of another tenant", filter: store.OperationFilter{TenantID: tenant + "x", AppID: f.app.ID}},
		{name: "kind", filter: store.OperationFilter{TenantID: tenant, Kind: contract.OperationDeploy},
			want: keep(all, func(op store.Operation) bool { return op.Kind == contract.OperationDeploy })},
		{name: "app-level kind", filter: store.OperationFilter{TenantID: tenant, Kind: "app-deploy"}, want: ops.app},
		{name: "requested by", filter: store.OperationFilter{TenantID: tenant, RequestedBy: "alice"},
			want: keep(all, func(op store.Operation) bool { return op.RequestedBy == "alice" })},
		{name: "requested by compares exactly", filter: store.OperationFilter{TenantID: tenant, RequestedBy: "Alice"}},
		{name: "component, kind and requester", filter: store.OperationFilter{TenantID: tenant, ComponentID: f.component.ID,
			Kind: contract.OperationDeploy, RequestedBy: "carol"}, want: ops.web[2:]},
		{name: "since is inclusive", filter: store.OperationFilter{TenantID: tenant, Since: at(2)},
			want: keep(all, func(op store.Operation) bool { return !op.CreatedAt.Before(at(2)) })},
		{name: "until is exclusive", filter: store.OperationFilter{TenantID: tenant, Until: at(4)},
			want: keep(all, func(op store.Operation) bool { return op.CreatedAt.Before(at(4)) })},
		{name: "since and until", filter: store.OperationFilter{TenantID: tenant, Since: at(1), Until: at(5)},
			want: keep(all, func(op store.Operation) bool { return !op.CreatedAt.Before(at(1)) && op.CreatedAt.Before(at(5)) })},
		{name: "bounds between two microseconds", filter: store.OperationFilter{
			TenantID: tenant, Since: at(1).Add(time.Nanosecond), Until: at(5).Add(time.Nanosecond)},
			want: keep(all, func(op store.Operation) bool { return op.CreatedAt.After(at(1)) && !op.CreatedAt.After(at(5)) })},
		{name: "bounds in another time zone", filter: store.OperationFilter{
			TenantID: tenant, Since: at(2).In(time.FixedZone("UTC+5", 5*3600)), Until: at(6).In(time.FixedZone("UTC-7", -7*3600))},
			want: keep(all, func(op store.Operation) bool { return !op.CreatedAt.Before(at(2)) && op.CreatedAt.Before(at(6)) })},
		{name: "nothing before the first", filter: store.OperationFilter{TenantID: tenant, Until: at(0)},
			want: keep(all, func(op store.Operation) bool { return op.CreatedAt.Before(at(0)) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, limit := range []int{2, store.MaxPageLimit} {
				got := listAll(t, f.st, tt.filter, limit)
				if len(tt.want) == 0 {
					require.Empty(t, got, "limit %d", limit)
					continue
				}
				require.Equal(t, tt.want, got, "limit %d: newest first, each once", limit)
			}
		})
	}

	_, _, err := f.st.ListOperationsWhere(t.Context(), store.OperationFilter{}, store.Page{})
	require.ErrorIs(t, err, store.ErrInvalid, "a list is always of one tenant")
	_, _, err = f.st.ListOperationsWhere(t.Context(), store.OperationFilter{TenantID: tenant}, store.Page{Cursor: "not a cursor"})
	require.ErrorIs(t, err, store.ErrInvalid)
}
