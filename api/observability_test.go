package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMetricsByRoutePattern(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	for _, tenant := range []string{"nope1", "nope2", "acme"} {
		e.do(request{method: "GET", path: "/v1/tenants/" + tenant})
	}
	e.do(request{method: "GET", path: "/v1/tenants", token: "-"})

	tests := []struct {
		name                  string
		method, route, status string
		want                  float64
	}{
		{name: "ids never become labels", method: "GET", route: "/v1/tenants/{tenant}", status: "404", want: 2},
		{name: "found", method: "GET", route: "/v1/tenants/{tenant}", status: "200", want: 1},
		{name: "created", method: "POST", route: "/v1/tenants/{tenant}/apps/{app}/components", status: "201", want: 1},
		{name: "refused by auth", method: "GET", route: "/v1/tenants", status: "401", want: 1},
	}
	metrics := e.ok(http.StatusOK, request{method: "GET", path: "/metrics", token: "-"}).Body.String()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := e.reg
			mfs, err := c.Gather()
			require.NoError(t, err)
			var got float64
			for _, mf := range mfs {
				if mf.GetName() != "rainflow_api_requests_total" {
					continue
				}
				for _, m := range mf.GetMetric() {
					labels := map[string]string{}
					for _, l := range m.GetLabel() {
						labels[l.GetName()] = l.GetValue()
					}
					if labels["method"] == tt.method && labels["route"] == tt.route && labels["status"] == tt.status {
						got = m.GetCounter().GetValue()
					}
				}
			}
			require.Equal(t, tt.want, got)
		})
	}
	require.Contains(t, metrics, `rainflow_api_request_duration_seconds_bucket{method="GET",route="/v1/tenants/{tenant}"`)
	require.NotContains(t, metrics, "nope1")
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	e.member("alice", "acme", "viewer")
	rec := e.do(request{method: "GET", path: "/v1/tenants/acme", token: aliceToken, header: map[string]string{"X-Request-Id": "req-123"}})
	require.Equal(t, "req-123", rec.Header().Get("X-Request-Id"), "a caller's request id is kept")
	generated := e.do(request{method: "GET", path: "/v1/tenants/acme", header: map[string]string{"X-Request-Id": strings.Repeat("x", 200)}})
	require.Len(t, generated.Header().Get("X-Request-Id"), 36, "an insane one is replaced")

	var line map[string]any
	for l := range strings.SplitSeq(e.logs.String(), "\n") {
		if strings.Contains(l, `"request_id":"req-123"`) && strings.Contains(l, `"msg":"http request"`) {
			require.NoError(t, json.Unmarshal([]byte(l), &line))
		}
	}
	require.NotNil(t, line, "logs: %s", e.logs.String())
	require.Equal(t, "GET", line["method"])
	require.Equal(t, "/v1/tenants/{tenant}", line["route"])
	require.Equal(t, "/v1/tenants/acme", line["path"])
	require.EqualValues(t, 200, line["status"])
	require.Equal(t, "alice", line["principal"])
	require.Contains(t, e.logs.String(), `"msg":"created component"`)
	require.Contains(t, e.logs.String(), `"component":"web"`)
}
