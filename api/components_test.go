package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestComponentLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()

	rec := e.ok(http.StatusOK, request{method: "GET", path: webPath})
	require.Equal(t, `"1"`, rec.Header().Get("ETag"))
	body := jsonOf(t, rec)
	spec := body["spec"].(map[string]any)
	require.Equal(t, webImage, spec["image"])
	require.Equal(t, "TCP", spec["ports"].([]any)[0].(map[string]any)["protocol"], "the protocol defaults to TCP")
	require.EqualValues(t, 1, body["version"])

	put := `{"spec":{"image":"registry.example:5000/shop/web:2.0","replicas":3,"ports":[{"name":"http","port":8080}]}}`
	tests := []struct {
		name       string
		ifMatch    string
		body       string
		wantStatus int
		wantDetail string
	}{
		{name: "without If-Match", body: put, wantStatus: 428, wantDetail: `needs an If-Match header with the ETag it was read at (now "1")`},
		{name: "other version", ifMatch: `"7"`, body: put, wantStatus: 412, wantDetail: `If-Match "7" does not match its ETag "1"`},
		{name: "weak tag never matches", ifMatch: `W/"1"`, body: put, wantStatus: 412, wantDetail: `does not match its ETag "1"`},
		{name: "invalid spec", ifMatch: `"1"`, body: `{"spec":{"image":"","replicas":101}}`, wantStatus: 422, wantDetail: "spec.image: is required (and 1 more)"},
		{name: "no spec", ifMatch: `"1"`, body: `{}`, wantStatus: 422, wantDetail: "spec: is required"},
		{name: "name is not replaceable", ifMatch: `"1"`, body: `{"name":"other","spec":{}}`, wantStatus: 400, wantDetail: `unknown field "name"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := problemOf(t, e.do(request{method: "PUT", path: webPath, body: tt.body, header: map[string]string{"If-Match": tt.ifMatch}}), tt.wantStatus)
			require.Contains(t, p.Detail, tt.wantDetail)
		})
	}

	rec = e.ok(http.StatusOK, request{method: "PUT", path: webPath, body: put, header: map[string]string{"If-Match": `"1"`}})
	require.Equal(t, `"2"`, rec.Header().Get("ETag"))
	require.EqualValues(t, 3, jsonOf(t, rec)["spec"].(map[string]any)["replicas"])

	p := problemOf(t, e.do(request{method: "PUT", path: webPath, body: put, header: map[string]string{"If-Match": `"1"`}}), 412)
	require.Contains(t, p.Detail, `If-Match "1" does not match its ETag "2"`, "a second writer with the old ETag is refused")
	e.ok(http.StatusOK, request{method: "PUT", path: webPath, body: put, header: map[string]string{"If-Match": `"5", "2"`}})
	e.ok(http.StatusOK, request{method: "PUT", path: webPath, body: put, header: map[string]string{"If-Match": `*`}})

	problemOf(t, e.do(request{method: "DELETE", path: webPath, header: map[string]string{"If-Match": `"1"`}}), 412)
	e.ok(http.StatusAccepted, request{method: "DELETE", path: webPath, header: map[string]string{"If-Match": `"4"`}})
	e.ok(http.StatusOK, request{method: "GET", path: webPath}) // until the delete's workflow forgets it
	e.forgetDeleted()
	p = problemOf(t, e.do(request{method: "GET", path: webPath}), 404)
	require.Equal(t, `component "web" not found in app "shop" of tenant "acme"`, p.Detail)
}

func TestCreateComponent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	tests := []struct {
		name       string
		path       string
		body       string
		wantStatus int
		wantDetail string
		wantFields []string
	}{
		{name: "unknown app", path: "/v1/tenants/acme/apps/nope/components", body: componentBody("api", webImage),
			wantStatus: 404, wantDetail: `app "nope" not found in tenant "acme"`},
		{name: "unknown tenant", path: "/v1/tenants/nope/apps/shop/components", body: componentBody("api", webImage),
			wantStatus: 404, wantDetail: `tenant "nope" not found`},
		{name: "duplicate", body: componentBody("web", webImage),
			wantStatus: 409, wantDetail: `component "web" already exists in app "shop" of tenant "acme"`},
		{name: "name starts with a digit (not a Service name)", body: componentBody("1web", webImage),
			wantStatus: 422, wantFields: []string{"name"}, wantDetail: "a DNS-1035 label"},
		{name: "name too long", body: componentBody("w"+strings.Repeat("0", 63), webImage),
			wantStatus: 422, wantFields: []string{"name"}, wantDetail: "must be no more than 63 characters"},
		{name: "no spec", body: `{"name":"api"}`, wantStatus: 422, wantFields: []string{"spec"}},
		{name: "spec of the wrong type", body: `{"name":"api","spec":{"replicas":"two"}}`,
			wantStatus: 400, wantFields: []string{"spec.replicas"}, wantDetail: "must be an integer (int32), not a JSON string"},
		{name: "unknown spec field", body: `{"name":"api","spec":{"image":"x","replica":2}}`,
			wantStatus: 400, wantFields: []string{"replica"}, wantDetail: `unknown field "replica"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := tt.path
			if path == "" {
				path = "/v1/tenants/acme/apps/shop/components"
			}
			p := problemOf(t, e.do(request{method: "POST", path: path, body: tt.body}), tt.wantStatus)
			require.Contains(t, p.Detail, tt.wantDetail)
			if tt.wantFields != nil {
				require.Equal(t, tt.wantFields, fields(p))
			}
		})
	}
}

// TestGetComponentAdmission: a component's GET admits its caller itself, from the one query that reads
// the tenant with the component, as tenantScope admits every other route: members read, anyone else
// learns nothing (the 404 of an unknown tenant, whatever the app and component), and a member learns
// which of app and component is missing.
func TestGetComponentAdmission(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	e.ok(http.StatusOK, request{method: "PUT", path: webPath + "/secret-env", body: `{"env":{"DB_PASSWORD":"hunter2"}}`})
	e.member("ana", "acme", "viewer")
	ana := e.token("ana")
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants", body: `{"name":"globex"}`})
	e.member("mallory", "globex", "admin")
	mallory := e.token("mallory")

	tests := []struct {
		name, token, path string
		wantStatus        int
		wantDetail        string
	}{
		{name: "viewer", token: ana, path: webPath, wantStatus: http.StatusOK},
		{name: "platform admin", path: webPath, wantStatus: http.StatusOK},
		{name: "member, unknown app", token: ana, path: "/v1/tenants/acme/apps/nope/components/web",
			wantStatus: http.StatusNotFound, wantDetail: `app "nope" not found in tenant "acme"`},
		{name: "member, unknown component", token: ana, path: "/v1/tenants/acme/apps/shop/components/nope",
			wantStatus: http.StatusNotFound, wantDetail: `component "nope" not found in app "shop" of tenant "acme"`},
		{name: "member, unknown tenant", token: ana, path: "/v1/tenants/nope/apps/shop/components/web",
			wantStatus: http.StatusNotFound, wantDetail: `tenant "nope" not found`},
		{name: "another tenant's admin", token: mallory, path: webPath,
			wantStatus: http.StatusNotFound, wantDetail: `tenant "acme" not found`},
		{name: "another tenant's admin, unknown app", token: mallory, path: "/v1/tenants/acme/apps/nope/components/web",
			wantStatus: http.StatusNotFound, wantDetail: `tenant "acme" not found`},
		{name: "another tenant's admin, unknown component", token: mallory, path: "/v1/tenants/acme/apps/shop/components/nope",
			wantStatus: http.StatusNotFound, wantDetail: `tenant "acme" not found`},
		{name: "no token", token: "-", path: webPath, wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := e.do(request{method: "GET", path: tt.path, token: tt.token})
			if tt.wantStatus != http.StatusOK {
				p := problemOf(t, rec, tt.wantStatus)
				if tt.wantDetail != "" {
					require.Equal(t, tt.wantDetail, p.Detail)
				}
				require.NotContains(t, rec.Body.String(), "DB_PASSWORD")
				return
			}
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Equal(t, `"1"`, rec.Header().Get("ETag"))
			body := jsonOf(t, rec)
			require.Equal(t, map[string]any{"names": []any{"DB_PASSWORD"}, "version": float64(1)}, body["secretEnv"])
			require.NotContains(t, rec.Body.String(), "hunter2", "never a secret value")
			require.Equal(t, webPath, body["links"].(map[string]any)["self"])
		})
	}
}
