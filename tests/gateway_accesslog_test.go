package tests

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/collector"
	"github.com/rainflow/rainflow/contract"
)

// TestGatewayAccessLog: requests through the stack's gateway (the `rainflow gateway` process that
// `rainflow dev` starts with --collector-url) on a route whose Ingress carries a component's labels
// become lines of that component's access stream, readable through the collector's query API, with
// the level of their status.
func TestGatewayAccessLog(t *testing.T) {
	e := newGatewayEnv(t, "gwacc")
	b := startBackend(t, "web", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/fail") {
			http.Error(w, "backend down", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "web "+r.URL.Path)
	}))
	e.backendService("web", b)
	host := e.ns + ".example.com"
	ing := e.ingress("web", nil, gwRule{host: host, service: "web"})
	ing.Labels = map[string]string{contract.LabelTenant: e.ns, contract.LabelApp: "shop", contract.LabelComponent: "web"}
	e.createIngress(ing)

	send := func(path string) (int, error) {
		req, err := http.NewRequestWithContext(e.ctx, http.MethodGet, stack.GatewayURL+path, nil)
		require.NoError(t, err)
		req.Host = host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, nil
	}
	var last string
	require.Eventually(t, func() bool { // the stack's gateway picks the route up by its watch
		code, err := send("/ready")
		last = fmt.Sprintf("%d %v", code, err)
		return err == nil && code == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, "the stack's gateway routes %s; last: %s", host, last)
	okPath, failPath := "/probe-"+e.ns, "/fail-"+e.ns
	code, err := send(okPath)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	code, err = send(failPath)
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, code)

	key := collector.StreamKey{Kind: collector.KindAccess, Tenant: e.ns, App: "shop", Name: "web"}
	var ok, fail *collector.Line
	require.Eventually(t, func() bool {
		for _, l := range readStream(t, e.ctx, stack.CollectorURL, key) {
			switch {
			case strings.HasPrefix(l.Message, "GET "+host+okPath+" "):
				ok = &l
			case strings.HasPrefix(l.Message, "GET "+host+failPath+" "):
				fail = &l
			}
		}
		return ok != nil && fail != nil
	}, 30*time.Second, 200*time.Millisecond, "the access stream %s holds both requests' lines", key)
	assert.Regexp(t, `^GET \S+ 200 \d+B \S+ request_id=\S+ remote=127\.0\.0\.1:\d+ upstream=`+b.host.Addr.String()+`:\d+$`, ok.Message)
	assert.Equal(t, collector.LevelInfo, ok.Level)
	assert.Contains(t, fail.Message, " 503 ")
	assert.Equal(t, collector.LevelError, fail.Level)
	assert.WithinDuration(t, time.Now(), ok.Time, 5*time.Minute)
}
