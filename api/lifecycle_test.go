package api_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/api"
	"github.com/rainflow/rainflow/contract"
)

var webRef = contract.ComponentRef{Tenant: "acme", App: "shop", Component: "web"}

// storedReplicas answers the replicas of web's stored spec, and its version.
func (e *env) storedReplicas() (int32, float64) {
	e.t.Helper()
	c := jsonOf(e.t, e.ok(http.StatusOK, request{method: "GET", path: webPath}))
	return int32(c["spec"].(map[string]any)["replicas"].(float64)), c["version"].(float64)
}

func TestLifecycleOperations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		path     string
		body     string
		workflow string
		kind     contract.OperationKind
		input    func(opID, componentID string) any
	}{
		{name: "start", path: "/start", workflow: contract.WorkflowStart, kind: contract.OperationStart,
			input: func(opID, cID string) any {
				return contract.StartInput{OperationID: opID, Ref: webRef, ComponentID: cID, Replicas: 1, RequestedBy: "admin"}
			}},
		{name: "stop", path: "/stop", workflow: contract.WorkflowStop, kind: contract.OperationStop,
			input: func(opID, cID string) any {
				return contract.StopInput{OperationID: opID, Ref: webRef, ComponentID: cID, RequestedBy: "admin"}
			}},
		{name: "stop with an empty object", path: "/stop", body: "{}", workflow: contract.WorkflowStop, kind: contract.OperationStop,
			input: func(opID, cID string) any {
				return contract.StopInput{OperationID: opID, Ref: webRef, ComponentID: cID, RequestedBy: "admin"}
			}},
		{name: "restart", path: "/restart", workflow: contract.WorkflowRestart, kind: contract.OperationRestart,
			input: func(opID, cID string) any {
				return contract.RestartInput{OperationID: opID, Ref: webRef, ComponentID: cID, RequestedBy: "admin"}
			}},
		{name: "scale", path: "/scale", body: `{"replicas": 3}`, workflow: contract.WorkflowScale, kind: contract.OperationScale,
			input: func(opID, cID string) any {
				return contract.ScaleInput{OperationID: opID, Ref: webRef, ComponentID: cID, Replicas: 3, RequestedBy: "admin"}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.seed()
			rec := e.ok(http.StatusAccepted, request{method: "POST", path: webPath + tt.path, body: tt.body})
			body := jsonOf(t, rec)
			opID := body["operationId"].(string)
			require.Len(t, opID, 36)
			require.Equal(t, string(tt.kind), body["kind"])
			require.Equal(t, string(tt.kind)+"/acme/shop/web/"+opID, body["workflowId"], "each operation runs under its own workflow id")
			require.Equal(t, "running", body["state"])
			require.Equal(t, "/v1/tenants/acme/operations/"+opID, rec.Header().Get("Location"))
			links := body["links"].(map[string]any)
			require.Equal(t, "/v1/tenants/acme/operations/"+opID, links["operation"])
			require.Equal(t, "/v1/tenants/acme/operations/"+opID+"/cancel", links["cancel"])

			started := e.wf.lastStart()
			stored, err := e.st.GetOperation(t.Context(), mustTenantID(t, e), opID)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(started.MergeKey, string(tt.kind)+":"), started.MergeKey)
			started.MergeKey = ""
			require.Equal(t, api.WorkflowStart{Workflow: tt.workflow, Kind: tt.kind, OperationID: opID, Ref: webRef,
				Input: tt.input(opID, stored.ComponentID), RequestedBy: "admin"}, started)

			op := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + opID}))
			require.Equal(t, string(tt.kind), op["kind"])
			require.Equal(t, "running", op["state"])
			require.Equal(t, "web", op["component"])
		})
	}
}

func mustTenantID(t *testing.T, e *env) string {
	t.Helper()
	tenant, err := e.st.GetTenant(t.Context(), "acme")
	require.NoError(t, err)
	return tenant.ID
}

func TestLifecycleProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(e *env)
		req        request
		wantStatus int
		wantType   string
		wantDetail string
		wantFields []string
	}{
		{name: "unknown component", req: request{path: "/v1/tenants/acme/apps/shop/components/nope/stop"},
			wantStatus: 404, wantType: "not-found", wantDetail: `component "nope" not found in app "shop" of tenant "acme"`},
		{name: "unknown body field", req: request{path: webPath + "/restart", body: `{"force": true}`},
			wantStatus: 400, wantType: "malformed-request", wantDetail: `unknown field "force"`},
		{name: "scale without a body", req: request{path: webPath + "/scale"},
			wantStatus: 400, wantType: "malformed-request", wantDetail: "the request body is empty"},
		{name: "scale without replicas", req: request{path: webPath + "/scale", body: `{}`},
			wantStatus: 422, wantType: "validation", wantDetail: "replicas: is required", wantFields: []string{"replicas"}},
		{name: "scale to negative replicas", req: request{path: webPath + "/scale", body: `{"replicas": -1}`},
			wantStatus: 422, wantType: "validation", wantDetail: "replicas: must be between 0 and 100", wantFields: []string{"replicas"}},
		{name: "scale to too many replicas", req: request{path: webPath + "/scale", body: `{"replicas": 101}`},
			wantStatus: 422, wantType: "validation", wantDetail: "replicas: must be between 0 and 100", wantFields: []string{"replicas"}},
		{name: "scale to replicas that are not a number", req: request{path: webPath + "/scale", body: `{"replicas": "two"}`},
			wantStatus: 400, wantType: "malformed-request", wantDetail: "replicas"},
		{name: "scale with an unknown field", req: request{path: webPath + "/scale", body: `{"replicas": 2, "cpu": "1"}`},
			wantStatus: 400, wantType: "malformed-request", wantDetail: `unknown field "cpu"`},
		{name: "start a component whose spec has no replicas", req: request{path: webPath + "/start"},
			setup: func(e *env) {
				e.ok(http.StatusOK, request{method: "PUT", path: webPath, header: map[string]string{"If-Match": `"1"`},
					body: `{"spec":{"image":"` + webImage + `","replicas":0}}`})
			},
			wantStatus: 422, wantType: "validation", wantDetail: "starting it would run nothing; scale it instead", wantFields: []string{"spec.replicas"}},
		{name: "temporal unavailable", req: request{path: webPath + "/stop"}, setup: func(e *env) { e.wf.startErr = errors.New("connection refused") },
			wantStatus: 503, wantType: "workflows-unavailable", wantDetail: `queue the stop of component "web": connection refused`},
		{name: "stale If-Match", req: request{path: webPath + "/scale", body: `{"replicas": 2}`, header: map[string]string{"If-Match": `"9"`}},
			wantStatus: 412, wantType: "precondition-failed", wantDetail: `If-Match "9" does not match its ETag "1"`},
		{name: "wrong token", req: request{path: webPath + "/restart", token: "nope-nope-nope-nope"},
			wantStatus: 401, wantType: "unauthorized", wantDetail: "bearer token is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.seed()
			if tt.setup != nil {
				tt.setup(e)
			}
			_, versionBefore := e.storedReplicas()
			req := tt.req
			req.method = "POST"
			p := problemOf(t, e.do(req), tt.wantStatus)
			require.Equal(t, "urn:rainflow:problem:"+tt.wantType, p.Type)
			require.Contains(t, p.Detail, tt.wantDetail)
			if tt.wantFields != nil {
				require.Equal(t, tt.wantFields, fields(p))
			}

			require.Zero(t, e.wf.startCount(), "a refused operation starts nothing")
			ops := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: webPath + "/operations"}))
			require.Empty(t, ops["items"], "a refused operation leaves no operation behind")
			_, versionAfter := e.storedReplicas()
			require.Equal(t, versionBefore, versionAfter, "a refused operation leaves the component as it was")
		})
	}
}

func TestScaleStoresReplicas(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()

	e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/scale", body: `{"replicas": 3}`,
		header: map[string]string{"If-Match": `"1"`}})
	replicas, version := e.storedReplicas()
	require.Equal(t, int32(3), replicas, "the next deploy keeps the scale's replicas")
	require.Equal(t, float64(2), version)

	// a scale queued behind the running one is stored too: it is the desired state once the queue ran
	queued := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/scale", body: `{"replicas": 5}`}))
	require.Equal(t, "queued", queued["state"])
	replicas, version = e.storedReplicas()
	require.Equal(t, int32(5), replicas)
	require.Equal(t, float64(3), version)

	// a deploy queued next runs the stored replicas
	e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys"})
	require.Equal(t, int32(5), e.wf.lastStart().Input.(contract.DeployInput).Spec.Replicas)

	// scaling to the replicas the spec has writes nothing, but still runs (the workload may differ)
	e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/scale", body: `{"replicas": 5}`})
	_, version = e.storedReplicas()
	require.Equal(t, float64(3), version)

	// to zero is a scale too
	e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/scale", body: `{"replicas": 0}`})
	replicas, _ = e.storedReplicas()
	require.Equal(t, int32(0), replicas)
}

// TestScaleConcurrent: scales requested at once are all queued, in some order; the stored spec ends with
// the replicas of the one queued last, which runs last.
func TestScaleConcurrent(t *testing.T) {
	t.Parallel()
	for round := range 5 {
		e := newEnv(t)
		e.seed()
		const clients = 8
		codes := make([]int, clients)
		var wg sync.WaitGroup
		for i := range clients {
			wg.Go(func() {
				codes[i] = e.do(request{method: "POST", path: webPath + "/scale", body: fmt.Sprintf(`{"replicas": %d}`, i+2)}).Code
			})
		}
		wg.Wait()
		for _, c := range codes {
			require.Equal(t, http.StatusAccepted, c, "round %d: codes %v", round, codes)
		}
		require.Equal(t, clients, e.wf.startCount())
		replicas, _ := e.storedReplicas()
		require.Equal(t, e.wf.lastStart().Input.(contract.ScaleInput).Replicas, replicas, "round %d", round)
	}
}

func TestLifecycleQueued(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	deploy := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys"}))
	require.Equal(t, "running", deploy["state"])

	ids := map[string]string{}
	for i, path := range []string{"/start", "/stop", "/restart"} {
		body := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: webPath + path}))
		require.Equal(t, "queued", body["state"], path)
		require.Equal(t, float64(i+1), body["position"], path)
		ids[path] = body["operationId"].(string)
	}
	again := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/restart"}))
	require.Equal(t, "merged", again["state"], "a second restart while one waits is the same restart")
	require.Equal(t, ids["/restart"], again["operationId"])

	// a waiting operation is canceled by taking it out of the queue: it never runs
	canceled := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: "/v1/tenants/acme/operations/" + ids["/stop"] + "/cancel"}))
	require.Equal(t, "canceled", canceled["state"])
	require.Contains(t, canceled["stateNote"], "it never ran")
	require.Empty(t, e.wf.canceled, "no workflow was asked to cancel: none ran")
	p := problemOf(t, e.do(request{method: "POST", path: "/v1/tenants/acme/operations/" + ids["/stop"] + "/cancel"}), http.StatusConflict)
	require.Contains(t, p.Detail, "it is canceled")

	restart := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + ids["/restart"]}))
	require.Equal(t, "queued", restart["state"])
	require.Equal(t, 2.0, restart["queuePosition"], "the canceled stop no longer waits before it")

	e.wf.finish(webWorkflowID, api.OperationStatus{State: api.StateSucceeded})
	start := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + ids["/start"]}))
	require.Equal(t, "running", start["state"])
	e.wf.finish(webWorkflowID, api.OperationStatus{State: api.StateSucceeded})
	restart = jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + ids["/restart"]}))
	require.Equal(t, "running", restart["state"], "the canceled stop was skipped")

	ops := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: webPath + "/operations"}))
	require.Len(t, ops["items"], 4, "the merged request is no operation of its own")
}

func TestLifecycleIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	key := map[string]string{"Idempotency-Key": "restart-web-1"}
	first := e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/restart", header: key})
	again := e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/restart", header: key})
	require.Equal(t, jsonOf(t, first)["operationId"], jsonOf(t, again)["operationId"])
	require.Equal(t, "true", again.Header().Get("Idempotent-Replayed"))
	require.Equal(t, 1, e.wf.startCount())

	e.wf.finish(webWorkflowID, api.OperationStatus{State: api.StateSucceeded})
	p := problemOf(t, e.do(request{method: "POST", path: webPath + "/stop", header: key}), http.StatusUnprocessableEntity)
	require.Equal(t, "urn:rainflow:problem:idempotency-key-reused", p.Type)
	require.Contains(t, p.Detail, `(restart of component "web")`)
	require.Equal(t, 1, e.wf.startCount())
}

func TestScaleIdempotencyKeyAfterFailedStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	key := map[string]string{"Idempotency-Key": "scale-web-4"}
	e.wf.startErr = errors.New("temporal is down")
	problemOf(t, e.do(request{method: "POST", path: webPath + "/scale", body: `{"replicas": 4}`, header: key}), http.StatusServiceUnavailable)
	replicas, _ := e.storedReplicas()
	require.Equal(t, int32(1), replicas, "a scale that did not start stores nothing")

	e.wf.startErr = nil
	e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/scale", body: `{"replicas": 4}`, header: key})
	replicas, _ = e.storedReplicas()
	require.Equal(t, int32(4), replicas)
}

func TestComponentLinksLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	links := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: webPath}))["links"].(map[string]any)
	for _, op := range []string{"start", "stop", "restart", "scale"} {
		require.Equal(t, webPath+"/"+op, links[op])
	}
}

func TestVerticalScale(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	rec := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/scale",
		body: `{"resources": {"cpuRequest": "100m", "cpuLimit": "500m", "memoryLimit": "256Mi"}, "replicas": 2}`}))
	require.Equal(t, "scale", rec["kind"])
	start := e.wf.lastStart()
	require.Equal(t, contract.WorkflowDeploy, start.Workflow, "a vertical scale is a rolling deploy of the new resources")
	in := start.Input.(contract.DeployInput)
	want := contract.Resources{CPURequest: "100m", CPULimit: "500m", MemoryLimit: "256Mi"}
	require.Equal(t, want, in.Spec.Resources)
	require.Equal(t, int32(2), in.Spec.Replicas)
	c := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: webPath}))
	spec := c["spec"].(map[string]any)
	require.Equal(t, map[string]any{"cpuRequest": "100m", "cpuLimit": "500m", "memoryLimit": "256Mi"}, spec["resources"], "the spec keeps them")
	require.EqualValues(t, 2, spec["replicas"])

	p := problemOf(t, e.do(request{method: "POST", path: webPath + "/scale", body: `{"resources": {"cpuRequest": "2", "cpuLimit": "1"}}`}), 422)
	require.Equal(t, []string{"resources.cpuRequest"}, fields(p))
	p = problemOf(t, e.do(request{method: "POST", path: webPath + "/scale", body: `{}`}), 422)
	require.Equal(t, []string{"replicas"}, fields(p))
	problemOf(t, e.do(request{method: "POST", path: webPath + "/scale", body: `{"resources": {"gpu": "1"}}`}), 400)
}
