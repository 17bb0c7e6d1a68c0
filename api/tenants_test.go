package api_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
)

func TestCreateTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec := e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants", body: `{"name":"acme","displayName":"ACME Corp."}`})
	require.Equal(t, "/v1/tenants/acme", rec.Header().Get("Location"))
	body := jsonOf(t, rec)
	require.Equal(t, "acme", body["name"])
	require.Equal(t, "ACME Corp.", body["displayName"])
	require.NotEmpty(t, body["createdAt"])
	require.Equal(t, "acme", body["namespace"])

	// creating a tenant sets its namespace up
	setup := body["operation"].(map[string]any)
	require.Equal(t, "tenant-setup", setup["kind"])
	require.Len(t, e.wf.tenantOps, 1)
	require.Equal(t, contract.WorkflowTenantSetup, e.wf.tenantOps[0].workflow)
	require.Equal(t, "acme", e.wf.tenantOps[0].in.Tenant)
	require.Equal(t, "admin", e.wf.tenantOps[0].in.RequestedBy)
	op := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: setup["href"].(string)}))
	require.Equal(t, "running", op["state"])

	got := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme"}))
	delete(body, "operation")
	require.Equal(t, body, got)

	p := problemOf(t, e.do(request{method: "POST", path: "/v1/tenants", body: `{"name":"acme"}`}), 409)
	require.Equal(t, `tenant "acme" already exists`, p.Detail)
}

func TestTenantNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name, tenant, reason string
	}{
		{name: "empty", tenant: "", reason: "is required"},
		{name: "upper case", tenant: "ACME", reason: "lowercase RFC 1123 label"},
		{name: "underscore", tenant: "my_team", reason: "lowercase RFC 1123 label"},
		{name: "leading dash", tenant: "-acme", reason: "must start and end with an alphanumeric"},
		{name: "64 characters", tenant: strings.Repeat("a", 64), reason: "must be no more than 63"},
		{name: "kube namespace", tenant: "kube-system", reason: "reserved by Kubernetes"},
		{name: "default namespace", tenant: "default", reason: "reserved by Kubernetes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := problemOf(t, e.do(request{method: "POST", path: "/v1/tenants", body: fmt.Sprintf(`{"name":%q}`, tt.tenant)}), 422)
			require.Equal(t, "urn:rainflow:problem:validation", p.Type)
			require.Equal(t, "name", p.Errors[0].Field)
			require.Contains(t, p.Errors[0].Reason, tt.reason)
			require.Contains(t, p.Detail, "tenant is invalid: name: ")
		})
	}
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants", body: fmt.Sprintf(`{"name":%q}`, strings.Repeat("a", 63))})
}

func TestMalformedBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	big := `{"name":"acme","displayName":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name       string
		body       string
		header     map[string]string
		wantStatus int
		wantDetail string
		wantField  string
	}{
		{name: "syntax error", body: "{\n  \"name\": \"acme\",\n  oops\n}", wantStatus: 400,
			wantDetail: "malformed JSON at line 3, column 3"},
		{name: "unterminated", body: `{"name": "acme"`, wantStatus: 400, wantDetail: "ends before the JSON object does"},
		{name: "unknown field", body: `{"name":"acme","colour":"blue"}`, wantStatus: 400,
			wantDetail: `unknown field "colour"`, wantField: "colour"},
		{name: "wrong type", body: `{"name":42}`, wantStatus: 400,
			wantDetail: `field "name" at line 1, column 11 must be a string, not a JSON number`, wantField: "name"},
		{name: "trailing data", body: `{"name":"acme"} {"name":"other"}`, wantStatus: 400,
			wantDetail: "data after the JSON object at line 1, column 17"},
		{name: "array", body: `[{"name":"acme"}]`, wantStatus: 400, wantDetail: "the request body is a JSON array; expected a JSON object"},
		{name: "empty", body: " ", wantStatus: 400, wantDetail: "the request body is empty"},
		{name: "too large", body: big, wantStatus: 413, wantDetail: "larger than 1048576 bytes"},
		{name: "not JSON", body: `name=acme`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			wantStatus: 415, wantDetail: `Content-Type "application/x-www-form-urlencoded" is not JSON`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := problemOf(t, e.do(request{method: "POST", path: "/v1/tenants", body: tt.body, header: tt.header}), tt.wantStatus)
			require.Contains(t, p.Detail, tt.wantDetail)
			if tt.wantField != "" {
				require.Equal(t, []string{tt.wantField}, fields(p))
			}
		})
	}
	problemOf(t, e.do(request{method: "GET", path: "/v1/tenants/acme"}), 404)
}

func TestListTenantsPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, name := range []string{"echo", "alpha", "delta", "bravo", "charlie"} {
		e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants", body: fmt.Sprintf(`{"name":%q}`, name)})
	}
	var names []string
	path := "/v1/tenants?limit=2"
	for pages := 0; path != ""; pages++ {
		require.Less(t, pages, 3)
		rec := e.ok(http.StatusOK, request{method: "GET", path: path})
		body := jsonOf(t, rec)
		for _, item := range body["items"].([]any) {
			names = append(names, item.(map[string]any)["name"].(string))
		}
		path = ""
		if next, _ := body["nextCursor"].(string); next != "" {
			link := rec.Header().Get("Link")
			require.True(t, strings.HasPrefix(link, "</v1/tenants?") && strings.HasSuffix(link, `>; rel="next"`), link)
			path = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
			require.Contains(t, path, "limit=2")
		}
	}
	require.Equal(t, []string{"alpha", "bravo", "charlie", "delta", "echo"}, names)

	tests := []struct {
		name, query, field string
	}{
		{name: "limit zero", query: "limit=0", field: "limit"},
		{name: "limit too large", query: "limit=501", field: "limit"},
		{name: "limit not a number", query: "limit=ten", field: "limit"},
		{name: "forged cursor", query: "cursor=abc", field: "cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := problemOf(t, e.do(request{method: "GET", path: "/v1/tenants?" + tt.query}), 400)
			require.Equal(t, []string{tt.field}, fields(p))
		})
	}
}

func TestDeleteTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	p := problemOf(t, e.do(request{method: "DELETE", path: "/v1/tenants/acme"}), 409)
	require.Contains(t, p.Detail, `tenant "acme" still has apps`)

	e.ok(http.StatusAccepted, request{method: "DELETE", path: webPath})
	e.forgetDeleted()
	e.ok(http.StatusNoContent, request{method: "DELETE", path: "/v1/tenants/acme/apps/shop"})
	rec := jsonOf(t, e.ok(http.StatusAccepted, request{method: "DELETE", path: "/v1/tenants/acme"}))
	require.Equal(t, "tenant-delete", rec["kind"])
	last := e.wf.tenantOps[len(e.wf.tenantOps)-1]
	require.Equal(t, contract.WorkflowTenantDelete, last.workflow)
	tenant, err := e.st.GetTenant(t.Context(), "acme")
	require.NoError(t, err, "the record stays until the workflow has deleted the namespace")
	require.Equal(t, tenant.ID, last.in.TenantID)

	// the workflow's last step
	require.NoError(t, e.st.DeleteTenant(t.Context(), tenant.ID))
	p = problemOf(t, e.do(request{method: "DELETE", path: "/v1/tenants/acme"}), 404)
	require.Equal(t, `tenant "acme" not found`, p.Detail)

	// a tenant whose delete cannot start is kept, and the answer says why
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants", body: `{"name":"globex"}`})
	e.wf.startErr = errors.New("temporal is down")
	p = problemOf(t, e.do(request{method: "DELETE", path: "/v1/tenants/globex"}), 503)
	require.Contains(t, p.Detail, "temporal is down")
	e.wf.startErr = nil
	e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/globex"})
}

func TestTenantSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec := jsonOf(t, e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants", body: `{"name":"acme",
		"quota":{"cpuRequests":"4","memoryLimits":"8Gi","pods":50},"containerDefaults":{"cpuRequest":"50m","memoryLimit":"256Mi"}}`}))
	require.Equal(t, map[string]any{"cpuRequests": "4", "memoryLimits": "8Gi", "pods": float64(50)}, rec["quota"])
	require.Equal(t, map[string]any{"cpuRequest": "50m", "memoryLimit": "256Mi"}, rec["containerDefaults"])
	stored, err := e.st.GetTenant(t.Context(), "acme")
	require.NoError(t, err)
	require.Equal(t, contract.TenantQuota{CPURequests: "4", MemoryLimits: "8Gi", Pods: 50}, *stored.Settings.Quota)

	// a change of the display name alone starts nothing; a quota change starts a setup
	before := len(e.wf.tenantOps)
	rec = jsonOf(t, e.ok(http.StatusOK, request{method: "PATCH", path: "/v1/tenants/acme", body: `{"displayName":"ACME"}`}))
	require.Equal(t, "ACME", rec["displayName"])
	require.Nil(t, rec["operation"])
	require.Len(t, e.wf.tenantOps, before)
	rec = jsonOf(t, e.ok(http.StatusOK, request{method: "PATCH", path: "/v1/tenants/acme", body: `{"quota":{"pods":10}}`}))
	require.Equal(t, map[string]any{"pods": float64(10)}, rec["quota"])
	require.Equal(t, "tenant-setup", rec["operation"].(map[string]any)["kind"])
	require.Len(t, e.wf.tenantOps, before+1)
	require.Equal(t, "ACME", rec["displayName"], "what the patch leaves out stays")
	require.NotNil(t, rec["containerDefaults"])
	rec = jsonOf(t, e.ok(http.StatusOK, request{method: "PATCH", path: "/v1/tenants/acme", body: `{"quota":null}`}))
	require.Nil(t, rec["quota"], "null removes the quota")
	require.Len(t, e.wf.tenantOps, before+2)

	p := problemOf(t, e.do(request{method: "PATCH", path: "/v1/tenants/acme", body: `{"quota":{"cpuRequests":"lots","pods":-1},
		"containerDefaults":{"cpuRequest":"2","cpuLimit":"1"}}`}), 422)
	require.ElementsMatch(t, []string{"quota.cpuRequests", "quota.pods", "containerDefaults.cpuRequest"}, fields(p))
	p = problemOf(t, e.do(request{method: "POST", path: "/v1/tenants", body: `{"name":"globex","quota":{}}`}), 422)
	require.Equal(t, []string{"quota"}, fields(p))
	problemOf(t, e.do(request{method: "PATCH", path: "/v1/tenants/acme", body: `{"owner":"x"}`}), 400)

	// a member, even the tenant's admin, does not change the tenant's quota: platform admins do
	e.member("ana", "acme", "admin")
	problemOf(t, e.do(request{method: "PATCH", path: "/v1/tenants/acme", token: e.token("ana"), body: `{"quota":null}`}), 403)

	// a tenant whose setup cannot start is not created
	e.wf.startErr = errors.New("temporal is down")
	p = problemOf(t, e.do(request{method: "POST", path: "/v1/tenants", body: `{"name":"initech"}`}), 503)
	require.Contains(t, p.Detail, "temporal is down")
	e.wf.startErr = nil
	problemOf(t, e.do(request{method: "GET", path: "/v1/tenants/initech"}), 404)
}
