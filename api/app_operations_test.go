package api_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
)

const appPath = "/v1/tenants/acme/apps/shop"

// seedChain makes web depend on api and api on db (web exists from seed).
func seedChain(e *env) {
	e.seed()
	comps := appPath + "/components"
	for _, c := range []struct{ name, deps string }{{"db", `[]`}, {"api", `["db"]`}} {
		e.ok(http.StatusCreated, request{method: "POST", path: comps, body: fmt.Sprintf(
			`{"name":%q,"spec":{"image":%q,"replicas":1,"ports":[{"name":"http","port":8080}],"dependsOn":%s}}`, c.name, webImage, c.deps)})
	}
	setDependsOn(e, "web", `["api"]`)
}

func setDependsOn(e *env, component, deps string) {
	path := appPath + "/components/" + component
	rec := e.ok(http.StatusOK, request{method: "GET", path: path})
	e.ok(http.StatusOK, request{method: "PUT", path: path, header: map[string]string{"If-Match": rec.Header().Get("ETag")},
		body: fmt.Sprintf(`{"spec":{"image":%q,"replicas":1,"ports":[{"name":"http","port":8080}],"dependsOn":%s}}`, webImage, deps)})
}

func TestAppDeploy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seedChain(e)

	rec := e.ok(http.StatusAccepted, request{method: "POST", path: appPath + "/deploys", body: `{"rolloutTimeoutSeconds": 90}`})
	body := jsonOf(t, rec)
	appOpID := body["operationId"].(string)
	require.Equal(t, "app-deploy", body["kind"])
	require.Equal(t, "app-deploy/acme/shop/"+appOpID, body["workflowId"])
	require.Equal(t, []any{[]any{"db"}, []any{"api"}, []any{"web"}}, body["order"])
	require.Equal(t, "/v1/tenants/acme/operations/"+appOpID, rec.Header().Get("Location"))
	ids := body["components"].(map[string]any)
	require.Len(t, ids, 3)

	require.Len(t, e.wf.apps, 1)
	in := e.wf.apps[0]
	require.Equal(t, contract.OperationDeploy, in.Kind)
	require.Equal(t, appOpID, in.OperationID)
	require.Equal(t, "admin", in.RequestedBy)
	byName := map[string]contract.AppComponentOperation{}
	for _, c := range in.Components {
		byName[c.Component] = c
	}
	require.Equal(t, []string{"api"}, byName["web"].DependsOn)
	require.Equal(t, contract.WorkflowDeploy, byName["web"].Workflow)
	require.Equal(t, ids["web"], byName["web"].OperationID)
	var deploy contract.DeployInput
	require.NoError(t, json.Unmarshal(byName["web"].Input, &deploy))
	require.Equal(t, ids["web"], deploy.OperationID)
	require.Equal(t, int32(90), deploy.RolloutTimeoutSeconds)
	require.Equal(t, []contract.Dependency{{Component: "api", Ports: []contract.Port{{Name: "http", Port: 8080, Protocol: "TCP"}}}}, deploy.Dependencies)
	require.Zero(t, e.wf.startCount(), "the app operation queues the components' operations itself, in order")

	app := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + appOpID}))
	require.Equal(t, "running", app["state"])
	require.Equal(t, "shop", app["app"])
	web := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + ids["web"].(string)}))
	require.Equal(t, "pending", web["state"])
	require.Contains(t, web["stateNote"], "its app operation queues it once the operations it waits for succeeded")
	ops := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: webPath + "/operations"}))
	require.Len(t, ops["items"], 1, "the component's part is listed with its operations")

	// the app operation is canceled like any other
	e.ok(http.StatusAccepted, request{method: "POST", path: "/v1/tenants/acme/operations/" + appOpID + "/cancel"})
	require.Equal(t, []string{"app-deploy/acme/shop/" + appOpID + "/run-1"}, e.wf.canceled)
}

func TestAppStopReversesTheOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seedChain(e)
	body := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: appPath + "/stop"}))
	require.Equal(t, "app-stop", body["kind"])
	require.Equal(t, []any{[]any{"web"}, []any{"api"}, []any{"db"}}, body["order"], "dependents stop first")
	require.Equal(t, contract.OperationStop, e.wf.apps[0].Kind)
	require.Equal(t, contract.WorkflowStop, e.wf.apps[0].Components[0].Workflow)
}

func TestAppOperationProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(e *env)
		path       string
		body       string
		wantStatus int
		wantDetail string
	}{
		{name: "a cycle is named", setup: func(e *env) { setDependsOn(e, "db", `["web"]`) },
			wantStatus: 422, wantDetail: `app "shop" cannot deploy in dependency order: the dependencies form a cycle: api → db → web → api`},
		{name: "an unknown dependency", setup: func(e *env) { setDependsOn(e, "db", `["queue"]`) },
			wantStatus: 422, wantDetail: `component "db" depends on "queue", which the app does not have`},
		{name: "a missing image", setup: func(e *env) { e.images.images = nil },
			wantStatus: 422, wantDetail: "not found in registry"},
		{name: "a bad body", body: `{"rolloutTimeoutSeconds": 0}`, wantStatus: 422, wantDetail: "rolloutTimeoutSeconds"},
		{name: "an unknown field", path: "/restart", body: `{"force": true}`, wantStatus: 400, wantDetail: `unknown field "force"`},
		{name: "temporal down", setup: func(e *env) { e.wf.startErr = errors.New("connection refused") },
			wantStatus: 503, wantDetail: `start the deploy of app "shop": connection refused`},
		{name: "an unknown app", path: "/../nope/deploys", wantStatus: 404, wantDetail: `app "nope" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			seedChain(e)
			if tt.setup != nil {
				tt.setup(e)
			}
			path := tt.path
			if path == "" {
				path = "/deploys"
			}
			if path == "/../nope/deploys" {
				path = "/v1/tenants/acme/apps/nope/deploys"
			} else {
				path = appPath + path
			}
			p := problemOf(t, e.do(request{method: "POST", path: path, body: tt.body}), tt.wantStatus)
			require.Contains(t, p.Detail, tt.wantDetail)
			for _, c := range []string{"web", "api", "db"} {
				ops := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: appPath + "/components/" + c + "/operations"}))
				require.Empty(t, ops["items"], "a refused app operation records nothing")
			}
		})
	}
}

func TestAppOperationEmptyApp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants", body: `{"name":"acme"}`})
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/acme/apps", body: `{"name":"shop"}`})
	p := problemOf(t, e.do(request{method: "POST", path: appPath + "/restart"}), http.StatusUnprocessableEntity)
	require.Equal(t, `app "shop" has no components to restart`, p.Detail)
}

func TestAppOperationIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seedChain(e)
	key := map[string]string{"Idempotency-Key": "app-deploy-1"}
	first := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: appPath + "/deploys", header: key}))
	again := e.ok(http.StatusAccepted, request{method: "POST", path: appPath + "/deploys", header: key})
	require.Equal(t, "true", again.Header().Get("Idempotent-Replayed"))
	replayed := jsonOf(t, again)
	require.Equal(t, first["operationId"], replayed["operationId"], "the same key answers the same operation")
	require.Equal(t, "accepted", replayed["state"])
	require.Len(t, e.wf.apps, 1, "and starts nothing again")

	p := problemOf(t, e.do(request{method: "POST", path: appPath + "/stop", header: key}), 422)
	require.Equal(t, []string{"Idempotency-Key"}, fields(p))
	p = problemOf(t, e.do(request{method: "POST", path: webPath + "/deploys", header: key}), 422)
	require.Contains(t, p.Detail, "was used for operation")
	problemOf(t, e.do(request{method: "POST", path: appPath + "/deploys", header: map[string]string{"Idempotency-Key": "bad\x01key"}}), 400)
}
