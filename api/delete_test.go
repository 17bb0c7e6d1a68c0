package api_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/api"
	"github.com/rainflow/rainflow/contract"
)

func TestDeleteComponentQueuesDelete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		query       string
		header      map[string]string
		wantVolumes bool
	}{
		{name: "keeps the volumes by default"},
		{name: "keeps the volumes when asked", query: "?volumes=keep", wantVolumes: false},
		{name: "deletes the volumes when asked", query: "?volumes=delete", wantVolumes: true},
		{name: "with a matching If-Match", header: map[string]string{"If-Match": `"1"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.seed()
			rec := e.ok(http.StatusAccepted, request{method: "DELETE", path: webPath + tt.query, header: tt.header})
			body := jsonOf(t, rec)
			opID := body["operationId"].(string)
			require.Equal(t, "delete", body["kind"])
			require.Equal(t, "delete/acme/shop/web/"+opID, body["workflowId"])
			require.Equal(t, "running", body["state"])
			require.Equal(t, "/v1/tenants/acme/operations/"+opID, rec.Header().Get("Location"))

			started := e.wf.lastStart()
			stored, err := e.st.GetOperation(t.Context(), mustTenantID(t, e), opID)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(started.MergeKey, "delete:"), started.MergeKey)
			started.MergeKey = ""
			require.Equal(t, api.WorkflowStart{Workflow: contract.WorkflowDelete, Kind: contract.OperationDelete, OperationID: opID,
				Ref: webRef, RequestedBy: "admin",
				Input: contract.DeleteInput{OperationID: opID, Ref: webRef, ComponentID: stored.ComponentID, DeleteVolumes: tt.wantVolumes,
					RequestedBy: "admin"}}, started)

			// the record stays until the workflow's last step forgets it
			e.ok(http.StatusOK, request{method: "GET", path: webPath})
			op := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + opID}))
			require.Equal(t, "delete", op["kind"])
			require.Equal(t, "running", op["state"])
			require.Equal(t, "web", op["component"])
		})
	}
}

// TestDeleteComponentThenGone follows a delete to its end: once its workflow forgot the component (here
// the store is told directly, as the ForgetComponent activity does), the component answers 404, its
// name can be used again, and its operations stay readable.
func TestDeleteComponentThenGone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	deploy := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys"}))
	e.wf.finish(webWorkflowID, api.OperationStatus{State: api.StateSucceeded})
	del := jsonOf(t, e.ok(http.StatusAccepted, request{method: "DELETE", path: webPath + "?volumes=delete"}))
	require.Equal(t, "running", del["state"])
	e.wf.finish(webWorkflowID, api.OperationStatus{State: api.StateSucceeded,
		Result: []byte(`{"namespace":"acme","deleted":["Deployment/shop-web","Service/shop-web"],"forgotten":true}`)})
	e.forgetDeleted()

	p := problemOf(t, e.do(request{method: "GET", path: webPath}), http.StatusNotFound)
	require.Equal(t, `component "web" not found in app "shop" of tenant "acme"`, p.Detail)
	problemOf(t, e.do(request{method: "DELETE", path: webPath}), http.StatusNotFound)

	for _, id := range []string{del["operationId"].(string), deploy["operationId"].(string)} {
		op := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + id}))
		require.Equal(t, "succeeded", op["state"], "operation %s of the deleted component", id)
		require.Equal(t, "shop", op["app"])
		require.NotContains(t, op["links"], "component", "no link to a component that is gone")
	}
	op := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + del["operationId"].(string)}))
	require.Equal(t, "delete", op["kind"])
	require.Equal(t, []any{"Deployment/shop-web", "Service/shop-web"}, op["result"].(map[string]any)["deleted"])

	// the name is free again, for a new component with a queue of its own
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/acme/apps/shop/components", body: componentBody("web", webImage)})
	e.ok(http.StatusAccepted, request{method: "DELETE", path: webPath})
}

func TestDeleteComponentQueued(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	deploy := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys"}))
	require.Equal(t, "running", deploy["state"])

	del := jsonOf(t, e.ok(http.StatusAccepted, request{method: "DELETE", path: webPath}))
	require.Equal(t, "queued", del["state"], "a delete waits for the running deploy")
	require.Equal(t, 1.0, del["position"])
	again := jsonOf(t, e.ok(http.StatusAccepted, request{method: "DELETE", path: webPath + "?volumes=keep"}))
	require.Equal(t, "merged", again["state"], "a second delete while one waits is the same delete")
	require.Equal(t, del["operationId"], again["operationId"])
	withVolumes := jsonOf(t, e.ok(http.StatusAccepted, request{method: "DELETE", path: webPath + "?volumes=delete"}))
	require.Equal(t, "queued", withVolumes["state"], "a delete that takes the volumes too is another delete")
	require.Equal(t, 2.0, withVolumes["position"])

	op := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + del["operationId"].(string)}))
	require.Equal(t, "queued", op["state"])
	e.wf.finish(webWorkflowID, api.OperationStatus{State: api.StateSucceeded})
	op = jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + del["operationId"].(string)}))
	require.Equal(t, "running", op["state"])
}

func TestDeleteComponentIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	key := map[string]string{"Idempotency-Key": "delete-web-1"}
	first := jsonOf(t, e.ok(http.StatusAccepted, request{method: "DELETE", path: webPath, header: key}))
	again := e.ok(http.StatusAccepted, request{method: "DELETE", path: webPath, header: key})
	require.Equal(t, first["operationId"], jsonOf(t, again)["operationId"])
	require.Equal(t, "true", again.Header().Get("Idempotent-Replayed"))
	require.Equal(t, 1, e.wf.startCount())
}

func TestDeleteComponentProblems(t *testing.T) {
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
		{name: "volumes neither keep nor delete", req: request{path: webPath + "?volumes=maybe"},
			wantStatus: 400, wantType: "malformed-request", wantFields: []string{"volumes"},
			wantDetail: `volumes: "maybe" is neither keep (the default: the component's volume claims and their data stay) nor delete`},
		{name: "volumes in capitals", req: request{path: webPath + "?volumes=Delete"},
			wantStatus: 400, wantType: "malformed-request", wantFields: []string{"volumes"}, wantDetail: `"Delete" is neither keep`},
		{name: "volumes empty", req: request{path: webPath + "?volumes="},
			wantStatus: 400, wantType: "malformed-request", wantFields: []string{"volumes"}, wantDetail: `"" is neither keep`},
		{name: "volumes twice", req: request{path: webPath + "?volumes=keep&volumes=delete"},
			wantStatus: 400, wantType: "malformed-request", wantFields: []string{"volumes"}, wantDetail: "is given 2 times; give it once: keep or delete"},
		{name: "a body", req: request{path: webPath, body: `{"volumes":"delete"}`},
			wantStatus: 400, wantType: "malformed-request", wantDetail: `unknown field "volumes"`},
		{name: "stale If-Match", req: request{path: webPath, header: map[string]string{"If-Match": `"9"`}},
			wantStatus: 412, wantType: "precondition-failed", wantDetail: `If-Match "9" does not match its ETag "1"`},
		{name: "unknown component", req: request{path: "/v1/tenants/acme/apps/shop/components/nope"},
			wantStatus: 404, wantType: "not-found", wantDetail: `component "nope" not found in app "shop" of tenant "acme"`},
		{name: "unknown app", req: request{path: "/v1/tenants/acme/apps/nope/components/web"},
			wantStatus: 404, wantType: "not-found", wantDetail: `app "nope" not found in tenant "acme"`},
		{name: "other components depend on it",
			setup: func(e *env) {
				for _, name := range []string{"front", "admin"} {
					e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/acme/apps/shop/components", body: fmt.Sprintf(
						`{"name":%q,"spec":{"image":%q,"replicas":1,"dependsOn":["web"]}}`, name, webImage)})
				}
			},
			req: request{path: webPath}, wantStatus: 409, wantType: "component-in-use",
			wantDetail: `component "web" cannot be deleted: component(s) "admin", "front" depend on it (spec.dependsOn); ` +
				`delete them first, or remove "web" from their dependsOn`},
		{name: "temporal unavailable", req: request{path: webPath}, setup: func(e *env) { e.wf.startErr = errors.New("connection refused") },
			wantStatus: 503, wantType: "workflows-unavailable", wantDetail: `queue the delete of component "web": connection refused`},
		{name: "no token", req: request{path: webPath, token: "-"},
			wantStatus: 401, wantType: "unauthorized"},
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
			req.method = "DELETE"
			p := problemOf(t, e.do(req), tt.wantStatus)
			require.Equal(t, "urn:rainflow:problem:"+tt.wantType, p.Type)
			require.Contains(t, p.Detail, tt.wantDetail)
			if tt.wantFields != nil {
				require.Equal(t, tt.wantFields, fields(p))
			}

			require.Zero(t, e.wf.startCount(), "a refused delete starts nothing")
			ops := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: webPath + "/operations"}))
			require.Empty(t, ops["items"], "a refused delete leaves no operation behind")
		})
	}
}

// TestDeleteComponentDependentsGone: once the components that depended on it are gone (or no longer
// name it), the component can be deleted.
func TestDeleteComponentDependentsGone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/acme/apps/shop/components", body: fmt.Sprintf(
		`{"name":"front","spec":{"image":%q,"replicas":1,"dependsOn":["web"]}}`, webImage)})
	problemOf(t, e.do(request{method: "DELETE", path: webPath}), http.StatusConflict)
	e.ok(http.StatusOK, request{method: "PUT", path: "/v1/tenants/acme/apps/shop/components/front", header: map[string]string{"If-Match": `"1"`},
		body: fmt.Sprintf(`{"spec":{"image":%q,"replicas":1}}`, webImage)})
	e.ok(http.StatusAccepted, request{method: "DELETE", path: webPath})
}

// forgetDeleted does what the workflow of the last delete enqueued does at its end: it forgets the
// component's record.
func (e *env) forgetDeleted() {
	e.t.Helper()
	in, ok := e.wf.lastStart().Input.(contract.DeleteInput)
	require.True(e.t, ok, "the last operation enqueued is not a delete: %+v", e.wf.lastStart())
	require.NoError(e.t, e.st.DeleteComponent(e.t.Context(), in.ComponentID))
}
