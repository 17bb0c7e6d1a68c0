package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
)

func TestVersions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	empty := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: webPath + "/versions"}))
	require.Empty(t, empty["items"])

	spec := contract.ComponentSpec{Image: "127.0.0.1:5056/web:v1", Replicas: 1}
	e.release(t, "rel-1", spec)
	list := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: webPath + "/versions"}))
	items := list["items"].([]any)
	require.Len(t, items, 1)
	v := items[0].(map[string]any)
	require.Equal(t, "127.0.0.1:5056/web@sha256:1111", v["imageDigest"])
	require.Equal(t, "image", v["sourceKind"])
	require.Equal(t, "127.0.0.1:5056/web:v1", v["source"])
	require.Equal(t, "rel-1", v["operation"])
	require.Equal(t, "/v1/tenants/acme/operations/rel-1", v["links"].(map[string]any)["operation"])

	problemOf(t, e.do(request{method: "GET", path: "/v1/tenants/acme/apps/shop/components/nope/versions"}), 404)
	problemOf(t, e.do(request{method: "GET", path: webPath + "/versions?limit=0"}), 400)
}
