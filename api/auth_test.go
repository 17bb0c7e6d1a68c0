package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name       string
		req        request
		wantStatus int
		wantDetail string
		challenge  string
	}{
		{name: "no token", req: request{method: "GET", path: "/v1/tenants", token: "-"},
			wantStatus: 401, wantDetail: "no Authorization: Bearer header", challenge: `Bearer realm="rainflow"`},
		{name: "wrong token", req: request{method: "GET", path: "/v1/tenants", token: "wrong-secret-0123456789"},
			wantStatus: 401, wantDetail: "bearer token is not valid", challenge: `Bearer realm="rainflow", error="invalid_token"`},
		{name: "token prefix", req: request{method: "GET", path: "/v1/tenants", token: adminToken[:10]},
			wantStatus: 401, wantDetail: "bearer token is not valid"},
		{name: "basic auth", req: request{method: "GET", path: "/v1/tenants", token: "-",
			header: map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4="}},
			wantStatus: 401, wantDetail: "no Authorization: Bearer header"},
		{name: "unknown route needs no token to say so", req: request{method: "GET", path: "/nothing", token: "-"},
			wantStatus: 404, wantDetail: "no route GET /nothing"},
		{name: "every /v1 route needs one", req: request{method: "POST", path: "/v1/tenants/acme/apps/shop/components/web/deploys", token: "-"},
			wantStatus: 401, wantDetail: "no Authorization"},
		{name: "non-admin may not create tenants", req: request{method: "POST", path: "/v1/tenants", token: aliceToken, body: `{"name":"x"}`},
			wantStatus: 403, wantDetail: `principal "alice" may not POST /v1/tenants`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := e.do(tt.req)
			p := problemOf(t, rec, tt.wantStatus)
			require.Contains(t, p.Detail, tt.wantDetail)
			if tt.challenge != "" {
				require.Equal(t, tt.challenge, rec.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

func TestOpenEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name, path, want string
	}{
		{name: "healthz", path: "/healthz", want: `"ok"`},
		{name: "readyz", path: "/readyz", want: `"ready"`},
		{name: "metrics", path: "/metrics", want: "rainflow_api_requests_in_flight"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := e.ok(http.StatusOK, request{method: "GET", path: tt.path, token: "-"})
			require.Contains(t, rec.Body.String(), tt.want)
		})
	}
}

func TestNonAdminWorksInsideTenants(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	e.member("alice", "acme", "developer")
	e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants", token: aliceToken})
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/acme/apps", token: aliceToken, body: `{"name":"blog"}`})
	rec := e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys", token: aliceToken})
	require.NotEmpty(t, jsonOf(t, rec)["operationId"])
	require.Equal(t, "alice", e.wf.starts[0].RequestedBy, "the operation records who asked")
	problemOf(t, e.do(request{method: "DELETE", path: "/v1/tenants/acme", token: aliceToken}), 403)
}
