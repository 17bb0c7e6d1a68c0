package tests

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/contract"
)

// TestAppDeployInDependencyOrder: an app of three components, web → api → db, deployed with one
// request: db is ready before api is queued, api before web; each one's containers get the hosts and
// ports of what it depends on; the app stops in the reverse order; a cycle is refused, named.
func TestAppDeployInDependencyOrder(t *testing.T) {
	require.True(t, stack.RealNode, "needs the real node: %s", stack.RealNodeReason)
	ctx := testContext(t)
	api := newAPIClient(stack.APIURL, stack.APIToken)
	kube := kubeClient(t)
	tenant := uniqueName("app")
	pushHTTPD(t, ctx, "app/web", "v1", "app\n")
	api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": tenant}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps", map[string]any{"name": "shop"}, nil)
	app := "/v1/tenants/" + tenant + "/apps/shop"
	for _, c := range []struct {
		name string
		deps []string
	}{{"web", []string{"api"}}, {"api", []string{"db"}}, {"db", nil}} {
		spec := webSpec(stack.RegistryAddr + "/app/web:v1")
		spec.Replicas = 1
		spec.DependsOn = c.deps
		api.must(t, http.StatusCreated, "POST", app+"/components", map[string]any{"name": c.name, "spec": spec}, nil)
	}

	var acc struct {
		OperationID string            `json:"operationId"`
		Components  map[string]string `json:"components"`
		Order       [][]string        `json:"order"`
	}
	api.must(t, http.StatusAccepted, "POST", app+"/deploys", nil, &acc)
	require.Equal(t, [][]string{{"db"}, {"api"}, {"web"}}, acc.Order)
	op := waitOperation(t, api, tenant, acc.OperationID, 3*time.Minute)
	require.Equal(t, "succeeded", op.State, "error: %s, steps: %+v", op.Error, op.Steps)

	if dir := os.Getenv("RAINFLOW_RECORD_HISTORY_DIR"); dir != "" {
		recordClosed(t, ctx, contract.AppOperationWorkflowID(contract.OperationDeploy, tenant, "shop", acc.OperationID),
			filepath.Join(dir, "app-deploy.json"))
	}

	times := map[string]operationTimes{}
	for name, id := range acc.Components {
		var ot operationTimes
		api.must(t, http.StatusOK, "GET", "/v1/tenants/"+tenant+"/operations/"+id, nil, &ot)
		require.Equal(t, "succeeded", ot.State, name)
		times[name] = ot
	}
	require.False(t, times["api"].StartedAt.Before(*times["db"].ClosedAt), "api started before db was ready: %+v", times)
	require.False(t, times["web"].StartedAt.Before(*times["api"].ClosedAt), "web started before api was ready: %+v", times)

	dep, err := kube.AppsV1().Deployments(tenant).Get(ctx, "shop-api", metav1.GetOptions{})
	require.NoError(t, err)
	env := map[string]string{}
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	require.Equal(t, render.ServiceHost(contract.ComponentRef{Tenant: tenant, App: "shop", Component: "db"}), env["DB_HOST"])
	require.Equal(t, "8080", env["DB_PORT"])
	for _, name := range []string{"db", "api", "web"} {
		d, err := kube.AppsV1().Deployments(tenant).Get(ctx, "shop-"+name, metav1.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, int32(1), d.Status.ReadyReplicas, name)
	}

	// stop: web first, db last
	api.must(t, http.StatusAccepted, "POST", app+"/stop", nil, &acc)
	require.Equal(t, [][]string{{"web"}, {"api"}, {"db"}}, acc.Order)
	op = waitOperation(t, api, tenant, acc.OperationID, 3*time.Minute)
	require.Equal(t, "succeeded", op.State, "error: %s, steps: %+v", op.Error, op.Steps)
	stopped := map[string]operationTimes{}
	for name, id := range acc.Components {
		var ot operationTimes
		api.must(t, http.StatusOK, "GET", "/v1/tenants/"+tenant+"/operations/"+id, nil, &ot)
		stopped[name] = ot
	}
	require.False(t, stopped["db"].StartedAt.Before(*stopped["api"].ClosedAt), "db stopped before api: %+v", stopped)

	// a cycle is refused before anything runs, named
	var comp struct {
		Spec contract.ComponentSpec `json:"spec"`
	}
	r := api.must(t, http.StatusOK, "GET", app+"/components/db", nil, &comp)
	comp.Spec.DependsOn = []string{"web"}
	api.must(t, http.StatusOK, "PUT", app+"/components/db", map[string]any{"spec": comp.Spec}, nil, "If-Match", r.Header.Get("ETag"))
	p := problemOf(t, api.do(t, "POST", app+"/deploys", nil), http.StatusUnprocessableEntity)
	require.Contains(t, p.Detail, "the dependencies form a cycle: api → db → web → api")
}

type operationTimes struct {
	State     string     `json:"state"`
	StartedAt time.Time  `json:"startedAt"`
	ClosedAt  *time.Time `json:"closedAt"`
}
