package api_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/api"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// listedOperation is an operation as the lists show it.
type listedOperation struct{ id, kind, app, component, requestedBy string }

// listOperations reads every page of an operation list, limit at a time, following nextCursor, and
// checks that the Link header carries the filters to the next page.
func listOperations(t *testing.T, e *env, path string, query url.Values, limit int) []listedOperation {
	t.Helper()
	var out []listedOperation
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("limit", strconv.Itoa(limit))
	for range 50 {
		rec := e.ok(http.StatusOK, request{method: "GET", path: path + "?" + q.Encode()})
		body := jsonOf(t, rec)
		items := body["items"].([]any)
		require.LessOrEqual(t, len(items), limit)
		for _, it := range items {
			op := it.(map[string]any)
			require.Nil(t, op["state"], "lists come from the store; the state is in GET operation")
			str := func(k string) string { s, _ := op[k].(string); return s }
			out = append(out, listedOperation{id: str("id"), kind: str("kind"), app: str("app"), component: str("component"), requestedBy: str("requestedBy")})
		}
		next, _ := body["nextCursor"].(string)
		if next == "" {
			require.Empty(t, rec.Header().Get("Link"))
			return out
		}
		link := rec.Header().Get("Link")
		for k := range query {
			require.Contains(t, link, k+"=", "the next page keeps the filters")
		}
		q.Set("cursor", next)
	}
	t.Fatal("the list did not end after 50 pages")
	return nil
}

// seedOperations answers the operations of tenant acme, newest first: its setup's; web deployed, restarted; api
// deployed and then deleted from the store (its records stay); an app deploy of shop with the part of
// its one remaining component; a component of a second app stopped; one operation recorded by carol.
func seedOperations(t *testing.T, e *env) []listedOperation {
	t.Helper()
	e.seed()
	ctx := t.Context()
	post := func(path, body string) string {
		return jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: path, body: body}))["operationId"].(string)
	}
	// what creating the tenant recorded (its setup)
	ops := listOperations(t, e, "/v1/tenants/acme/operations", nil, 100)
	add := func(id, kind, app, component string) {
		ops = append(ops, listedOperation{id: id, kind: kind, app: app, component: component, requestedBy: "admin"})
	}
	add(post(webPath+"/deploys", ""), "deploy", "shop", "web")
	e.wf.finish(webWorkflowID, okStatus())
	add(post(webPath+"/restart", ""), "restart", "shop", "web")
	e.wf.finish(webWorkflowID, okStatus())

	e.ok(http.StatusCreated, request{method: "POST", path: appPath + "/components", body: componentBody("api", webImage)})
	apiPath := appPath + "/components/api"
	add(post(apiPath+"/deploys", ""), "deploy", "shop", "api")
	e.wf.finish(contract.ComponentWorkflowID(contract.ComponentRef{Tenant: "acme", App: "shop", Component: "api"}), okStatus())
	apiC, err := e.st.GetComponent(ctx, mustApp(t, e, "shop").ID, "api")
	require.NoError(t, err)
	require.NoError(t, e.st.DeleteComponent(ctx, apiC.ID), "as the Delete workflow's last step does")

	rec := e.ok(http.StatusAccepted, request{method: "POST", path: appPath + "/deploys"})
	body := jsonOf(t, rec)
	add(body["operationId"].(string), "app-deploy", "shop", "")
	for name, id := range body["components"].(map[string]any) {
		add(id.(string), "deploy", "shop", name)
	}

	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/acme/apps", body: `{"name":"admin"}`})
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/acme/apps/admin/components", body: componentBody("web", webImage)})
	add(post("/v1/tenants/acme/apps/admin/components/web/stop", ""), "stop", "admin", "web")

	tenant, err := e.st.GetTenant(ctx, "acme")
	require.NoError(t, err)
	carol, err := e.st.CreateOperation(ctx, store.Operation{TenantID: tenant.ID, Kind: contract.OperationScale,
		WorkflowID: "scale-by-carol", RequestedBy: "carol"})
	require.NoError(t, err)
	ops = append(ops, listedOperation{id: carol.ID, kind: "scale", requestedBy: "carol"})

	// another tenant's operation shows in none of acme's lists
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants", body: `{"name":"other"}`})
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/other/apps", body: `{"name":"shop"}`})
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/other/apps/shop/components", body: componentBody("web", webImage)})
	post("/v1/tenants/other/apps/shop/components/web/deploys", "")

	return newestFirstByStore(t, e, ops)
}

func okStatus() api.OperationStatus { return api.OperationStatus{State: api.StateSucceeded} }

func mustApp(t *testing.T, e *env, name string) store.App {
	t.Helper()
	tenant, err := e.st.GetTenant(t.Context(), "acme")
	require.NoError(t, err)
	a, err := e.st.GetApp(t.Context(), tenant.ID, name)
	require.NoError(t, err)
	return a
}

// newestFirstByStore orders the operations as the lists do, by their recorded creation times.
func newestFirstByStore(t *testing.T, e *env, ops []listedOperation) []listedOperation {
	t.Helper()
	tenant, err := e.st.GetTenant(t.Context(), "acme")
	require.NoError(t, err)
	at := map[string]store.Operation{}
	for _, op := range ops {
		rec, err := e.st.GetOperation(t.Context(), tenant.ID, op.id)
		require.NoError(t, err)
		at[op.id] = rec
	}
	out := append([]listedOperation(nil), ops...)
	less := func(a, b store.Operation) bool {
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.After(b.CreatedAt)
		}
		return a.ID > b.ID
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && less(at[out[j].id], at[out[j-1].id]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func keepOps(ops []listedOperation, pass func(listedOperation) bool) []listedOperation {
	var out []listedOperation
	for _, op := range ops {
		if pass(op) {
			out = append(out, op)
		}
	}
	return out
}

func TestOperationLists(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	all := seedOperations(t, e)
	require.GreaterOrEqual(t, len(all), 7)
	tenant, err := e.st.GetTenant(t.Context(), "acme")
	require.NoError(t, err)
	createdAt := func(i int) time.Time {
		op, err := e.st.GetOperation(t.Context(), tenant.ID, all[i].id)
		require.NoError(t, err)
		return op.CreatedAt
	}
	// all is newest first: since the 6th newest, until the 2nd newest
	since, until := createdAt(5), createdAt(1)

	const tenantOps, shopOps = "/v1/tenants/acme/operations", appPath + "/operations"
	tests := []struct {
		name  string
		path  string
		query url.Values
		want  []listedOperation
	}{
		{name: "tenant", path: tenantOps, want: all},
		{name: "app: its own, its components', a deleted component's", path: shopOps,
			want: keepOps(all, func(op listedOperation) bool { return op.app == "shop" })},
		{name: "component", path: webPath + "/operations",
			want: keepOps(all, func(op listedOperation) bool { return op.app == "shop" && op.component == "web" })},
		{name: "kind", path: tenantOps, query: url.Values{"kind": {"deploy"}},
			want: keepOps(all, func(op listedOperation) bool { return op.kind == "deploy" })},
		{name: "app-level kind", path: shopOps, query: url.Values{"kind": {"app-deploy"}},
			want: keepOps(all, func(op listedOperation) bool { return op.kind == "app-deploy" })},
		{name: "component and kind", path: webPath + "/operations", query: url.Values{"kind": {"restart"}},
			want: keepOps(all, func(op listedOperation) bool { return op.kind == "restart" })},
		{name: "requested by", path: tenantOps, query: url.Values{"requestedBy": {"carol"}},
			want: keepOps(all, func(op listedOperation) bool { return op.requestedBy == "carol" })},
		{name: "nobody's", path: tenantOps, query: url.Values{"requestedBy": {"mallory"}}},
		{name: "since and until", path: tenantOps,
			query: url.Values{"since": {since.Format(time.RFC3339Nano)}, "until": {until.Format(time.RFC3339Nano)}}, want: all[2:6]},
		{name: "since in another time zone", path: tenantOps,
			query: url.Values{"since": {since.In(time.FixedZone("", 2*3600)).Format(time.RFC3339Nano)}}, want: all[:6]},
		{name: "every filter", path: shopOps, query: url.Values{"kind": {"deploy"}, "requestedBy": {"admin"},
			"since": {since.Format(time.RFC3339Nano)}, "until": {until.Format(time.RFC3339Nano)}},
			want: keepOps(all[2:6], func(op listedOperation) bool { return op.kind == "deploy" && op.app == "shop" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, limit := range []int{2, 100} {
				got := listOperations(t, e, tt.path, tt.query, limit)
				if len(tt.want) == 0 {
					require.Empty(t, got)
					continue
				}
				require.Equal(t, tt.want, got, "limit %d: newest first, each once, with its app and component", limit)
			}
		})
	}
}

func TestOperationListProblems(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	const ops = "/v1/tenants/acme/operations"
	tests := []struct {
		name       string
		path       string
		status     int
		wantFields []string
		wantDetail string
	}{
		{name: "unknown kind", path: ops + "?kind=deplyo", status: 400, wantFields: []string{"kind"},
			wantDetail: `kind: "deplyo" is not a kind of operation: one of deploy, rollback`},
		{name: "kind twice", path: ops + "?kind=deploy&kind=stop", status: 400, wantFields: []string{"kind"}, wantDetail: "is given 2 times"},
		{name: "empty kind", path: ops + "?kind=", status: 400, wantFields: []string{"kind"}, wantDetail: "is empty"},
		{name: "not a time", path: ops + "?since=yesterday", status: 400, wantFields: []string{"since"},
			wantDetail: `since: "yesterday" is not an RFC 3339 time`},
		{name: "a date only", path: ops + "?until=2026-01-02", status: 400, wantFields: []string{"until"}},
		{name: "until before since", path: ops + "?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", status: 400,
			wantFields: []string{"until"}, wantDetail: "until: must be later than since (2026-01-02T00:00:00Z)"},
		{name: "until equal to since", path: ops + "?since=2026-01-02T00:00:00Z&until=2026-01-02T00:00:00Z", status: 400,
			wantFields: []string{"until"}},
		{name: "requester too long", path: ops + "?requestedBy=" + strings.Repeat("a", 256), status: 400, wantFields: []string{"requestedBy"}},
		{name: "every invalid filter named", path: ops + "?kind=x&since=x&until=y&requestedBy=", status: 400,
			wantFields: []string{"kind", "requestedBy", "since", "until"}, wantDetail: "(and 3 more)"},
		{name: "limit", path: ops + "?limit=0", status: 400, wantFields: []string{"limit"}},
		{name: "cursor", path: ops + "?cursor=bm90IGEgY3Vyc29y", status: 400, wantFields: []string{"cursor"}},
		{name: "app filters", path: appPath + "/operations?kind=nope", status: 400, wantFields: []string{"kind"}},
		{name: "component filters", path: webPath + "/operations?since=soon", status: 400, wantFields: []string{"since"}},
		{name: "unknown app", path: "/v1/tenants/acme/apps/nope/operations", status: 404, wantDetail: `app "nope" not found in tenant "acme"`},
		{name: "unknown tenant", path: "/v1/tenants/nope/operations", status: 404, wantDetail: `tenant "nope" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := problemOf(t, e.do(request{method: "GET", path: tt.path}), tt.status)
			if tt.wantFields != nil {
				require.Equal(t, "urn:rainflow:problem:malformed-request", p.Type)
				require.Equal(t, tt.wantFields, fields(p))
			}
			require.Contains(t, p.Detail, tt.wantDetail)
		})
	}
}
