package api_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/api"
	"github.com/rainflow/rainflow/contract"
)

const webWorkflowID = "rainflow/acme/shop/web"

func TestDeploy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()

	rec := e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys"})
	body := jsonOf(t, rec)
	opID := body["operationId"].(string)
	require.Len(t, opID, 36)
	require.Equal(t, "deploy/acme/shop/web/"+opID, body["workflowId"], "the operation's own workflow, run by the component's queue")
	require.Equal(t, "running", body["state"])
	require.Equal(t, 0.0, body["position"])
	require.Equal(t, "/v1/tenants/acme/operations/"+opID, rec.Header().Get("Location"))
	links := body["links"].(map[string]any)
	require.Equal(t, "/v1/tenants/acme/operations/"+opID, links["operation"])
	require.Equal(t, "/v1/tenants/acme/operations/"+opID+"/cancel", links["cancel"])
	require.Equal(t, "http://127.0.0.1:8233/namespaces/default/workflows?query=WorkflowId%3D%22deploy%2Facme%2Fshop%2Fweb%2F"+opID+"%22", links["temporalUI"])

	require.Len(t, e.wf.starts, 1)
	in := e.wf.starts[0]
	require.Equal(t, opID, in.OperationID)
	require.Equal(t, contract.ComponentRef{Tenant: "acme", App: "shop", Component: "web"}, in.Ref)
	require.NotEmpty(t, in.ComponentID)
	require.Equal(t, webImage, in.Spec.Image)
	require.Equal(t, "admin", in.RequestedBy)

	op := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + opID}))
	require.Equal(t, "running", op["state"])
	require.Equal(t, "web", op["component"])
	require.Equal(t, "deploy", op["kind"])
	require.Equal(t, "run-1", op["runId"])
	require.Equal(t, "http://127.0.0.1:8233/namespaces/default/workflows/deploy%2Facme%2Fshop%2Fweb%2F"+opID+"/run-1/history",
		op["links"].(map[string]any)["temporalUI"])
}

func TestDeployProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(e *env)
		req        request
		wantStatus int
		wantType   string
		wantDetail string
	}{
		{name: "unknown tenant", req: request{path: "/v1/tenants/nope/apps/shop/components/web/deploys"},
			wantStatus: 404, wantType: "not-found", wantDetail: `tenant "nope" not found`},
		{name: "unknown app", req: request{path: "/v1/tenants/acme/apps/nope/components/web/deploys"},
			wantStatus: 404, wantType: "not-found", wantDetail: `app "nope" not found in tenant "acme"`},
		{name: "unknown component", req: request{path: "/v1/tenants/acme/apps/shop/components/nope/deploys"},
			wantStatus: 404, wantType: "not-found", wantDetail: `component "nope" not found in app "shop" of tenant "acme"`},
		{name: "image not in the registry", setup: func(e *env) { e.images.images = nil },
			wantStatus: 422, wantType: "image-not-found",
			wantDetail: `image "registry.example:5000/shop/web:1.0" not found in registry`},
		{name: "registry denies the image", setup: func(e *env) { e.images.err = fmt.Errorf("x: %w: UNAUTHORIZED", api.ErrImageDenied) },
			wantStatus: 422, wantType: "image-access-denied", wantDetail: "registry denied access to image"},
		{name: "registry unreachable", setup: func(e *env) {
			e.images.err = fmt.Errorf("x: %w: dial tcp 127.0.0.1:5000: connection refused", api.ErrRegistryUnreachable)
		}, wantStatus: 503, wantType: "registry-unavailable", wantDetail: "connection refused"},
		{name: "registry fails", setup: func(e *env) { e.images.err = fmt.Errorf("x: %w: 500 Internal Server Error", api.ErrRegistryFailed) },
			wantStatus: 502, wantType: "registry-unavailable", wantDetail: "500 Internal Server Error"},
		{name: "temporal unavailable", setup: func(e *env) { e.wf.startErr = errors.New("connection refused") },
			wantStatus: 503, wantType: "workflows-unavailable", wantDetail: `queue the deploy of component "web": connection refused`},
		{name: "stale If-Match", req: request{header: map[string]string{"If-Match": `"9"`}},
			wantStatus: 412, wantType: "precondition-failed", wantDetail: `If-Match "9" does not match its ETag "1"`},
		{name: "unknown body field", req: request{body: `{"image":"other"}`},
			wantStatus: 400, wantType: "malformed-request", wantDetail: `unknown field "image"`},
		{name: "bad idempotency key", req: request{header: map[string]string{"Idempotency-Key": "has space"}},
			wantStatus: 400, wantType: "malformed-request", wantDetail: "Idempotency-Key: must be visible ASCII"},
		{name: "wrong token", req: request{token: "nope-nope-nope-nope"},
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
			req := tt.req
			req.method = "POST"
			if req.path == "" {
				req.path = webPath + "/deploys"
			}
			p := problemOf(t, e.do(req), tt.wantStatus)
			require.Equal(t, "urn:rainflow:problem:"+tt.wantType, p.Type)
			require.Contains(t, p.Detail, tt.wantDetail)

			ops := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: webPath + "/operations"}))
			require.Empty(t, ops["items"], "a refused deploy leaves no operation behind")
		})
	}
}

func TestDeployQueued(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	first := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys"}))
	require.Equal(t, "running", first["state"])

	second := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys", body: `{"rolloutTimeoutSeconds": 60}`}))
	require.Equal(t, "queued", second["state"], "a second operation waits for the first, never refused")
	require.Equal(t, 1.0, second["position"])
	secondID := second["operationId"].(string)

	op := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + secondID}))
	require.Equal(t, "queued", op["state"])
	require.Equal(t, 1.0, op["queuePosition"])
	require.Contains(t, op["stateNote"], fmt.Sprintf("operation %s (deploy) runs now", first["operationId"]))

	third := e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys", body: `{"rolloutTimeoutSeconds": 60}`})
	thirdBody := jsonOf(t, third)
	require.Equal(t, "merged", thirdBody["state"], "the same request as a waiting one is merged into it")
	require.Equal(t, secondID, thirdBody["operationId"])
	require.Equal(t, "/v1/tenants/acme/operations/"+secondID, third.Header().Get("Location"))

	fourth := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys", body: `{"noRollback": true}`}))
	require.Equal(t, "queued", fourth["state"], "a different request is not merged")
	require.Equal(t, 2.0, fourth["position"])

	ops := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: webPath + "/operations"}))
	require.Len(t, ops["items"], 3, "the merged request is no operation of its own")

	e.wf.finish(webWorkflowID, api.OperationStatus{State: api.StateSucceeded})
	op = jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + secondID}))
	require.Equal(t, "running", op["state"], "the next one runs once the first ended")
	require.Equal(t, "run-2", op["runId"])
}

func TestDeployQueueFull(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	for i := range contract.MaxQueuedOperations + 1 {
		e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys", body: fmt.Sprintf(`{"rolloutTimeoutSeconds": %d}`, i+1)})
	}
	rec := e.do(request{method: "POST", path: webPath + "/deploys"})
	p := problemOf(t, rec, http.StatusTooManyRequests)
	require.Equal(t, "urn:rainflow:problem:queue-full", p.Type)
	require.Contains(t, p.Detail, `component "web" cannot take another operation now`)
	require.Equal(t, "10", rec.Header().Get("Retry-After"))
	ops := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: webPath + "/operations?limit=100"}))
	require.Len(t, ops["items"], contract.MaxQueuedOperations+1, "the refused request left no operation behind")
}

func TestDeployIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/acme/apps/shop/components", body: componentBody("api", webImage)})
	key := map[string]string{"Idempotency-Key": "deploy-web-42"}

	first := e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys", header: key})
	again := e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys", header: key})
	require.Equal(t, jsonOf(t, first)["operationId"], jsonOf(t, again)["operationId"], "the same key answers the same operation")
	require.Equal(t, "accepted", jsonOf(t, again)["state"])
	require.Equal(t, first.Header().Get("Location"), again.Header().Get("Location"))
	require.Equal(t, "true", again.Header().Get("Idempotent-Replayed"))
	require.Equal(t, 1, e.wf.startCount(), "without starting it again")

	e.wf.finish(webWorkflowID, api.OperationStatus{State: api.StateSucceeded})
	replay := e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys", header: key})
	require.Equal(t, jsonOf(t, first)["operationId"], jsonOf(t, replay)["operationId"], "even after the operation ended")
	require.Equal(t, 1, e.wf.startCount())

	p := problemOf(t, e.do(request{method: "POST", path: "/v1/tenants/acme/apps/shop/components/api/deploys", header: key}), 422)
	require.Equal(t, "urn:rainflow:problem:idempotency-key-reused", p.Type)
	require.Contains(t, p.Detail, `Idempotency-Key "deploy-web-42" was used for operation`)

	other := e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys", header: map[string]string{"Idempotency-Key": "deploy-web-43"}})
	require.NotEqual(t, jsonOf(t, first)["operationId"], jsonOf(t, other)["operationId"], "a new key is a new operation")
}

func TestDeployIdempotencyKeyAfterFailedStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	key := map[string]string{"Idempotency-Key": "retry-me"}
	e.wf.startErr = errors.New("temporal is down")
	problemOf(t, e.do(request{method: "POST", path: webPath + "/deploys", header: key}), 503)

	e.wf.startErr = nil
	rec := e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys", header: key})
	require.Empty(t, rec.Header().Get("Idempotent-Replayed"), "the failed try started nothing: the retry starts it")
	require.Equal(t, 1, e.wf.startCount())
}

func TestDeployIdempotencyKeyConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	const clients = 6
	bodies := make([]string, clients)
	codes := make([]int, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			rec := e.do(request{method: "POST", path: webPath + "/deploys", header: map[string]string{"Idempotency-Key": "same"}})
			codes[i], bodies[i] = rec.Code, rec.Body.String()
		})
	}
	wg.Wait()
	for i := range clients {
		require.Equal(t, http.StatusAccepted, codes[i], bodies[i])
		var a, b map[string]any
		require.NoError(t, json.Unmarshal([]byte(bodies[0]), &a))
		require.NoError(t, json.Unmarshal([]byte(bodies[i]), &b))
		require.Equal(t, a["operationId"], b["operationId"], "every retry answers the one operation")
		require.Equal(t, a["workflowId"], b["workflowId"])
	}
	require.Equal(t, 1, e.wf.startCount())
}

// TestDeployWithoutWorker: with no worker to answer, the operation is still queued (Temporal keeps it)
// and answered as pending; its state says its place cannot be read until a worker runs.
func TestDeployWithoutWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	e.wf.pending = true
	e.wf.queueErr = errors.New("context deadline exceeded")
	body := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys"}))
	require.Equal(t, "pending", body["state"])
	require.Nil(t, body["position"])

	op := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + body["operationId"].(string)}))
	require.Equal(t, "pending", op["state"])
	require.Contains(t, op["stateNote"], "is a worker running?")
	require.Contains(t, op["stateNote"], "context deadline exceeded")
}

// TestDeployDependencies: a deploy carries the ports of the components its spec depends on (for their
// env in its containers); a dependency the app lacks is refused, naming it.
func TestDeployDependencies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	comps := "/v1/tenants/acme/apps/shop/components"
	e.ok(http.StatusCreated, request{method: "POST", path: comps, body: fmt.Sprintf(
		`{"name":"front","spec":{"image":%q,"replicas":1,"dependsOn":["web","db"]}}`, webImage)})
	p := problemOf(t, e.do(request{method: "POST", path: comps + "/front/deploys"}), http.StatusUnprocessableEntity)
	require.Equal(t, "urn:rainflow:problem:validation", p.Type)
	require.Equal(t, []api.FieldError{{Field: "spec.dependsOn[1]", Reason: `component "db" is not in the app: create it, or remove it from dependsOn`}}, p.Errors)
	require.Zero(t, e.wf.startCount())

	e.ok(http.StatusCreated, request{method: "POST", path: comps, body: componentBody("db", webImage)})
	e.ok(http.StatusAccepted, request{method: "POST", path: comps + "/front/deploys"})
	in := e.wf.lastStart().Input.(contract.DeployInput)
	require.Equal(t, []contract.Dependency{
		{Component: "web", Ports: []contract.Port{{Name: "http", Port: 8080, Protocol: "TCP"}}},
		{Component: "db", Ports: []contract.Port{{Name: "http", Port: 8080, Protocol: "TCP"}}},
	}, in.Dependencies)

	p = problemOf(t, e.do(request{method: "POST", path: comps, body: fmt.Sprintf(
		`{"name":"loop","spec":{"image":%q,"replicas":1,"dependsOn":["loop"]}}`, webImage)}), http.StatusUnprocessableEntity)
	require.Equal(t, "spec.dependsOn[0]", p.Errors[0].Field)
}
