package tests

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBusyComponentAndCancel: while a deploy of a component runs, a second one is refused with 409
// naming the running operation (never queued silently, never raced); cancelling the running one ends it
// as canceled, after which the component takes new operations again.
func TestBusyComponentAndCancel(t *testing.T) {
	require.True(t, stack.RealNode, "needs the real node: %s", stack.RealNodeReason)
	ctx := testContext(t)
	api := newAPIClient(stack.APIURL, stack.APIToken)
	tenant := uniqueName("busy")
	pushHTTPD(t, ctx, "busy/web", "v1", "busy\n")
	spec := webSpec(stack.RegistryAddr + "/busy/web:v1")
	spec.Readiness.HTTPPath = "/never-ready" // the rollout cannot finish, so the deploy stays running
	api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": tenant}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps", map[string]any{"name": "shop"}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps/shop/components",
		map[string]any{"name": "web", "spec": spec}, nil)
	deploys := "/v1/tenants/" + tenant + "/apps/shop/components/web/deploys"

	var first accepted
	api.must(t, http.StatusAccepted, "POST", deploys, nil, &first)
	p := problemOf(t, api.do(t, "POST", deploys, nil), http.StatusConflict)
	require.Contains(t, p.Detail, first.OperationID, "the conflict must name the running operation")

	// wait until the deploy is waiting for its rollout, then cancel it
	require.Eventually(t, func() bool {
		var op operation
		api.must(t, http.StatusOK, "GET", "/v1/tenants/"+tenant+"/operations/"+first.OperationID, nil, &op)
		for _, s := range op.Steps {
			if s.Name == "wait for rollout" {
				return s.State == "running"
			}
		}
		return false
	}, time.Minute, 200*time.Millisecond)
	api.must(t, http.StatusAccepted, "POST", "/v1/tenants/"+tenant+"/operations/"+first.OperationID+"/cancel", nil, nil)
	op := waitOperation(t, api, tenant, first.OperationID, time.Minute)
	require.Equal(t, "canceled", op.State, "error: %s", op.Error)

	// the component is free again
	var second accepted
	api.must(t, http.StatusAccepted, "POST", deploys, nil, &second)
	require.NotEqual(t, first.OperationID, second.OperationID)
	api.must(t, http.StatusAccepted, "POST", "/v1/tenants/"+tenant+"/operations/"+second.OperationID+"/cancel", nil, nil)
	require.Equal(t, "canceled", waitOperation(t, api, tenant, second.OperationID, time.Minute).State)
}
