package tests

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSliceBadInput checks that bad input on the slice's endpoints answers a 4xx problem+json that
// says what was wrong, and starts nothing.
func TestSliceBadInput(t *testing.T) {
	ctx := testContext(t)
	api := newAPIClient(stack.APIURL, stack.APIToken)
	tenant := uniqueName("bad")
	api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": tenant}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps", map[string]any{"name": "shop"}, nil)
	pushHTTPD(t, ctx, "bad/web", "v1", "ok\n")
	comps := "/v1/tenants/" + tenant + "/apps/shop/components"

	t.Run("unknown tenant", func(t *testing.T) {
		p := problemOf(t, api.do(t, "GET", "/v1/tenants/no-such-tenant/apps", nil), http.StatusNotFound)
		require.Contains(t, p.Detail, "no-such-tenant")
	})
	t.Run("malformed JSON", func(t *testing.T) {
		p := problemOf(t, api.do(t, "POST", comps, `{"name": "web", "spec": {`), http.StatusBadRequest)
		require.Contains(t, strings.ToLower(p.Detail), "json")
	})
	t.Run("unknown field", func(t *testing.T) {
		p := problemOf(t, api.do(t, "POST", comps, `{"name": "web", "spec": {"image": "x", "replicaz": 2}}`), http.StatusBadRequest)
		require.Contains(t, p.Detail, "replicaz")
	})
	t.Run("name that is not a DNS label", func(t *testing.T) {
		p := problemOf(t, api.do(t, "POST", comps, map[string]any{"name": "Web_1", "spec": webSpec(stack.RegistryAddr + "/bad/web:v1")}), http.StatusUnprocessableEntity)
		require.NotEmpty(t, p.Errors)
		require.Equal(t, "name", p.Errors[0].Field)
	})
	t.Run("no token", func(t *testing.T) {
		anon := newAPIClient(stack.APIURL, "")
		problemOf(t, anon.do(t, "GET", "/v1/tenants", nil), http.StatusUnauthorized)
	})
	t.Run("image that is not in the registry", func(t *testing.T) {
		missing := stack.RegistryAddr + "/bad/web:does-not-exist"
		api.must(t, http.StatusCreated, "POST", comps, map[string]any{"name": "ghost", "spec": webSpec(missing)}, nil)
		p := problemOf(t, api.do(t, "POST", comps+"/ghost/deploys", nil), http.StatusUnprocessableEntity)
		require.Contains(t, p.Detail, "bad/web:does-not-exist")
		require.Contains(t, p.Detail, "not found")
		var ops struct {
			Items []any `json:"items"`
		}
		api.must(t, http.StatusOK, "GET", comps+"/ghost/operations", nil, &ops)
		require.Empty(t, ops.Items, "a refused deploy must not leave an operation behind")
	})
}
