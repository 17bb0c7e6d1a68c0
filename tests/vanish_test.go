package tests

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/api"
	"github.com/rainflow/rainflow/store"
	temporalconfig "github.com/rainflow/rainflow/temporal-config"
	"github.com/rainflow/rainflow/workers"
)

// TestImageVanishesBeforeDeploy: the image exists when the deploy is asked for, and is gone when the
// workflow resolves it. The operation fails at once with a clear error, and the step is not retried.
// The API and the worker run in this process on a namespace of their own, so the test can hold the
// worker back until the image is deleted.
func TestImageVanishesBeforeDeploy(t *testing.T) {
	ctx := testContext(t)
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	namespace := "rainflow-vanish-test"

	tc, err := client.DialContext(ctx, client.Options{HostPort: stack.TemporalAddr, Namespace: namespace})
	require.NoError(t, err)
	defer tc.Close()
	require.NoError(t, temporalconfig.Setup(ctx, tc, namespace))

	st, err := store.Open(ctx, store.Config{Driver: store.DriverSQLite, DSN: filepath.Join(t.TempDir(), "rainflow.db")})
	require.NoError(t, err)
	defer st.Close()
	const token = "vanish-test-token-0123456789"
	srv := api.New(api.Config{AdminToken: token, TemporalNamespace: namespace}, st,
		api.NewTemporalWorkflows(tc, logger), api.NewRegistryImageChecker(api.RegistryConfig{}), logger)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	c := newAPIClient(hs.URL, token)

	tenant := uniqueName("vanish")
	image := stack.RegistryAddr + "/vanish/web:" + tenant
	digestRef := pushHTTPD(t, ctx, "vanish/web", tenant, "soon gone\n")
	c.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": tenant}, nil)
	c.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps", map[string]any{"name": "shop"}, nil)
	c.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps/shop/components",
		map[string]any{"name": "web", "spec": webSpec(image)}, nil)

	// a namespace registered a moment ago may take a few seconds to be served
	var acc accepted
	require.Eventually(t, func() bool {
		r := c.do(t, "POST", "/v1/tenants/"+tenant+"/apps/shop/components/web/deploys", nil)
		if r.Status == http.StatusAccepted {
			require.NoError(t, jsonUnmarshal(r.Body, &acc))
			return true
		}
		require.Equal(t, http.StatusServiceUnavailable, r.Status, "body: %s", r.Body)
		return false
	}, 30*time.Second, 500*time.Millisecond)
	require.Equal(t, "pending", acc.State, "no worker runs yet: the operation is queued in Temporal, its place unknown")

	// the image vanishes between the request and the deploy
	ref, err := name.ParseReference(digestRef, name.Insecure)
	require.NoError(t, err)
	require.NoError(t, remote.Delete(ref, remote.WithContext(ctx)))

	w := workers.NewOperations(tc, workers.Activities{
		Kube:     &activities.Kube{Client: kubeClient(t)},
		Registry: &activities.Registry{},
		Store:    &activities.Store{Releases: st},
	}, workers.Options{})
	require.NoError(t, w.Start())
	defer w.Stop()

	op := waitOperation(t, c, tenant, acc.OperationID, time.Minute)
	require.Equal(t, "failed", op.State)
	require.Contains(t, op.Error, "not found in registry")
	require.Contains(t, op.Error, image)
	require.Equal(t, "resolve image", op.Steps[0].Name)
	require.Equal(t, "failed", op.Steps[0].State)
	require.Contains(t, op.Steps[0].Error, "not found in registry")
	for _, s := range op.Steps[1:] {
		require.Equal(t, "pending", s.State, "step %s ran after the image was found missing", s.Name)
	}

	// not retried: the step ran exactly once, and its failure is marked non-retryable (a regular
	// activity's started/failed events, or a local activity's marker, as the deploy-local-steps
	// version runs it)
	iter := tc.GetWorkflowHistory(ctx, acc.WorkflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	started := 0
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		switch ev.EventType {
		case enums.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			started++
			require.EqualValues(t, 1, ev.GetActivityTaskStartedEventAttributes().Attempt)
		case enums.EVENT_TYPE_ACTIVITY_TASK_FAILED:
			requireImageNotFound(t, ev.GetActivityTaskFailedEventAttributes().Failure)
		case enums.EVENT_TYPE_MARKER_RECORDED:
			m := ev.GetMarkerRecordedEventAttributes()
			if m.GetMarkerName() != "LocalActivity" {
				continue
			}
			started++
			var data struct{ Attempt int32 }
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(m.GetDetails()["data"], &data))
			require.EqualValues(t, 1, data.Attempt)
			requireImageNotFound(t, m.GetFailure())
		}
	}
	require.Equal(t, 1, started)

	// nothing was applied
	deps, err := kubeClient(t).AppsV1().Deployments(tenant).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, deps.Items)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// requireImageNotFound checks that failure (or one of its causes) is the non-retryable image-not-found
// application failure.
func requireImageNotFound(t *testing.T, f *failurepb.Failure) {
	t.Helper()
	for ; f != nil; f = f.GetCause() {
		if info := f.GetApplicationFailureInfo(); info != nil {
			require.True(t, info.GetNonRetryable())
			require.Equal(t, activities.ErrTypeImageNotFound, info.GetType())
			return
		}
	}
	t.Fatalf("no application failure in %v", f)
}
