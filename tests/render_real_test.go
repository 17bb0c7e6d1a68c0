package tests

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/devstack/images"
)

// renderScript is the test image's entrypoint: it writes its environment to /www/env.txt, appends its
// host name to /www/data/starts.txt (on the component's volume when it has one), and serves /www over
// HTTP on :8080, so that a test reads what the container sees without exec.
const renderScript = `trap 'exit 0' TERM INT
env > /www/env.txt
mkdir -p /www/data && echo "$HOSTNAME" >> /www/data/starts.txt
/bin/httpd -f -p 8080 -h /www & wait`

// TestRenderStatefulComponent deploys, through the REST API against the real stack, a stateful
// component with a volume per replica, a config file and a dependency, and checks the objects in
// Kubernetes and what its running containers see: the config file's content, the dependency's
// environment, data on the volume that outlives the pods. A config change rolls the pods; turning the
// component stateless with an autoscaler prunes the StatefulSet, its headless Service and its
// ConfigMap but keeps its volumes. Then, calling the activities directly against the same cluster: a
// dependency's ports reach a container's environment, and a delete leaves nothing behind (volumes
// only when asked).
//
// The local stack has no storage provisioner and no default StorageClass, so a claim would stay
// Pending: the test makes two hostPath PersistentVolumes of a class of its own, as an administrator
// would, and the claims bind to them.
func TestRenderStatefulComponent(t *testing.T) {
	require.True(t, stack.RealNode, "needs the real node: %s", stack.RealNodeReason)
	ctx := testContext(t)
	api := newAPIClient(stack.APIURL, stack.APIToken)
	kube := kubeClient(t)
	tenant := uniqueName("render")
	img, err := images.BusyboxImage(map[string][]byte{"www/index.html": []byte("ok\n")}, []string{"/bin/sh", "-c", renderScript})
	require.NoError(t, err)
	digestRef, err := images.Push(ctx, img, stack.RegistryAddr+"/render/db:v1")
	require.NoError(t, err)
	class := renderVolumes(t, ctx, kube, tenant, 2)

	api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": tenant}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps", map[string]any{"name": "shop"}, nil)
	comps := "/v1/tenants/" + tenant + "/apps/shop/components"
	grace := int64(2)
	cache := contract.ComponentSpec{Image: stack.RegistryAddr + "/render/db:v1", Replicas: 1,
		Ports: []contract.Port{{Name: "http", Port: 8080, Protocol: "TCP"}}}
	api.must(t, http.StatusCreated, "POST", comps, map[string]any{"name": "cache", "spec": cache}, nil)
	spec := contract.ComponentSpec{
		Image: stack.RegistryAddr + "/render/db:v1", Replicas: 2, Stateful: true,
		Ports:            []contract.Port{{Name: "http", Port: 8080, Protocol: "TCP"}},
		Env:              []contract.EnvVar{{Name: "MODE", Value: "test"}},
		Readiness:        &contract.Probe{HTTPPath: "/index.html", Port: 8080, PeriodSeconds: 1, FailureThreshold: 2},
		StartupProbe:     &contract.Probe{Port: 8080, PeriodSeconds: 1, FailureThreshold: 30},
		ConfigFiles:      []contract.ConfigFile{{Path: "/www/conf/app.conf", Content: "greeting=hello\n"}},
		Volumes:          []contract.Volume{{Name: "data", Path: "/www/data", Size: "1Gi", AccessMode: contract.AccessReadWriteOnce, StorageClass: class}},
		DependsOn:        []string{"cache"},
		StopGraceSeconds: &grace,
	}
	api.must(t, http.StatusCreated, "POST", comps, map[string]any{"name": "db", "spec": spec}, nil)
	db := comps + "/db"

	// deploy: a StatefulSet with its headless Service, a ConfigMap, one bound claim per replica
	renderDeploy(t, api, tenant, db)
	sts, err := kube.AppsV1().StatefulSets(tenant).Get(ctx, "shop-db", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "shop-db-headless", sts.Spec.ServiceName)
	require.Equal(t, int32(2), *sts.Spec.Replicas)
	require.Equal(t, digestRef, sts.Spec.Template.Spec.Containers[0].Image)
	require.Equal(t, "shop", sts.Labels["app.kubernetes.io/part-of"])
	require.Equal(t, tenant, sts.Labels[contract.LabelTenant])
	require.NotEmpty(t, sts.Labels[contract.LabelRelease])
	_, err = kube.AppsV1().Deployments(tenant).Get(ctx, "shop-db", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "a stateful component has a Deployment too (err %v)", err)
	headless, err := kube.CoreV1().Services(tenant).Get(ctx, "shop-db-headless", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, corev1.ClusterIPNone, headless.Spec.ClusterIP)
	require.True(t, headless.Spec.PublishNotReadyAddresses)
	_, err = kube.CoreV1().Services(tenant).Get(ctx, "shop-db", metav1.GetOptions{})
	require.NoError(t, err)
	cm, err := kube.CoreV1().ConfigMaps(tenant).Get(ctx, "shop-db-config", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"www_conf_app.conf": "greeting=hello\n"}, cm.Data)
	for _, claim := range []string{"data-shop-db-0", "data-shop-db-1"} {
		require.Eventually(t, func() bool {
			pvc, err := kube.CoreV1().PersistentVolumeClaims(tenant).Get(ctx, claim, metav1.GetOptions{})
			return err == nil && pvc.Status.Phase == corev1.ClaimBound
		}, time.Minute, 250*time.Millisecond, "claim %s not bound", claim)
	}
	_, err = kube.CoreV1().LimitRanges(tenant).Get(ctx, render.LimitRangeName, metav1.GetOptions{})
	require.NoError(t, err, "the tenant's namespace has no LimitRange")

	// what the containers see: the config file, their environment, their volume
	pods := renderPods(t, ctx, kube, tenant, 2)
	firstUIDs := map[string]string{}
	for _, p := range pods {
		firstUIDs[p.Name] = string(p.UID)
		require.Equal(t, "greeting=hello\n", renderGet(t, p, "/conf/app.conf"))
		env := renderGet(t, p, "/env.txt")
		require.Contains(t, env, "MODE=test\n")
		require.Contains(t, env, "CACHE_HOST=shop-cache."+tenant+".svc\n")
		if !strings.Contains(env, "CACHE_PORT=") {
			t.Logf("pod %s: no CACHE_PORT: the deploy did not pass the dependencies' ports (only their hosts, from dependsOn)", p.Name)
		}
		require.Equal(t, p.Name+"\n", renderGet(t, p, "/data/starts.txt"))
		// a container without resources got the namespace's defaults
		require.Equal(t, resource.MustParse(render.DefaultCPURequest), p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU])
		require.Equal(t, resource.MustParse(render.DefaultMemoryLimit), p.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory])
	}
	require.ElementsMatch(t, []string{"shop-db-0", "shop-db-1"}, slices.Collect(maps.Keys(firstUIDs)))

	// a config change rolls the pods; their volumes keep what they wrote
	spec.ConfigFiles[0].Content = "greeting=bonjour\n"
	renderPutSpec(t, api, db, spec)
	renderDeploy(t, api, tenant, db)
	for _, p := range renderPods(t, ctx, kube, tenant, 2) {
		require.NotEqual(t, firstUIDs[p.Name], string(p.UID), "pod %s was not replaced by the config change", p.Name)
		require.Equal(t, "greeting=bonjour\n", renderGet(t, p, "/conf/app.conf"))
		require.Equal(t, p.Name+"\n"+p.Name+"\n", renderGet(t, p, "/data/starts.txt"), "pod %s: the volume lost its data", p.Name)
	}

	// stateless and autoscaled: the StatefulSet, its headless Service and the ConfigMap go, the claims
	// stay, the autoscaler owns the replicas
	spec.Stateful, spec.ConfigFiles, spec.Volumes = false, nil, nil
	spec.Autoscaling = &contract.Autoscaling{MinReplicas: 2, MaxReplicas: 3}
	renderPutSpec(t, api, db, spec)
	renderDeploy(t, api, tenant, db)
	dep, err := kube.AppsV1().Deployments(tenant).Get(ctx, "shop-db", metav1.GetOptions{})
	require.NoError(t, err)
	require.NotContains(t, renderOwned(dep.ManagedFields), `"f:replicas"`, "the deploy owns the replicas of an autoscaled Deployment")
	hpa, err := kube.AutoscalingV2().HorizontalPodAutoscalers(tenant).Get(ctx, "shop-db", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "Deployment", hpa.Spec.ScaleTargetRef.Kind)
	require.Eventually(t, func() bool {
		_, stsErr := kube.AppsV1().StatefulSets(tenant).Get(ctx, "shop-db", metav1.GetOptions{})
		_, svcErr := kube.CoreV1().Services(tenant).Get(ctx, "shop-db-headless", metav1.GetOptions{})
		_, cmErr := kube.CoreV1().ConfigMaps(tenant).Get(ctx, "shop-db-config", metav1.GetOptions{})
		return apierrors.IsNotFound(stsErr) && apierrors.IsNotFound(svcErr) && apierrors.IsNotFound(cmErr)
	}, 30*time.Second, 250*time.Millisecond, "the objects of the stateful release remain")
	for _, claim := range []string{"data-shop-db-0", "data-shop-db-1"} {
		_, err := kube.CoreV1().PersistentVolumeClaims(tenant).Get(ctx, claim, metav1.GetOptions{})
		require.NoError(t, err, "claim %s was deleted with the StatefulSet", claim)
	}
	// the autoscaler brings the Deployment (created at Kubernetes' default of one) to its minimum
	for _, p := range renderPods(t, ctx, kube, tenant, 2) {
		require.Contains(t, renderGet(t, p, "/env.txt"), "CACHE_HOST=shop-cache."+tenant+".svc\n")
	}

	// the activities against the same cluster: a dependency's ports reach the environment
	k := &activities.Kube{Client: kube}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(k)
	webRef := contract.ComponentRef{Tenant: tenant, App: "shop", Component: "web"}
	applied, err := k.Apply(ctx, activities.ApplyInput{Ref: webRef, ReleaseID: "direct-1", Image: digestRef,
		Spec: contract.ComponentSpec{Replicas: 1, Ports: cache.Ports, DependsOn: []string{"db"}, StopGraceSeconds: &grace,
			Readiness: &contract.Probe{HTTPPath: "/index.html", Port: 8080, PeriodSeconds: 1}},
		Dependencies: []contract.Dependency{{Component: "db", Ports: []contract.Port{{Name: "http", Port: 8080, Protocol: "TCP"}}}}})
	require.NoError(t, err)
	_, err = env.ExecuteActivity(k.WaitRollout, activities.WaitRolloutInput{Namespace: tenant, Kind: applied.Kind, Workload: applied.Workload,
		Service: applied.Service, Generation: applied.Generation, Deadline: time.Now().Add(2 * time.Minute)})
	require.NoError(t, err)
	webPods := renderPodsOf(t, ctx, kube, tenant, "web", 1)
	webEnv := renderGet(t, webPods[0], "/env.txt")
	for _, want := range []string{"DB_HOST=shop-db." + tenant + ".svc\n", "DB_PORT=8080\n", "DB_PORT_HTTP=8080\n"} {
		require.Contains(t, webEnv, want)
	}

	// delete: everything of the component goes but its volumes, unless asked
	v, err := env.ExecuteActivity(k.DeleteComponent, activities.DeleteComponentInput{Ref: contract.ComponentRef{Tenant: tenant, App: "shop", Component: "db"}})
	require.NoError(t, err)
	var deleted activities.DeleteComponentResult
	require.NoError(t, v.Get(&deleted))
	t.Logf("deleted %v, kept %v", deleted.Deleted, deleted.KeptVolumes)
	require.Subset(t, deleted.Deleted, []string{"Deployment/shop-db", "Service/shop-db", "HorizontalPodAutoscaler/shop-db"})
	require.Equal(t, []string{"data-shop-db-0", "data-shop-db-1"}, deleted.KeptVolumes)
	renderRequireGone(t, ctx, kube, tenant, "db", false)
	v, err = env.ExecuteActivity(k.DeleteComponent, activities.DeleteComponentInput{Ref: contract.ComponentRef{Tenant: tenant, App: "shop", Component: "db"},
		DeleteVolumes: true})
	require.NoError(t, err)
	require.NoError(t, v.Get(&deleted))
	require.Equal(t, []string{"PersistentVolumeClaim/data-shop-db-0", "PersistentVolumeClaim/data-shop-db-1"}, deleted.Deleted)
	renderRequireGone(t, ctx, kube, tenant, "db", true)
	_, err = env.ExecuteActivity(k.DeleteComponent, activities.DeleteComponentInput{Ref: webRef, DeleteVolumes: true})
	require.NoError(t, err)
	renderRequireGone(t, ctx, kube, tenant, "web", true)
}

// renderVolumes makes n hostPath PersistentVolumes of a StorageClass named after the tenant (no such
// StorageClass exists: claims of that class bind to these volumes and to nothing else), and answers
// the class. The volumes and their folders go when the test ends.
func renderVolumes(t *testing.T, ctx context.Context, kube kubernetes.Interface, tenant string, n int) string {
	t.Helper()
	class := tenant
	dir := filepath.Join(stateDir, "volumes", tenant)
	hostPathType := corev1.HostPathDirectoryOrCreate
	for i := range n {
		_, err := kube.CoreV1().PersistentVolumes().Create(ctx, &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", tenant, i)},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				StorageClassName:              class,
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
					Path: filepath.Join(dir, fmt.Sprint(i)), Type: &hostPathType}},
			},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		for i := range n {
			_ = kube.CoreV1().PersistentVolumes().Delete(context.Background(), fmt.Sprintf("%s-%d", tenant, i), metav1.DeleteOptions{})
		}
		_ = os.RemoveAll(dir)
	})
	return class
}

// renderDeploy deploys the component through the API and waits until the deploy succeeded.
func renderDeploy(t *testing.T, api *apiClient, tenant, path string) {
	t.Helper()
	var acc accepted
	api.must(t, http.StatusAccepted, "POST", path+"/deploys", nil, &acc)
	t0 := time.Now()
	op := waitOperation(t, api, tenant, acc.OperationID, 4*time.Minute)
	t.Logf("deploy %s: %s in %s", path, op.State, time.Since(t0).Round(time.Millisecond))
	require.Equal(t, "succeeded", op.State, "error: %s, steps: %+v", op.Error, op.Steps)
}

// renderPutSpec replaces a component's spec with If-Match, as a user does.
func renderPutSpec(t *testing.T, api *apiClient, path string, spec contract.ComponentSpec) {
	t.Helper()
	r := api.must(t, http.StatusOK, "GET", path, nil, nil)
	api.must(t, http.StatusOK, "PUT", path, map[string]any{"spec": spec}, nil, "If-Match", r.Header.Get("ETag"))
}

// renderPods waits until the component db runs exactly n ready pods, none terminating, and answers them.
func renderPods(t *testing.T, ctx context.Context, kube kubernetes.Interface, ns string, n int) []corev1.Pod {
	t.Helper()
	return renderPodsOf(t, ctx, kube, ns, "db", n)
}

func renderPodsOf(t *testing.T, ctx context.Context, kube kubernetes.Interface, ns, component string, n int) []corev1.Pod {
	t.Helper()
	sel := labels.SelectorFromSet(map[string]string{contract.LabelApp: "shop", contract.LabelComponent: component}).String()
	var live []corev1.Pod
	require.Eventually(t, func() bool {
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
		require.NoError(t, err)
		live = live[:0]
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil {
				return false
			}
			if podReady(&p) {
				live = append(live, p)
			}
		}
		return len(live) == n && len(pods.Items) == n
	}, 90*time.Second, 250*time.Millisecond, "component %s does not run %d ready pods", component, n)
	return live
}

// renderGet answers the body of GET path on the pod's HTTP server.
func renderGet(t *testing.T, p corev1.Pod, path string) string {
	t.Helper()
	httpc := &http.Client{Timeout: 5 * time.Second}
	resp, err := httpc.Get(fmt.Sprintf("http://%s:8080%s", p.Status.PodIP, path))
	require.NoError(t, err, "pod %s", p.Name)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s on pod %s: %s", path, p.Name, b)
	return string(b)
}

// renderOwned is what contract.FieldManager's apply owns, as JSON.
func renderOwned(fields []metav1.ManagedFieldsEntry) string {
	for _, f := range fields {
		if f.Manager == contract.FieldManager && f.Operation == metav1.ManagedFieldsOperationApply && f.FieldsV1 != nil {
			return string(f.FieldsV1.Raw)
		}
	}
	return ""
}

// renderRequireGone checks that nothing of the component remains in Kubernetes: no workload, Service,
// ConfigMap, autoscaler or pod, and no claim unless volumes were kept.
func renderRequireGone(t *testing.T, ctx context.Context, kube kubernetes.Interface, ns, component string, volumesToo bool) {
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: labels.SelectorFromSet(render.ComponentLabels(
		contract.ComponentRef{Tenant: ns, App: "shop", Component: component})).String()}
	deps, err := kube.AppsV1().Deployments(ns).List(ctx, sel)
	require.NoError(t, err)
	require.Empty(t, deps.Items)
	sets, err := kube.AppsV1().StatefulSets(ns).List(ctx, sel)
	require.NoError(t, err)
	require.Empty(t, sets.Items)
	svcs, err := kube.CoreV1().Services(ns).List(ctx, sel)
	require.NoError(t, err)
	require.Empty(t, svcs.Items)
	cms, err := kube.CoreV1().ConfigMaps(ns).List(ctx, sel)
	require.NoError(t, err)
	require.Empty(t, cms.Items)
	hpas, err := kube.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, sel)
	require.NoError(t, err)
	require.Empty(t, hpas.Items)
	pods, err := kube.CoreV1().Pods(ns).List(ctx, sel)
	require.NoError(t, err)
	require.Empty(t, pods.Items)
	if volumesToo {
		pvcs, err := kube.CoreV1().PersistentVolumeClaims(ns).List(ctx, sel)
		require.NoError(t, err)
		require.Empty(t, pvcs.Items)
	}
}
