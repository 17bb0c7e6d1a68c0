package tests

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/rainflow/rainflow/contract"
)

// TestLifecycle drives a deployed component through scale, restart, stop and start, through the REST
// API against the real stack, and checks what a user would see: the Deployment, Service and pods in
// Kubernetes, and the pods answering HTTP on their pod addresses. A restart must never leave the
// component without a ready replica. With RAINFLOW_RECORD_HISTORY_DIR=<dir> it writes each
// operation's history to <dir>/<kind>.json, for the replay tests.
func TestLifecycle(t *testing.T) {
	require.True(t, stack.RealNode, "the lifecycle needs the real node: %s", stack.RealNodeReason)
	ctx := testContext(t)
	api := newAPIClient(stack.APIURL, stack.APIToken)
	kube := kubeClient(t)
	tenant := uniqueName("life")
	body := "hello from " + tenant + "\n"
	digestRef := pushHTTPD(t, ctx, "life/web", "v1", body)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": tenant}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps", map[string]any{"name": "shop"}, nil)
	comps := "/v1/tenants/" + tenant + "/apps/shop/components"
	api.must(t, http.StatusCreated, "POST", comps, map[string]any{"name": "web", "spec": webSpec(stack.RegistryAddr + "/life/web:v1")}, nil)
	web := comps + "/web"
	lc := &lifecycle{t: t, ctx: ctx, api: api, kube: kube, tenant: tenant}
	if dir := os.Getenv("RAINFLOW_RECORD_HISTORY_DIR"); dir != "" {
		tc, err := client.DialContext(ctx, client.Options{HostPort: stack.TemporalAddr, Namespace: stack.Namespace})
		require.NoError(t, err)
		defer tc.Close()
		lc.record = func(kind string, acc accepted) {
			recordHistory(t, ctx, tc, acc.WorkflowID, "", filepath.Join(dir, kind+".json"))
		}
	}

	// a component never deployed has nothing to stop: the operation fails at once, saying why
	api.must(t, http.StatusCreated, "POST", comps, map[string]any{"name": "ghost", "spec": webSpec(stack.RegistryAddr + "/life/web:v1")}, nil)
	ghost := lc.run("stop", comps+"/ghost/stop", nil, "failed")
	require.Contains(t, ghost.Error, "has no workload")
	require.Contains(t, ghost.Error, "deploy it first")

	lc.run("deploy", web+"/deploys", nil, "succeeded")
	lc.requireServing(2, body)

	// scale 2 → 3: the spec keeps the replicas, the Deployment runs 3 ready pods answering HTTP
	scale := lc.run("scale", web+"/scale", map[string]any{"replicas": 3}, "succeeded")
	requireSteps(t, scale, "scale", "wait for rollout")
	var comp componentSpecView
	api.must(t, http.StatusOK, "GET", web, nil, &comp)
	require.Equal(t, int32(3), comp.Spec.Replicas, "the stored spec keeps the scale's replicas")
	before := lc.requireServing(3, body)
	dep, err := kube.AppsV1().Deployments(tenant).Get(ctx, "shop-web", metav1.GetOptions{})
	require.NoError(t, err)
	require.Contains(t, managers(dep.ManagedFields), contract.FieldManagerScale)
	require.Contains(t, managers(dep.ManagedFields), contract.FieldManager)

	// restart: every pod is replaced, and the component always has ready replicas
	watch := watchReady(ctx, kube, tenant)
	var restart accepted
	api.must(t, http.StatusAccepted, "POST", web+"/restart", nil, &restart)
	var queuedStop accepted
	api.must(t, http.StatusAccepted, "POST", web+"/stop", nil, &queuedStop)
	require.Equal(t, "queued", queuedStop.State, "a stop during the restart waits for it")
	require.Equal(t, 1, queuedStop.Position)
	var canceledStop operation
	api.must(t, http.StatusAccepted, "POST", "/v1/tenants/"+tenant+"/operations/"+queuedStop.OperationID+"/cancel", nil, &canceledStop)
	require.Equal(t, "canceled", canceledStop.State, "a waiting operation is canceled by taking it out of the queue")
	op := lc.wait("restart", restart)
	require.Equal(t, "succeeded", op.State, "error: %s, steps: %+v", op.Error, op.Steps)
	requireSteps(t, op, "restart pods", "wait for rollout")
	seen := watch.stop()
	t.Logf("during the restart (%d samples every 100 ms): ready replicas ≥ %d, ready endpoints ≥ %d", seen.samples, seen.minReady, seen.minEndpoints)
	require.Greater(t, seen.samples, 10)
	require.Positive(t, seen.minReady, "the Deployment had no ready replica during the restart")
	require.Positive(t, seen.minEndpoints, "the Service had no ready endpoint during the restart")
	after := lc.requireServing(3, body)
	for _, p := range after {
		require.NotContains(t, before, p, "pod %s was not replaced by the restart", p)
	}
	dep, err = kube.AppsV1().Deployments(tenant).Get(ctx, "shop-web", metav1.GetOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, dep.Spec.Template.Annotations[contract.AnnotationRestartedAt])
	require.Equal(t, digestRef, dep.Spec.Template.Spec.Containers[0].Image)
	require.Contains(t, managers(dep.ManagedFields), contract.FieldManagerRestart)

	// a deploy after the scale and the restart keeps both: same replicas, same pods
	lc.run("deploy", web+"/deploys", nil, "succeeded")
	require.ElementsMatch(t, after, lc.requireServing(3, body), "a deploy of the same spec after a restart must not restart pods")

	// vertical scale: new requests and limits, rolled out as a deploy; the spec keeps them
	vs := lc.run("vertical-scale", web+"/scale", map[string]any{"resources": map[string]any{"cpuRequest": "30m", "memoryLimit": "96Mi"}}, "succeeded")
	for _, st := range vs.Steps {
		require.Equal(t, contract.StepSucceeded, st.State, "vertical scale step %s: %s", st.Name, st.Error)
	}
	for _, name := range lc.requireServing(3, body) {
		pod, err := kube.CoreV1().Pods(tenant).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		res := pod.Spec.Containers[0].Resources
		require.Equal(t, "30m", res.Requests.Cpu().String(), "pod %s", name)
		require.Equal(t, "96Mi", res.Limits.Memory().String(), "pod %s", name)
	}
	api.must(t, http.StatusOK, "GET", web, nil, &comp)
	require.Equal(t, "30m", comp.Spec.Resources.CPURequest)
	require.Equal(t, int32(3), comp.Spec.Replicas)

	// stop: no pod remains; the Deployment, at zero replicas, and the Service stay
	stop := lc.run("stop", web+"/stop", nil, "succeeded")
	requireSteps(t, stop, "scale", "wait for pods to stop")
	pods, err := kube.CoreV1().Pods(tenant).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(dep.Spec.Selector.MatchLabels).String()})
	require.NoError(t, err)
	require.Empty(t, pods.Items, "pods remain after the stop")
	dep, err = kube.AppsV1().Deployments(tenant).Get(ctx, "shop-web", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(0), *dep.Spec.Replicas)
	_, err = kube.CoreV1().Services(tenant).Get(ctx, "shop-web", metav1.GetOptions{})
	require.NoError(t, err, "the stop removed the Service")
	api.must(t, http.StatusOK, "GET", web, nil, &comp)
	require.Equal(t, int32(3), comp.Spec.Replicas, "the stop keeps the spec's replicas for the start")

	// start: back to the spec's 3 replicas, serving again
	start := lc.run("start", web+"/start", nil, "succeeded")
	requireSteps(t, start, "scale", "wait for rollout")
	lc.requireServing(3, body)
}

// lifecycle runs one component's operations and checks its pods.
type lifecycle struct {
	t      *testing.T
	ctx    context.Context
	api    *apiClient
	kube   kubernetes.Interface
	tenant string
	record func(kind string, acc accepted) // nil unless histories are recorded
}

// run requests an operation, waits for it to end in the state, and answers it.
func (lc *lifecycle) run(kind, path string, body any, state string) operation {
	lc.t.Helper()
	var acc accepted
	lc.api.must(lc.t, http.StatusAccepted, "POST", path, body, &acc)
	op := lc.wait(kind, acc)
	require.Equal(lc.t, state, op.State, "%s: error: %s, steps: %+v", kind, op.Error, op.Steps)
	return op
}

// wait waits for the accepted operation to end, logs how long it took, and records its history.
func (lc *lifecycle) wait(kind string, acc accepted) operation {
	lc.t.Helper()
	t0 := time.Now()
	op := waitOperation(lc.t, lc.api, lc.tenant, acc.OperationID, 3*time.Minute)
	lc.t.Logf("%s: %s in %s (until seen through the API)", kind, op.State, time.Since(t0).Round(time.Millisecond))
	if lc.record != nil && op.State == "succeeded" && kind != "deploy" {
		lc.record(kind, acc)
	}
	return op
}

// requireServing checks that the component runs exactly n pods, all ready and answering body over
// HTTP on their pod addresses, and answers their names.
func (lc *lifecycle) requireServing(n int, body string) []string {
	lc.t.Helper()
	sel := labels.SelectorFromSet(map[string]string{contract.LabelApp: "shop", contract.LabelComponent: "web"}).String()
	var live []corev1.Pod
	require.Eventually(lc.t, func() bool {
		pods, err := lc.kube.CoreV1().Pods(lc.tenant).List(lc.ctx, metav1.ListOptions{LabelSelector: sel})
		require.NoError(lc.t, err)
		live = live[:0]
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				live = append(live, p)
			}
		}
		return len(live) == n
	}, 30*time.Second, 100*time.Millisecond, "the component does not run %d pods", n)
	httpc := &http.Client{Timeout: 5 * time.Second}
	var names []string
	for _, p := range live {
		require.True(lc.t, podReady(&p), "pod %s not ready", p.Name)
		require.Equal(lc.t, stack.NodeName, p.Spec.NodeName, "pod %s", p.Name)
		resp, err := httpc.Get(fmt.Sprintf("http://%s:8080/index.html", p.Status.PodIP))
		require.NoError(lc.t, err, "pod %s", p.Name)
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(lc.t, http.StatusOK, resp.StatusCode, "pod %s", p.Name)
		require.Equal(lc.t, body, string(got), "pod %s", p.Name)
		names = append(names, p.Name)
	}
	return names
}

type componentSpecView struct {
	Spec contract.ComponentSpec `json:"spec"`
}

// requireSteps checks that the operation ran exactly these steps, all succeeded.
func requireSteps(t *testing.T, op operation, names ...string) {
	t.Helper()
	require.Len(t, op.Steps, len(names), "steps %+v", op.Steps)
	for i, s := range op.Steps {
		require.Equal(t, names[i], s.Name)
		require.Equal(t, contract.StepSucceeded, s.State, "step %s: %s", s.Name, s.Error)
	}
}

// readyWatch samples the Deployment's ready replicas and the Service's ready endpoints every 100 ms.
type readyWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	seen   readySeen
}

type readySeen struct {
	samples      int
	minReady     int32
	minEndpoints int32
}

func watchReady(ctx context.Context, kube kubernetes.Interface, ns string) *readyWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &readyWatch{cancel: cancel, done: make(chan struct{}), seen: readySeen{minReady: 1 << 30, minEndpoints: 1 << 30}}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			dep, derr := kube.AppsV1().Deployments(ns).Get(ctx, "shop-web", metav1.GetOptions{})
			slices, serr := kube.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
				LabelSelector: discoveryv1.LabelServiceName + "=shop-web"})
			if derr == nil && serr == nil {
				w.mu.Lock()
				w.seen.samples++
				w.seen.minReady = min(w.seen.minReady, dep.Status.ReadyReplicas)
				w.seen.minEndpoints = min(w.seen.minEndpoints, readyEndpoints(slices.Items))
				w.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *readyWatch) stop() readySeen {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen
}

func readyEndpoints(slices []discoveryv1.EndpointSlice) int32 {
	addrs := map[string]bool{}
	for _, s := range slices {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				addrs[a] = true
			}
		}
	}
	return int32(len(addrs))
}
