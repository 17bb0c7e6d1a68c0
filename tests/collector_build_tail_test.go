package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// TestCollectorBuildTail follows a Dockerfile build's output through the API's websocket tail
// (?kind=build) while BuildKit runs it: the lines its RUN step prints one by one arrive while the
// operation still runs, and the same lines are in the build log once it is over.
func TestCollectorBuildTail(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	api := newAPIClient(stack.APIURL, stack.APIToken)
	tenant, path := buildKitComponent(t, api, "bktail")
	// the RUN step prints a tick a second, then keeps running for a while: its output must reach the
	// tail before the step (and the operation) ends
	dockerfile := fmt.Sprintf(`FROM %s/rainflow/base/busybox:1
RUN for i in 1 2 3 4 5 6; do echo "tick $i of %s"; sleep 1; done; sleep 15; echo "last tick"
EXPOSE 8080
%s
`, stack.RegistryAddr, tenant, busyboxHTTPD)
	acc := uploadBuild(t, path, "?name=ticks.tar.gz", tarGzOf(t, map[string]string{"Dockerfile": dockerfile}))
	opPath := "/v1/tenants/" + tenant + "/operations/" + acc.OperationID

	wsURL := "ws" + strings.TrimPrefix(stack.APIURL, "http") + opPath + "/logs/tail?kind=build&backfill=1000"
	c, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + stack.APIToken}}})
	require.NoError(t, err)
	defer c.CloseNow()
	tailCtx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	start := time.Now()
	var live []string
	var first time.Duration
	for {
		_, msg, err := c.Read(tailCtx)
		require.NoError(t, err, "the tail ended before the RUN step's ticks; got %q", live)
		var m struct {
			Lines   []eventLine `json:"lines"`
			Dropped int         `json:"dropped"`
		}
		require.NoError(t, json.Unmarshal(msg, &m), "tail message %s", msg)
		require.Zero(t, m.Dropped, "a reader that keeps up loses nothing")
		live = append(live, messages(m.Lines)...)
		ticks := 0
		for _, l := range live {
			if strings.Contains(l, "tick ") && strings.Contains(l, " of "+tenant) {
				ticks++
			}
		}
		if ticks > 0 && first == 0 {
			first = time.Since(start)
		}
		if ticks < 3 {
			continue
		}
		// three ticks are in: the RUN step still sleeps, so the operation has not ended
		var op operation
		api.must(t, http.StatusOK, "GET", opPath, nil, &op)
		require.Contains(t, []string{"pending", "queued", "starting", "running"}, op.State,
			"the operation is still running when its RUN step's output arrives: %+v", op)
		t.Logf("first tick %s after the tail opened, three ticks after %s, operation still %s", first.Round(time.Millisecond),
			time.Since(start).Round(time.Millisecond), op.State)
		break
	}
	c.Close(websocket.StatusNormalClosure, "")

	op := waitOperation(t, api, tenant, acc.OperationID, 6*time.Minute)
	require.Equal(t, "succeeded", op.State, "build: %s %+v", op.Error, op.Steps)
	logs := strings.Join(buildLogs(t, api, tenant, acc.OperationID), "\n")
	for i := 1; i <= 6; i++ {
		require.Contains(t, logs, fmt.Sprintf("tick %d of %s", i, tenant), "build output")
	}
	require.Contains(t, logs, "last tick", "build output")
}
