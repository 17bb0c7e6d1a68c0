package tests

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDevURLs checks that every URL `rainflow dev` prints answers.
func TestDevURLs(t *testing.T) {
	httpc := &http.Client{Timeout: 10 * time.Second}
	for _, u := range []struct{ name, url string }{
		{"Temporal Web UI", stack.TemporalUIURL},
		{"API health", stack.APIURL + "/healthz"},
		{"API readiness", stack.APIURL + "/readyz"},
		{"collector health", stack.CollectorURL + "/healthz"},
		{"worker health", stack.WorkerURL + "/healthz"},
		{"worker metrics", stack.WorkerURL + "/metrics"},
		{"API metrics", stack.APIURL + "/metrics"},
		{"registry", "http://" + stack.RegistryAddr + "/v2/"},
	} {
		t.Run(u.name, func(t *testing.T) {
			require.NotEmpty(t, u.url)
			resp, err := httpc.Get(u.url)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s answered %s", u.url, resp.Status)
		})
	}
	// the gateway's data plane answers (404 with no route), so traffic reaches it
	resp, err := httpc.Get(stack.GatewayURL + "/no-such-route")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}
