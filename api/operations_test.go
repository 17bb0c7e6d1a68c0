package api_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/api"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// deployed seeds and deploys web, answering the operation id.
func deployed(t *testing.T) (*env, string) {
	e := newEnv(t)
	e.seed()
	body := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys"}))
	return e, body["operationId"].(string)
}

func TestGetOperation(t *testing.T) {
	t.Parallel()
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	closed := started.Add(time.Minute)
	steps := []contract.Step{
		{Name: "resolve-image", State: contract.StepSucceeded, Started: &started, Finished: &started},
		{Name: "apply", State: contract.StepFailed, Started: &started, Error: "apply deployment: forbidden"},
	}
	tests := []struct {
		name   string
		status *api.OperationStatus // nil: the run as started
		check  func(t *testing.T, op map[string]any)
	}{
		{name: "running", check: func(t *testing.T, op map[string]any) {
			require.Equal(t, "running", op["state"])
			require.Nil(t, op["closedAt"])
		}},
		{name: "succeeded", status: &api.OperationStatus{
			State: api.StateSucceeded, Started: started, Closed: &closed,
			Progress: &contract.OperationProgress{Kind: contract.OperationDeploy, Steps: steps[:1]},
			Result:   json.RawMessage(`{"releaseId":"rel-1","imageDigest":"registry.example:5000/shop/web@sha256:aa","workload":"web"}`),
		}, check: func(t *testing.T, op map[string]any) {
			require.Equal(t, "succeeded", op["state"])
			require.Equal(t, "2026-01-02T03:05:05Z", op["closedAt"])
			require.Equal(t, "2026-01-02T03:04:05Z", op["startedAt"])
			require.Equal(t, "rel-1", op["result"].(map[string]any)["releaseId"])
			require.Len(t, op["steps"], 1)
		}},
		{name: "failed", status: &api.OperationStatus{
			State: api.StateFailed, Started: started, Closed: &closed,
			Progress: &contract.OperationProgress{Kind: contract.OperationDeploy, Steps: steps},
			Error:    "activity Apply: apply deployment: forbidden",
		}, check: func(t *testing.T, op map[string]any) {
			require.Equal(t, "failed", op["state"])
			require.Equal(t, "activity Apply: apply deployment: forbidden", op["error"])
			step := op["steps"].([]any)[1].(map[string]any)
			require.Equal(t, "apply", step["name"])
			require.Equal(t, "failed", step["state"])
			require.Equal(t, "apply deployment: forbidden", step["error"])
		}},
		{name: "no worker to answer the query", status: &api.OperationStatus{
			State: api.StateRunning, Started: started, ProgressError: "query progress: context deadline exceeded",
		}, check: func(t *testing.T, op map[string]any) {
			require.Equal(t, "query progress: context deadline exceeded", op["stepsError"])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, id := deployed(t)
			if tt.status != nil {
				e.wf.finish(webWorkflowID, *tt.status)
			}
			op := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + id}))
			require.Equal(t, id, op["id"])
			require.Equal(t, "acme", op["tenant"])
			require.Equal(t, "shop", op["app"])
			require.Equal(t, "web", op["component"])
			require.Equal(t, "deploy/acme/shop/web/"+id, op["workflowId"])
			require.Equal(t, "run-1", op["runId"])
			require.Equal(t, "admin", op["requestedBy"])
			tt.check(t, op)
		})
	}
}

func TestGetOperationProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(e *env)
		path       string
		wantStatus int
		wantDetail string
		wantState  string
	}{
		{name: "unknown operation", path: "/v1/tenants/acme/operations/00000000-0000-0000-0000-000000000000",
			wantStatus: 404, wantDetail: `operation "00000000-0000-0000-0000-000000000000" not found in tenant "acme"`},
		{name: "unknown tenant", path: "/v1/tenants/nope/operations/x", wantStatus: 404, wantDetail: `tenant "nope" not found`},
		{name: "temporal down", setup: func(e *env) { e.wf.descErr = errors.New("connection refused") },
			wantStatus: 503, wantDetail: "from Temporal: connection refused"},
		{name: "past retention", setup: func(e *env) {
			e.wf.statuses, e.wf.queues = map[string]api.OperationStatus{}, map[string]*fakeQueue{}
		},
			wantStatus: 200, wantState: "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, id := deployed(t)
			if tt.setup != nil {
				tt.setup(e)
			}
			path := tt.path
			if path == "" {
				path = "/v1/tenants/acme/operations/" + id
			}
			rec := e.do(request{method: "GET", path: path})
			if tt.wantStatus == 200 {
				op := jsonOf(t, rec)
				require.Equal(t, tt.wantState, op["state"])
				require.Contains(t, op["stateNote"], "retention period")
				return
			}
			p := problemOf(t, rec, tt.wantStatus)
			require.Contains(t, p.Detail, tt.wantDetail)
		})
	}
}

func TestCancelOperation(t *testing.T) {
	t.Parallel()
	e, id := deployed(t)
	e.member("alice", "acme", "developer")
	path := "/v1/tenants/acme/operations/" + id + "/cancel"

	rec := e.ok(http.StatusAccepted, request{method: "POST", path: path, token: aliceToken})
	op := jsonOf(t, rec)
	require.Equal(t, true, op["cancelRequested"])
	require.Equal(t, []string{"deploy/acme/shop/web/" + id + "/run-1"}, e.wf.canceled)

	e.wf.finish(webWorkflowID, api.OperationStatus{State: api.StateCanceled, Error: "canceled"})
	p := problemOf(t, e.do(request{method: "POST", path: path}), 409)
	require.Equal(t, "urn:rainflow:problem:operation-not-running", p.Type)
	require.Equal(t, "operation "+id+" cannot be canceled: it already ended as canceled", p.Detail)
}

func TestListOperationsAndReleases(t *testing.T) {
	t.Parallel()
	e, first := deployed(t)
	ids := []string{first}
	for range 4 {
		e.wf.finish(webWorkflowID, api.OperationStatus{State: api.StateSucceeded})
		body := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys"}))
		ids = append(ids, body["operationId"].(string))
	}

	var listed []string
	path := webPath + "/operations?limit=2"
	for path != "" {
		body := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: path}))
		for _, item := range body["items"].([]any) {
			op := item.(map[string]any)
			require.Equal(t, "deploy", op["kind"])
			require.Nil(t, op["state"], "lists come from the store; the state is in GET operation")
			listed = append(listed, op["id"].(string))
		}
		path = ""
		if next, ok := body["nextCursor"].(string); ok {
			path = webPath + "/operations?limit=2&cursor=" + next
		}
	}
	require.Len(t, listed, 5)
	require.ElementsMatch(t, ids, listed)
	require.Equal(t, ids[4], listed[0], "newest first")

	// releases are recorded by the workflow; the API lists them
	c, err := e.st.GetComponentByID(t.Context(), e.wf.starts[0].ComponentID)
	require.NoError(t, err)
	for i, op := range ids[:3] {
		_, err := e.st.RecordRelease(t.Context(), store.Release{
			ID: "rel-" + op, ComponentID: c.ID, OperationID: op,
			ImageDigest: "registry.example:5000/shop/web@sha256:" + strings.Repeat(string(rune('a'+i)), 64), Spec: c.Spec,
		})
		require.NoError(t, err)
	}
	body := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: webPath + "/releases?limit=2"}))
	items := body["items"].([]any)
	require.Len(t, items, 2)
	rel := items[0].(map[string]any)
	require.Contains(t, rel["imageDigest"], "@sha256:")
	require.Equal(t, webImage, rel["spec"].(map[string]any)["image"])
	require.Equal(t, "/v1/tenants/acme/operations/"+rel["operationId"].(string), rel["links"].(map[string]any)["operation"])
	body = jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: webPath + "/releases?limit=2&cursor=" + body["nextCursor"].(string)}))
	require.Len(t, body["items"], 1)

	p := problemOf(t, e.do(request{method: "GET", path: "/v1/tenants/acme/apps/shop/components/nope/releases"}), 404)
	require.Contains(t, p.Detail, `component "nope" not found`)
}
