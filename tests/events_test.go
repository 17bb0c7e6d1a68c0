package tests

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// eventLine is what the logs routes answer of an event line.
type eventLine struct {
	Message   string `json:"message"`
	Level     string `json:"level"`
	Operation string `json:"operation"`
	Workflow  string `json:"workflow"`
	Run       string `json:"run"`
	Activity  string `json:"activity"`
	Attempt   int    `json:"attempt"`
	Step      string `json:"step"`
}

// TestOperationEvents follows a deploy's event log through the API while the deploy runs (a websocket
// tail opened right after the 202), and reads the same events back once it is over: each step's start
// and end, the rollout's progress, every line naming its operation, workflow run, activity and attempt.
// A user of another tenant can follow none of it.
func TestOperationEvents(t *testing.T) {
	ctx := testContext(t)
	api := newAPIClient(stack.APIURL, stack.APIToken)
	tenant := uniqueName("events")
	pushHTTPD(t, ctx, "events/web", "v1", "events\n")
	api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": tenant}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps", map[string]any{"name": "shop"}, nil)
	comps := "/v1/tenants/" + tenant + "/apps/shop/components"
	api.must(t, http.StatusCreated, "POST", comps, map[string]any{"name": "web", "spec": webSpec(stack.RegistryAddr + "/events/web:v1")}, nil)

	var acc accepted
	api.must(t, http.StatusAccepted, "POST", comps+"/web/deploys", nil, &acc)
	logs := "/v1/tenants/" + tenant + "/operations/" + acc.OperationID + "/logs"

	// the tail, opened while the deploy runs, delivers its events up to the last step's end
	wsURL := "ws" + strings.TrimPrefix(stack.APIURL, "http") + logs + "/tail?backfill=1000"
	c, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + stack.APIToken}}})
	require.NoError(t, err)
	defer c.CloseNow()
	var live []eventLine
	tailCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		_, msg, err := c.Read(tailCtx)
		require.NoError(t, err, "the tail ended before the deploy's last event; got %d events: %q", len(live), messages(live))
		var m struct {
			Lines   []eventLine `json:"lines"`
			Dropped int         `json:"dropped"`
		}
		require.NoError(t, json.Unmarshal(msg, &m), "tail message %s", msg)
		require.Zero(t, m.Dropped, "a reader that keeps up loses nothing")
		live = append(live, m.Lines...)
		if containsPrefix(m.Lines, "record release: done") {
			break
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
	// the rollout is waited for briefly right after the apply (await rollout) and, when it is not done
	// by then, in WaitRollout (wait rollout): its progress is in the events of whichever finished it
	waited := "await rollout"
	if containsPrefix(live, "wait rollout: started") {
		waited = "wait rollout"
	}
	requireEventOrder(t, live, "resolve image: started", "resolve image: done", "apply: started", "await rollout: started",
		waited+": done", "record release: started", "record release: done")
	require.True(t, containsPrefix(live, waited+": 2/2 updated"), "the rollout's progress is in the events: %v", messages(live))
	for _, l := range live {
		require.Equal(t, acc.OperationID, l.Operation, "%+v", l)
		require.Equal(t, acc.WorkflowID, l.Workflow, "%+v", l)
		require.NotEmpty(t, l.Run, "%+v", l)
		require.NotEmpty(t, l.Activity, "%+v", l)
		require.GreaterOrEqual(t, l.Attempt, 1, "%+v", l)
	}

	op := waitOperation(t, api, tenant, acc.OperationID, 2*time.Minute)
	require.Equal(t, "succeeded", op.State)

	// read back afterwards: the same events, in the same order
	var page struct {
		Lines []eventLine `json:"lines"`
		More  bool        `json:"more"`
	}
	api.must(t, http.StatusOK, "GET", logs+"?limit=1000", nil, &page)
	require.Equal(t, messages(live), messages(page.Lines)[:len(live)])
	api.must(t, http.StatusOK, "GET", logs+"?q=record+release:+done", nil, &page)
	require.Len(t, page.Lines, 1, "the text filter finds one line: %v", messages(page.Lines))

	// another tenant's admin can neither read nor follow it
	other := uniqueName("evother")
	api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": other}, nil)
	user := uniqueName("eve")
	api.must(t, http.StatusCreated, "POST", "/v1/users", map[string]any{"name": user}, nil)
	api.must(t, http.StatusCreated, "PUT", "/v1/tenants/"+other+"/members/"+user, map[string]any{"role": "admin"}, nil)
	var tok struct {
		Token string `json:"token"`
	}
	api.must(t, http.StatusCreated, "POST", "/v1/users/"+user+"/tokens", map[string]any{"name": "t"}, &tok)
	eve := newAPIClient(stack.APIURL, tok.Token)
	problemOf(t, eve.do(t, "GET", logs, nil), http.StatusNotFound)
	_, res, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + tok.Token}}})
	require.Error(t, err)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

// requireEventOrder requires events starting with each of the prefixes, in this order.
func requireEventOrder(t *testing.T, lines []eventLine, prefixes ...string) {
	t.Helper()
	i := 0
	for _, l := range lines {
		if i < len(prefixes) && strings.HasPrefix(l.Message, prefixes[i]) {
			i++
		}
	}
	require.Equal(t, len(prefixes), i, "events %q missing or out of order in %q", prefixes[min(i, len(prefixes)-1)], messages(lines))
}

func containsPrefix(lines []eventLine, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l.Message, prefix) {
			return true
		}
	}
	return false
}

func messages(lines []eventLine) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Message
	}
	return out
}
