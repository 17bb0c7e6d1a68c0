package tests

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/rainflow/rainflow/contract"
)

// TestQueuedOperationsAndCancel: operations on one component run one at a time through its queue.
// While a deploy runs, a second one waits (202 "queued", never refused), an equal third one is merged
// into it, a restart waits behind them; canceling the waiting restart takes it out of the queue (it
// never runs); canceling the running deploy ends it as canceled and the next one runs.
func TestQueuedOperationsAndCancel(t *testing.T) {
	require.True(t, stack.RealNode, "needs the real node: %s", stack.RealNodeReason)
	ctx := testContext(t)
	api := newAPIClient(stack.APIURL, stack.APIToken)
	tenant := uniqueName("queue")
	pushHTTPD(t, ctx, "queue/web", "v1", "queue\n")
	spec := webSpec(stack.RegistryAddr + "/queue/web:v1")
	spec.Readiness.HTTPPath = "/never-ready" // the rollout cannot finish, so a deploy stays running
	api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": tenant}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps", map[string]any{"name": "shop"}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps/shop/components",
		map[string]any{"name": "web", "spec": spec}, nil)
	web := "/v1/tenants/" + tenant + "/apps/shop/components/web"
	ops := "/v1/tenants/" + tenant + "/operations/"

	var first, second, merged, restart accepted
	api.must(t, http.StatusAccepted, "POST", web+"/deploys", map[string]any{"noRollback": true}, &first)
	require.Equal(t, "running", first.State)
	api.must(t, http.StatusAccepted, "POST", web+"/deploys", map[string]any{"rolloutTimeoutSeconds": 120}, &second)
	require.Equal(t, "queued", second.State)
	require.Equal(t, 1, second.Position)
	api.must(t, http.StatusAccepted, "POST", web+"/deploys", map[string]any{"rolloutTimeoutSeconds": 120}, &merged)
	require.Equal(t, "merged", merged.State)
	require.Equal(t, second.OperationID, merged.OperationID, "the same request as a waiting one is that one")
	api.must(t, http.StatusAccepted, "POST", web+"/restart", nil, &restart)
	require.Equal(t, "queued", restart.State)
	require.Equal(t, 2, restart.Position)

	var op operation
	api.must(t, http.StatusOK, "GET", ops+second.OperationID, nil, &op)
	require.Equal(t, "queued", op.State)

	// the waiting restart is taken out of the queue: it never runs
	api.must(t, http.StatusAccepted, "POST", ops+restart.OperationID+"/cancel", nil, &op)
	require.Equal(t, "canceled", op.State)

	// wait until the first deploy waits for its rollout, then cancel it
	require.Eventually(t, func() bool {
		var op operation
		api.must(t, http.StatusOK, "GET", ops+first.OperationID, nil, &op)
		for _, s := range op.Steps {
			if s.Name == "wait for rollout" {
				return s.State == "running"
			}
		}
		return false
	}, time.Minute, 200*time.Millisecond)
	api.must(t, http.StatusAccepted, "POST", ops+first.OperationID+"/cancel", nil, nil)
	require.Equal(t, "canceled", waitOperation(t, api, tenant, first.OperationID, time.Minute).State)

	// the queued deploy runs next; cancel it too, and the queue is empty
	require.Eventually(t, func() bool {
		var op operation
		api.must(t, http.StatusOK, "GET", ops+second.OperationID, nil, &op)
		return op.State == "running"
	}, time.Minute, 200*time.Millisecond)
	api.must(t, http.StatusAccepted, "POST", ops+second.OperationID+"/cancel", nil, nil)
	require.Equal(t, "canceled", waitOperation(t, api, tenant, second.OperationID, time.Minute).State)

	api.must(t, http.StatusOK, "GET", ops+restart.OperationID, nil, &op)
	require.Equal(t, "canceled", op.State, "the restart canceled while it waited never ran")
	require.Empty(t, op.Steps)

	if dir := os.Getenv("RAINFLOW_RECORD_HISTORY_DIR"); dir != "" {
		recordClosed(t, ctx, contract.ComponentWorkflowID(contract.ComponentRef{Tenant: tenant, App: "shop", Component: "web"}),
			filepath.Join(dir, "queue.json"))
	}

	// the component takes new operations at once
	var next accepted
	api.must(t, http.StatusAccepted, "POST", web+"/stop", nil, &next)
	require.Equal(t, "running", next.State)
	require.Equal(t, "succeeded", waitOperation(t, api, tenant, next.OperationID, time.Minute).State)
}

// recordClosed waits until the latest run of the workflow closed and records its history to path.
func recordClosed(t *testing.T, ctx context.Context, workflowID, path string) {
	t.Helper()
	tc, err := client.DialContext(ctx, client.Options{HostPort: stack.TemporalAddr, Namespace: stack.Namespace})
	require.NoError(t, err)
	defer tc.Close()
	require.Eventually(t, func() bool {
		resp, err := tc.DescribeWorkflowExecution(ctx, workflowID, "")
		return err == nil && resp.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	}, time.Minute, 200*time.Millisecond, "workflow %s still running", workflowID)
	recordHistory(t, ctx, tc, workflowID, "", path)
}
