package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/api"
	"github.com/rainflow/rainflow/contract"
)

// TestRouteLoadBalanceRoundTrip: a route's load-balancing policy is stored with it, answered by every
// read, replaced or taken off by PUT, and handed to the deploy that applies the routes.
func TestRouteLoadBalanceRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	loadBalanceOf := func(rec []byte) map[string]any {
		t.Helper()
		var m map[string]any
		require.NoError(t, json.Unmarshal(rec, &m))
		lb, _ := m["loadBalance"].(map[string]any)
		return lb
	}

	rec := e.ok(http.StatusCreated, request{method: "POST", path: routesPath,
		body: `{"name":"www","host":"www.example.com","portName":"http","loadBalance":{"policy":"consistent-hash","hashBy":"header:X-User"}}`})
	hashed := &contract.RouteLoadBalance{Policy: contract.LoadBalanceConsistentHash, HashBy: "header:X-User"}
	require.Equal(t, hashed, routeOf(t, rec.Body.Bytes()).LoadBalance)
	get := e.ok(http.StatusOK, request{method: "GET", path: routesPath + "/www"})
	require.Equal(t, map[string]any{"policy": "consistent-hash", "hashBy": "header:X-User"}, loadBalanceOf(get.Body.Bytes()))

	rec = e.ok(http.StatusOK, request{method: "PUT", path: routesPath + "/www", header: map[string]string{"If-Match": `"1"`},
		body: `{"host":"www.example.com","portName":"http","loadBalance":{"policy":"least-connections"}}`})
	require.Equal(t, &contract.RouteLoadBalance{Policy: contract.LoadBalanceLeastConnections}, routeOf(t, rec.Body.Bytes()).LoadBalance)
	get = e.ok(http.StatusOK, request{method: "GET", path: routesPath + "/www"})
	require.Equal(t, map[string]any{"policy": "least-connections"}, loadBalanceOf(get.Body.Bytes()), "no hashBy without consistent-hash")

	// a TCP route's consistent-hash hashes the client's IP, said in the answer
	rec = e.ok(http.StatusCreated, request{method: "POST", path: routesPath,
		body: `{"name":"db","kind":"tcp","listenPort":15432,"portName":"http","loadBalance":{"policy":"consistent-hash"}}`})
	require.Equal(t, &contract.RouteLoadBalance{Policy: contract.LoadBalanceConsistentHash, HashBy: contract.HashByClientIP},
		routeOf(t, rec.Body.Bytes()).LoadBalance)
	list := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: routesPath}))
	byName := map[string]any{}
	for _, item := range list["items"].([]any) {
		byName[item.(map[string]any)["name"].(string)] = item.(map[string]any)["loadBalance"]
	}
	require.Equal(t, map[string]any{
		"db":  map[string]any{"policy": "consistent-hash", "hashBy": "client-ip"},
		"www": map[string]any{"policy": "least-connections"},
	}, byName)

	// the deploy applies the routes with their policies
	e.deployed()
	in := e.wf.lastStart().Input.(contract.DeployInput)
	require.Len(t, in.Routes, 2)
	for _, r := range in.Routes {
		require.NotNil(t, r.LoadBalance, "route %s", r.Name)
	}

	// a PUT without loadBalance takes the policy off: the route renders no annotation
	e.ok(http.StatusOK, request{method: "PUT", path: routesPath + "/www", header: map[string]string{"If-Match": `"2"`},
		body: `{"host":"www.example.com","portName":"http"}`})
	get = e.ok(http.StatusOK, request{method: "GET", path: routesPath + "/www"})
	require.NotContains(t, jsonOf(t, get), "loadBalance")
}

func TestRouteLoadBalanceProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		status int
		want   api.FieldError // for a 422
	}{
		{name: "unknown policy", body: `{"name":"a","host":"a.example.com","portName":"http","loadBalance":{"policy":"random"}}`,
			status: http.StatusUnprocessableEntity, want: api.FieldError{Field: "loadBalance.policy",
				Reason: `"random" is not round-robin, least-connections, consistent-hash or peak-ewma`}},
		{name: "hash without a key", body: `{"name":"a","host":"a.example.com","portName":"http","loadBalance":{"policy":"consistent-hash"}}`,
			status: http.StatusUnprocessableEntity, want: api.FieldError{Field: "loadBalance.hashBy",
				Reason: "is required with policy consistent-hash: client-ip, header:<name> or cookie:<name>"}},
		{name: "tcp peak-ewma", body: `{"name":"a","kind":"tcp","listenPort":15000,"portName":"http","loadBalance":{"policy":"peak-ewma"}}`,
			status: http.StatusUnprocessableEntity, want: api.FieldError{Field: "loadBalance.policy",
				Reason: "peak-ewma weighs HTTP response latency, which a tcp route does not have: round-robin, least-connections or consistent-hash"}},
		{name: "tcp hash by a header", body: `{"name":"a","kind":"tcp","listenPort":15000,"portName":"http","loadBalance":{"policy":"consistent-hash","hashBy":"header:X"}}`,
			status: http.StatusUnprocessableEntity, want: api.FieldError{Field: "loadBalance.hashBy",
				Reason: `"header:X" is not client-ip, the only key of consistent-hash on a tcp route`}},
		{name: "unknown key in loadBalance", body: `{"name":"a","host":"a.example.com","portName":"http","loadBalance":{"policy":"round-robin","weight":2}}`,
			status: http.StatusBadRequest},
		{name: "loadBalance not an object", body: `{"name":"a","host":"a.example.com","portName":"http","loadBalance":"least-connections"}`,
			status: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.seed()
			p := problemOf(t, e.do(request{method: "POST", path: routesPath, body: tt.body}), tt.status)
			if tt.status == http.StatusUnprocessableEntity {
				require.Equal(t, []api.FieldError{tt.want}, p.Errors)
			}
			problemOf(t, e.do(request{method: "GET", path: routesPath + "/a"}), http.StatusNotFound)
		})
	}
}
