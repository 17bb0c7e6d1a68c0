package tests

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rainflow/rainflow/devstack"
)

// TestKwokOnly runs a second, kwok-only stack beside the first (every port shifted) the way `make run`
// runs where a real node cannot start, and checks that a deploy still completes end to end on the
// control plane: the fake nodes take the pods when there is no real node.
func TestKwokOnly(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	state := filepath.Join(stateDir, "kwok")
	info, stop, err := startDev(devBin, state, "--bin", toolsDir, "--real-node", "off", "--port-offset", "100")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, stop()) })
	require.False(t, info.RealNode)
	require.Contains(t, info.RealNodeReason, "off")
	require.True(t, strings.HasSuffix(info.APIURL, ":7580"), "api at %s", info.APIURL)

	api := newAPIClient(info.APIURL, info.APIToken)
	tenant := uniqueName("kwok")
	image := info.RegistryAddr + "/rainflow/hello:1" // seeded by rainflow dev
	api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": tenant}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps", map[string]any{"name": "shop"}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps/shop/components",
		map[string]any{"name": "web", "spec": webSpec(image)}, nil)
	var acc accepted
	api.must(t, http.StatusAccepted, "POST", "/v1/tenants/"+tenant+"/apps/shop/components/web/deploys", nil, &acc)
	op := waitOperation(t, api, tenant, acc.OperationID, 2*time.Minute)
	require.Equal(t, "succeeded", op.State, "error: %s, steps: %+v", op.Error, op.Steps)

	cfg, err := clientcmd.BuildConfigFromFlags("", info.Kubeconfig)
	require.NoError(t, err)
	kube, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	pods, err := kube.CoreV1().Pods(tenant).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, pods.Items)
	for _, p := range pods.Items {
		require.Equal(t, devstack.FakeNodeName(0), p.Spec.NodeName, "pod %s", p.Name)
	}
}
