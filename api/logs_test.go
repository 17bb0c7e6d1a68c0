package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/api"
)

// fakeCollector answers reads with a fixed page (400 for limit=0) and tails with two messages and a
// close reason, recording the requests it got.
type fakeCollector struct {
	mu   sync.Mutex
	urls []string
}

func (f *fakeCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.urls = append(f.urls, r.URL.String())
	f.mu.Unlock()
	switch {
	case strings.HasSuffix(r.URL.Path, "/lines") && r.URL.Query().Get("limit") == "0":
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"title":"Bad Request","status":400,"detail":"limit \"0\" is not a number from 1 to 5000"}`))
	case strings.HasSuffix(r.URL.Path, "/lines"):
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"stream":"x","lines":[{"message":"hello","kind":"event"}],"cursor":"c1","more":false}`))
	case strings.HasSuffix(r.URL.Path, "/tail"):
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		ctx := context.WithoutCancel(r.Context())
		_ = c.Write(ctx, websocket.MessageText, []byte(`{"message":"one"}`))
		_ = c.Write(ctx, websocket.MessageText, []byte(`{"dropped":3}`))
		_ = c.Close(websocket.StatusNormalClosure, "stream over")
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeCollector) requested() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.urls...)
}

func TestLogs(t *testing.T) {
	t.Parallel()
	fc := &fakeCollector{}
	collector := httptest.NewServer(fc)
	t.Cleanup(collector.Close)
	e := newEnvConfig(t, nil, func(c *api.Config) { c.CollectorURL = collector.URL })
	e.seed()
	opID := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys"}))["operationId"].(string)

	t.Run("operation read", func(t *testing.T) {
		rec := e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + opID + "/logs?q=hel&limit=10&other=x"})
		require.Contains(t, rec.Body.String(), `"hello"`)
		require.Contains(t, fc.requested(), "/v1/streams/event/acme/shop/"+opID+"/lines?limit=10&q=hel",
			"the read goes to the operation's event stream with the read's parameters only")
	})
	t.Run("component read", func(t *testing.T) {
		e.ok(http.StatusOK, request{method: "GET", path: webPath + "/logs?kind=access"})
		e.ok(http.StatusOK, request{method: "GET", path: webPath + "/logs"})
		require.Contains(t, fc.requested(), "/v1/streams/access/acme/shop/web/lines")
		require.Contains(t, fc.requested(), "/v1/streams/runtime/acme/shop/web/lines")
		p := problemOf(t, e.do(request{method: "GET", path: webPath + "/logs?kind=build"}), http.StatusBadRequest)
		require.Equal(t, []string{"kind"}, fields(p))
	})
	t.Run("collector refusal is the caller's problem", func(t *testing.T) {
		p := problemOf(t, e.do(request{method: "GET", path: webPath + "/logs?limit=0"}), http.StatusBadRequest)
		require.Contains(t, p.Detail, `limit "0" is not a number`)
	})
	t.Run("viewer of another tenant sees nothing", func(t *testing.T) {
		e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants", body: `{"name":"other"}`})
		e.member("mallory", "other", "admin")
		tok := e.token("mallory")
		before := len(fc.requested())
		problemOf(t, e.do(request{method: "GET", path: "/v1/tenants/acme/operations/" + opID + "/logs", token: tok}), http.StatusNotFound)
		problemOf(t, e.do(request{method: "GET", path: webPath + "/logs/tail", token: tok}), http.StatusNotFound)
		require.Len(t, fc.requested(), before, "the collector was asked on behalf of a non-member")
	})
	t.Run("tail relays messages and the close reason", func(t *testing.T) {
		srv := httptest.NewServer(e.h)
		t.Cleanup(srv.Close)
		c, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/v1/tenants/acme/operations/"+opID+"/logs/tail?backfill=5",
			&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + adminToken}}})
		require.NoError(t, err)
		defer c.CloseNow()
		for _, want := range []string{`{"message":"one"}`, `{"dropped":3}`} {
			_, msg, err := c.Read(t.Context())
			require.NoError(t, err)
			require.Equal(t, want, string(msg))
		}
		_, _, err = c.Read(t.Context())
		var ce websocket.CloseError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, websocket.StatusNormalClosure, ce.Code)
		require.Equal(t, "stream over", ce.Reason)
		require.Contains(t, fc.requested(), "/v1/streams/event/acme/shop/"+opID+"/tail?backfill=5")
	})
	t.Run("tail without a token is refused before any upgrade", func(t *testing.T) {
		problemOf(t, e.do(request{method: "GET", path: webPath + "/logs/tail", token: "-"}), http.StatusUnauthorized)
	})
}

func TestLogsWithoutCollector(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	p := problemOf(t, e.do(request{method: "GET", path: webPath + "/logs"}), http.StatusServiceUnavailable)
	require.Contains(t, p.Detail, "no collector is configured")
}
