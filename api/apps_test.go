package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestApps(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()

	body := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/apps/shop"}))
	require.Equal(t, "shop", body["name"])
	require.Equal(t, "acme", body["tenant"])
	require.Equal(t, "/v1/tenants/acme/apps/shop/components", body["links"].(map[string]any)["components"])

	for _, name := range []string{"blog", "api"} {
		rec := e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/acme/apps", body: fmt.Sprintf(`{"name":%q}`, name)})
		require.Equal(t, "/v1/tenants/acme/apps/"+name, rec.Header().Get("Location"))
	}
	list := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/apps?limit=2"}))
	require.Len(t, list["items"], 2)
	require.NotEmpty(t, list["nextCursor"])
	list = jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/apps?limit=2&cursor=" + list["nextCursor"].(string)}))
	require.Len(t, list["items"], 1)
	require.Equal(t, "shop", list["items"].([]any)[0].(map[string]any)["name"])
	require.Nil(t, list["nextCursor"])

	tests := []struct {
		name       string
		req        request
		wantStatus int
		wantDetail string
	}{
		{name: "unknown tenant", req: request{method: "POST", path: "/v1/tenants/nope/apps", body: `{"name":"shop"}`},
			wantStatus: 404, wantDetail: `tenant "nope" not found`},
		{name: "list in unknown tenant", req: request{method: "GET", path: "/v1/tenants/nope/apps"},
			wantStatus: 404, wantDetail: `tenant "nope" not found`},
		{name: "unknown app", req: request{method: "GET", path: "/v1/tenants/acme/apps/nope"},
			wantStatus: 404, wantDetail: `app "nope" not found in tenant "acme"`},
		{name: "duplicate", req: request{method: "POST", path: "/v1/tenants/acme/apps", body: `{"name":"shop"}`},
			wantStatus: 409, wantDetail: `app "shop" already exists in tenant "acme"`},
		{name: "bad DNS name", req: request{method: "POST", path: "/v1/tenants/acme/apps", body: `{"name":"Shop.Front"}`},
			wantStatus: 422, wantDetail: "app is invalid: name: a lowercase RFC 1123 label"},
		{name: "delete with components", req: request{method: "DELETE", path: "/v1/tenants/acme/apps/shop"},
			wantStatus: 409, wantDetail: `app "shop" of tenant "acme" still has components`},
		{name: "method not allowed", req: request{method: "PATCH", path: "/v1/tenants/acme/apps/shop"},
			wantStatus: 405, wantDetail: "method PATCH is not allowed on /v1/tenants/acme/apps/shop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := problemOf(t, e.do(tt.req), tt.wantStatus)
			require.Contains(t, p.Detail, tt.wantDetail)
		})
	}

	e.ok(http.StatusNoContent, request{method: "DELETE", path: "/v1/tenants/acme/apps/blog"})
	problemOf(t, e.do(request{method: "GET", path: "/v1/tenants/acme/apps/blog"}), 404)
}
