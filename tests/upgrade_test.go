package tests

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/rainflow/rainflow/contract"
)

type componentView struct {
	Spec contract.ComponentSpec `json:"spec"`
}

// putSpec replaces a component's spec with If-Match, as a user does.
func putSpec(t *testing.T, api *apiClient, path string, spec contract.ComponentSpec) {
	t.Helper()
	r := api.must(t, http.StatusOK, "GET", path, nil, nil)
	api.must(t, http.StatusOK, "PUT", path, map[string]any{"spec": spec}, nil, "If-Match", r.Header.Get("ETag"))
}

// requireServing checks that the Deployment runs image with env V=v on every ready pod, and that each
// pod answers body.
func requireServing(t *testing.T, kube kubernetes.Interface, ns, image, v, body string) {
	t.Helper()
	ctx := testContext(t)
	var dep *appsv1.Deployment
	require.Eventually(t, func() bool {
		var err error
		dep, err = kube.AppsV1().Deployments(ns).Get(ctx, "shop-web", metav1.GetOptions{})
		require.NoError(t, err)
		st := dep.Status
		return st.ObservedGeneration >= dep.Generation && st.UpdatedReplicas == *dep.Spec.Replicas &&
			st.AvailableReplicas == *dep.Spec.Replicas && st.Replicas == *dep.Spec.Replicas
	}, time.Minute, 200*time.Millisecond, "rollout of %s/shop-web does not settle", ns)
	c := dep.Spec.Template.Spec.Containers[0]
	require.Equal(t, image, c.Image)
	require.Len(t, c.Env, 1)
	require.Equal(t, contract.EnvVar{Name: "V", Value: v}, contract.EnvVar{Name: c.Env[0].Name, Value: c.Env[0].Value})
	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(dep.Spec.Selector.MatchLabels).String()})
	require.NoError(t, err)
	httpc := &http.Client{Timeout: 5 * time.Second}
	served := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || !podReady(&p) {
			continue
		}
		resp, err := httpc.Get(fmt.Sprintf("http://%s:8080/index.html", p.Status.PodIP))
		require.NoError(t, err)
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, body, string(got), "pod %s", p.Name)
		served++
	}
	require.Equal(t, int(*dep.Spec.Replicas), served)
}

// TestUpgradeRollsBackAndRollback: an upgrade whose pods never become ready goes back by itself to the
// release that ran before, env included; a good upgrade then runs, and a rollback to the first release
// restores its image, env and ports, not only its image.
func TestUpgradeRollsBackAndRollback(t *testing.T) {
	require.True(t, stack.RealNode, "needs the real node: %s", stack.RealNodeReason)
	ctx := testContext(t)
	api := newAPIClient(stack.APIURL, stack.APIToken)
	kube := kubeClient(t)
	tenant := uniqueName("upgrade")
	v1 := pushHTTPD(t, ctx, "upgrade/web", "v1", "v1\n")
	v2 := pushHTTPD(t, ctx, "upgrade/web", "v2", "v2\n")
	comp := "/v1/tenants/" + tenant + "/apps/shop/components/web"

	spec1 := webSpec(stack.RegistryAddr + "/upgrade/web:v1")
	spec1.Env = []contract.EnvVar{{Name: "V", Value: "1"}}
	api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": tenant}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps", map[string]any{"name": "shop"}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps/shop/components", map[string]any{"name": "web", "spec": spec1}, nil)
	var first accepted
	api.must(t, http.StatusAccepted, "POST", comp+"/deploys", nil, &first)
	require.Equal(t, "succeeded", waitOperation(t, api, tenant, first.OperationID, 2*time.Minute).State)
	requireServing(t, kube, tenant, v1, "1", "v1\n")

	// an upgrade whose readiness probe never passes: it fails at its deadline and goes back to v1
	bad := webSpec(stack.RegistryAddr + "/upgrade/web:v2")
	bad.Env = []contract.EnvVar{{Name: "V", Value: "2"}}
	bad.Readiness.HTTPPath = "/never-ready"
	putSpec(t, api, comp, bad)
	var failed accepted
	api.must(t, http.StatusAccepted, "POST", comp+"/deploys", map[string]any{"rolloutTimeoutSeconds": 10}, &failed)
	op := waitOperation(t, api, tenant, failed.OperationID, 2*time.Minute)
	require.Equal(t, "failed", op.State)
	require.Contains(t, op.Error, "went back to release "+first.OperationID)
	requireServing(t, kube, tenant, v1, "1", "v1\n")

	// an upgrade to an image tag the registry does not have is refused before anything changes (and one
	// whose image vanishes after the request fails at "resolve image": TestImageVanishesBeforeDeploy)
	missing := webSpec(stack.RegistryAddr + "/upgrade/web:v404")
	putSpec(t, api, comp, missing)
	p := problemOf(t, api.do(t, "POST", comp+"/deploys", nil), http.StatusUnprocessableEntity)
	require.Contains(t, p.Detail, "not found in registry")
	requireServing(t, kube, tenant, v1, "1", "v1\n")

	// a good upgrade to v2 with another env and one more port
	good := webSpec(stack.RegistryAddr + "/upgrade/web:v2")
	good.Env = []contract.EnvVar{{Name: "V", Value: "2"}}
	good.Ports = append(good.Ports, contract.Port{Name: "extra", Port: 9090, Protocol: "TCP"})
	putSpec(t, api, comp, good)
	var second accepted
	api.must(t, http.StatusAccepted, "POST", comp+"/deploys", nil, &second)
	require.Equal(t, "succeeded", waitOperation(t, api, tenant, second.OperationID, 2*time.Minute).State)
	requireServing(t, kube, tenant, v2, "2", "v2\n")

	// rollback to the first release: image, env and ports as they were
	var rb accepted
	api.must(t, http.StatusAccepted, "POST", comp+"/rollbacks", map[string]any{"releaseId": first.OperationID}, &rb)
	op = waitOperation(t, api, tenant, rb.OperationID, 2*time.Minute)
	require.Equal(t, "succeeded", op.State, "error: %s", op.Error)
	requireServing(t, kube, tenant, v1, "1", "v1\n")
	svc, err := kube.CoreV1().Services(tenant).Get(ctx, "shop-web", metav1.GetOptions{})
	require.NoError(t, err)
	require.Len(t, svc.Spec.Ports, 1, "the rollback restores the ports of release %s", first.OperationID)
	var c componentView
	api.must(t, http.StatusOK, "GET", comp, nil, &c)
	require.Equal(t, []contract.EnvVar{{Name: "V", Value: "1"}}, c.Spec.Env, "the component's spec is the release's again")

	// a release of another component is not a rollback target
	p = problemOf(t, api.do(t, "POST", comp+"/rollbacks", map[string]any{"releaseId": "no-such-release"}), http.StatusNotFound)
	require.Contains(t, p.Detail, "no-such-release")
}
