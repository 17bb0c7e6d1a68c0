package api_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/api"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

const routesPath = webPath + "/routes"

// routeAnswer is what a route write answers.
type routeAnswer struct {
	contract.Route
	Version   int64 `json:"version"`
	Operation *struct {
		OperationID string `json:"operationId"`
		Kind        string `json:"kind"`
		State       string `json:"state"`
	} `json:"operation"`
}

func routeOf(t *testing.T, body []byte) routeAnswer {
	t.Helper()
	var r routeAnswer
	require.NoError(t, json.Unmarshal(body, &r))
	return r
}

// deployed makes web a deployed component: a deploy was queued (and, in the fake, runs).
func (e *env) deployed() {
	e.t.Helper()
	e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys"})
}

func TestRoutesOnANeverDeployedComponent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	rec := e.ok(http.StatusCreated, request{method: "POST", path: routesPath, body: `{"name":"www","host":"Shop.Example.com","portName":"http"}`})
	require.Equal(t, routesPath+"/www", rec.Header().Get("Location"))
	require.Equal(t, `"1"`, rec.Header().Get("ETag"))
	r := routeOf(t, rec.Body.Bytes())
	require.Equal(t, contract.Route{Name: "www", Kind: contract.RouteHTTP, Host: "shop.example.com", Path: "/", PathType: contract.PathPrefix,
		PortName: "http", Port: 8080}, r.Route, "defaults filled, host lower case, port resolved")
	require.Nil(t, r.Operation, "nothing to apply to: the first deploy applies the routes")
	require.Zero(t, e.wf.startCount())

	e.deployed()
	in := e.wf.lastStart().Input.(contract.DeployInput)
	require.Equal(t, []contract.Route{r.Route}, in.Routes, "the deploy applies the component's routes")
}

func TestRouteWritesQueueARoutesOperation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	e.deployed()

	rec := e.ok(http.StatusCreated, request{method: "POST", path: routesPath,
		body: `{"name":"api","host":"api.example.com","path":"/v1/","port":8080,"header":{"name":"X-Beta","value":"on"},"weight":10}`})
	r := routeOf(t, rec.Body.Bytes())
	require.Equal(t, "/v1", r.Path, "a Prefix path loses its trailing slash")
	require.NotNil(t, r.Operation)
	require.Equal(t, "routes", r.Operation.Kind)
	require.Equal(t, "queued", r.Operation.State, "behind the deploy")
	start := e.wf.lastStart()
	require.Equal(t, contract.WorkflowRoutes, start.Workflow)
	routesIn := start.Input.(contract.RoutesInput)
	require.Equal(t, r.Operation.OperationID, routesIn.OperationID)
	require.Equal(t, contract.ComponentRef{Tenant: "acme", App: "shop", Component: "web"}, routesIn.Ref)
	require.NotEmpty(t, routesIn.ComponentID)

	// a second change while the first still waits is merged into it: it reads the routes when it runs
	rec = e.ok(http.StatusCreated, request{method: "POST", path: routesPath, body: `{"name":"www","host":"www.example.com","portName":"http"}`})
	second := routeOf(t, rec.Body.Bytes())
	require.Equal(t, "merged", second.Operation.State)
	require.Equal(t, r.Operation.OperationID, second.Operation.OperationID)

	// update needs If-Match
	problemOf(t, e.do(request{method: "PUT", path: routesPath + "/www", body: `{"host":"www.example.com","portName":"http"}`}), http.StatusPreconditionRequired)
	problemOf(t, e.do(request{method: "PUT", path: routesPath + "/www", body: `{"host":"www.example.com","portName":"http"}`,
		header: map[string]string{"If-Match": `"7"`}}), http.StatusPreconditionFailed)
	rec = e.ok(http.StatusOK, request{method: "PUT", path: routesPath + "/www", body: `{"host":"www2.example.com","pathType":"Exact","path":"/x","portName":"http"}`,
		header: map[string]string{"If-Match": `"1"`}})
	updated := routeOf(t, rec.Body.Bytes())
	require.Equal(t, int64(2), updated.Version)
	require.Equal(t, "www2.example.com", updated.Host)
	require.Equal(t, `"2"`, rec.Header().Get("ETag"))
	p := problemOf(t, e.do(request{method: "PUT", path: routesPath + "/www", body: `{"name":"other","host":"a.example.com","portName":"http"}`,
		header: map[string]string{"If-Match": `"2"`}}), http.StatusUnprocessableEntity)
	require.Contains(t, fields(p), "name")

	list := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: routesPath + "?limit=1"}))
	require.Len(t, list["items"], 1)
	require.NotEmpty(t, list["nextCursor"])

	rec = e.ok(http.StatusOK, request{method: "DELETE", path: routesPath + "/www"})
	gone := routeOf(t, rec.Body.Bytes())
	require.Equal(t, "www", gone.Name)
	require.NotNil(t, gone.Operation)
	problemOf(t, e.do(request{method: "GET", path: routesPath + "/www"}), http.StatusNotFound)
}

func TestRouteWriteRefusedWhenTheQueueIs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	e.deployed()
	e.ok(http.StatusCreated, request{method: "POST", path: routesPath, body: `{"name":"www","host":"www.example.com","portName":"http"}`})

	e.wf.mu.Lock()
	e.wf.startErr = errors.New("temporal: connection refused")
	e.wf.mu.Unlock()
	problemOf(t, e.do(request{method: "POST", path: routesPath, body: `{"name":"api","host":"api.example.com","portName":"http"}`}), http.StatusServiceUnavailable)
	problemOf(t, e.do(request{method: "GET", path: routesPath + "/api"}), http.StatusNotFound) // taken back
	problemOf(t, e.do(request{method: "PUT", path: routesPath + "/www", body: `{"host":"changed.example.com","portName":"http"}`,
		header: map[string]string{"If-Match": `"1"`}}), http.StatusServiceUnavailable)
	r := routeOf(t, e.ok(http.StatusOK, request{method: "GET", path: routesPath + "/www"}).Body.Bytes())
	require.Equal(t, "www.example.com", r.Host, "the change is taken back")
	problemOf(t, e.do(request{method: "DELETE", path: routesPath + "/www"}), http.StatusServiceUnavailable)
	e.ok(http.StatusOK, request{method: "GET", path: routesPath + "/www"})

	e.wf.mu.Lock()
	e.wf.startErr = fmt.Errorf("enqueue: %w", api.ErrQueueFull)
	e.wf.mu.Unlock()
	p := problemOf(t, e.do(request{method: "POST", path: routesPath, body: `{"name":"api","host":"api.example.com","portName":"http"}`}), http.StatusTooManyRequests)
	require.Contains(t, p.Detail, "the route change is not made")
}

func TestRouteProblems(t *testing.T) {
	t.Parallel()
	ca := newCert(t, certOpts{ca: true})
	shop := newCert(t, certOpts{hosts: []string{"*.shop.example.com"}, parent: &ca})
	tests := []struct {
		name   string
		body   string
		status int
		fields []string
	}{
		{name: "no name, no host, no port", body: `{}`, status: http.StatusUnprocessableEntity, fields: []string{"name", "host", "portName"}},
		{name: "IP host", body: `{"name":"a","host":"10.0.0.1","portName":"http"}`, status: http.StatusUnprocessableEntity, fields: []string{"host"}},
		{name: "two wildcards", body: `{"name":"a","host":"*.*.example.com","portName":"http"}`, status: http.StatusUnprocessableEntity, fields: []string{"host"}},
		{name: "relative path", body: `{"name":"a","host":"a.example.com","path":"x","portName":"http"}`, status: http.StatusUnprocessableEntity, fields: []string{"path"}},
		{name: "path type", body: `{"name":"a","host":"a.example.com","pathType":"Regex","portName":"http"}`, status: http.StatusUnprocessableEntity, fields: []string{"pathType"}},
		{name: "weight", body: `{"name":"a","host":"a.example.com","weight":101,"portName":"http"}`, status: http.StatusUnprocessableEntity, fields: []string{"weight"}},
		{name: "header name", body: `{"name":"a","host":"a.example.com","header":{"name":"X Beta","value":"1"},"portName":"http"}`,
			status: http.StatusUnprocessableEntity, fields: []string{"header.name"}},
		{name: "cookie value", body: `{"name":"a","host":"a.example.com","cookie":{"name":"beta","value":"a;b"},"portName":"http"}`,
			status: http.StatusUnprocessableEntity, fields: []string{"cookie.value"}},
		{name: "unknown port", body: `{"name":"a","host":"a.example.com","portName":"admin"}`, status: http.StatusUnprocessableEntity, fields: []string{"portName"}},
		{name: "port number and name disagree", body: `{"name":"a","host":"a.example.com","portName":"http","port":9090}`,
			status: http.StatusUnprocessableEntity, fields: []string{"port"}},
		{name: "udp route on a TCP port", body: `{"name":"a","kind":"udp","listenPort":5353,"port":8080}`, status: http.StatusUnprocessableEntity, fields: []string{"port"}},
		{name: "tcp route without a gateway port", body: `{"name":"a","kind":"tcp","portName":"http"}`, status: http.StatusUnprocessableEntity, fields: []string{"listenPort"}},
		{name: "tcp route with a host", body: `{"name":"a","kind":"tcp","host":"a.example.com","listenPort":9000,"portName":"http"}`,
			status: http.StatusUnprocessableEntity, fields: []string{"host"}},
		{name: "unknown kind", body: `{"name":"a","kind":"grpc","portName":"http"}`, status: http.StatusUnprocessableEntity, fields: []string{"kind"}},
		{name: "force HTTPS without a certificate", body: `{"name":"a","host":"a.example.com","forceHttps":true,"portName":"http"}`,
			status: http.StatusUnprocessableEntity, fields: []string{"forceHttps"}},
		{name: "unknown certificate", body: `{"name":"a","host":"a.shop.example.com","certificate":"nothing","portName":"http"}`,
			status: http.StatusUnprocessableEntity, fields: []string{"certificate"}},
		{name: "certificate of other hosts", body: `{"name":"a","host":"a.example.com","certificate":"shop","portName":"http"}`,
			status: http.StatusUnprocessableEntity, fields: []string{"certificate"}},
		{name: "a wildcard covers one label only", body: `{"name":"a","host":"a.b.shop.example.com","certificate":"shop","portName":"http"}`,
			status: http.StatusUnprocessableEntity, fields: []string{"certificate"}},
		{name: "unknown field", body: `{"name":"a","host":"a.example.com","portName":"http","tls":true}`, status: http.StatusBadRequest, fields: []string{"tls"}},
		{name: "claimed already", body: `{"name":"other","host":"taken.example.com","portName":"http"}`, status: http.StatusConflict},
		{name: "name taken", body: `{"name":"taken","host":"free.example.com","portName":"http"}`, status: http.StatusConflict},
		{name: "a canary of a claimed match is fine", body: `{"name":"canary","host":"taken.example.com","weight":0,"portName":"http"}`, status: http.StatusCreated},
		{name: "certificate covering the host", body: `{"name":"secure","host":"a.shop.example.com","certificate":"shop","forceHttps":true,"portName":"http"}`,
			status: http.StatusCreated},
		{name: "tcp route", body: `{"name":"raw","kind":"tcp","listenPort":15000,"port":8080}`, status: http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.seed()
			e.ok(http.StatusCreated, request{method: "POST", path: certsPath, body: certBody(t, "shop", shop)})
			e.ok(http.StatusCreated, request{method: "POST", path: routesPath, body: `{"name":"taken","host":"taken.example.com","portName":"http"}`})
			rec := e.do(request{method: "POST", path: routesPath, body: tt.body})
			if tt.status == http.StatusCreated {
				require.Equal(t, tt.status, rec.Code, rec.Body.String())
				return
			}
			p := problemOf(t, rec, tt.status)
			for _, f := range tt.fields {
				require.Contains(t, fields(p), f)
			}
		})
	}
}

func TestCertificateInUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	shop := newCert(t, certOpts{hosts: []string{"shop.example.com"}})
	e.ok(http.StatusCreated, request{method: "POST", path: certsPath, body: certBody(t, "shop", shop)})
	e.ok(http.StatusCreated, request{method: "POST", path: routesPath, body: `{"name":"www","host":"shop.example.com","certificate":"shop","portName":"http"}`})

	p := problemOf(t, e.do(request{method: "DELETE", path: certsPath + "/shop"}), http.StatusConflict)
	require.Equal(t, "urn:rainflow:problem:certificate-in-use", p.Type)
	require.Contains(t, p.Detail, "shop/web/www")

	// a renewal must still cover the routes' hosts; one that does queues the routes of deployed components
	other := newCert(t, certOpts{hosts: []string{"other.example.com"}})
	b, _ := json.Marshal(map[string]string{"certPEM": other.certPEM, "keyPEM": other.keyPEM})
	p = problemOf(t, e.do(request{method: "PUT", path: certsPath + "/shop", body: string(b)}), http.StatusUnprocessableEntity)
	require.Contains(t, p.Errors[0].Reason, `host "shop.example.com" of route shop/web/www`)
	e.deployed()
	renewed := newCert(t, certOpts{hosts: []string{"shop.example.com"}})
	b, _ = json.Marshal(map[string]string{"certPEM": renewed.certPEM, "keyPEM": renewed.keyPEM})
	r := jsonOf(t, e.ok(http.StatusOK, request{method: "PUT", path: certsPath + "/shop", body: string(b)}))
	require.Len(t, r["operations"], 1)
	require.Equal(t, contract.WorkflowRoutes, e.wf.lastStart().Workflow)

	e.ok(http.StatusOK, request{method: "DELETE", path: routesPath + "/www"})
	e.ok(http.StatusNoContent, request{method: "DELETE", path: certsPath + "/shop"})
}

func TestDeployRefusesRoutesTheSpecLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	e.ok(http.StatusCreated, request{method: "POST", path: routesPath, body: `{"name":"www","host":"www.example.com","portName":"http"}`})
	e.ok(http.StatusOK, request{method: "PUT", path: webPath, header: map[string]string{"If-Match": `"1"`},
		body: `{"spec":{"image":"` + webImage + `","replicas":1,"ports":[{"name":"admin","port":9090}]}}`})
	p := problemOf(t, e.do(request{method: "POST", path: webPath + "/deploys"}), http.StatusUnprocessableEntity)
	require.Contains(t, fields(p), `routes["www"].portName`)
	require.Zero(t, e.wf.startCount())
}

func TestRollbackRestoresRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	ctx := t.Context()
	tn, err := e.st.GetTenant(ctx, "acme")
	require.NoError(t, err)
	a, err := e.st.GetApp(ctx, tn.ID, "shop")
	require.NoError(t, err)
	c, err := e.st.GetComponent(ctx, a.ID, "web")
	require.NoError(t, err)
	old := contract.Route{Name: "old", Kind: contract.RouteHTTP, Host: "old.example.com", Path: "/", PathType: contract.PathPrefix, PortName: "http", Port: 8080}
	op, err := e.st.CreateOperation(ctx, store.Operation{ID: "rel-1", TenantID: tn.ID, ComponentID: c.ID, Kind: contract.OperationDeploy, WorkflowID: "w"})
	require.NoError(t, err)
	_, err = e.st.RecordRelease(ctx, store.Release{ID: "rel-1", ComponentID: c.ID, OperationID: op.ID,
		ImageDigest: "127.0.0.1:5056/web@sha256:1111", Spec: c.Spec, Routes: []contract.Route{old}})
	require.NoError(t, err)
	e.images.mu.Lock()
	e.images.images["127.0.0.1:5056/web@sha256:1111"] = "sha256:1111"
	e.images.mu.Unlock()
	e.ok(http.StatusCreated, request{method: "POST", path: routesPath, body: `{"name":"new","host":"new.example.com","portName":"http"}`})

	// another component claims the old route's host: the rollback cannot restore it
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/acme/apps/shop/components", body: componentBody("api", webImage)})
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/acme/apps/shop/components/api/routes",
		body: `{"name":"old","host":"old.example.com","portName":"http"}`})
	p := problemOf(t, e.do(request{method: "POST", path: webPath + "/rollbacks", body: `{"releaseId":"rel-1"}`}), http.StatusConflict)
	require.Contains(t, p.Detail, "shop/api/old")
	e.ok(http.StatusOK, request{method: "DELETE", path: "/v1/tenants/acme/apps/shop/components/api/routes/old"})

	e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/rollbacks", body: `{"releaseId":"rel-1"}`})
	in := e.wf.lastStart().Input.(contract.RollbackInput)
	require.Equal(t, []contract.Route{old}, in.Deploy.Routes)
	list := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: routesPath}))
	items := list["items"].([]any)
	require.Len(t, items, 1)
	require.Equal(t, "old", items[0].(map[string]any)["name"], "the release's routes are the component's again")
}
