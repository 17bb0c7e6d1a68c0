package tests

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/devstack/images"
)

// deletedOperation is a finished delete as GET .../operations/{id} answers it.
type deletedOperation struct {
	State     string                `json:"state"`
	Kind      string                `json:"kind"`
	App       string                `json:"app"`
	Error     string                `json:"error"`
	Steps     []contract.Step       `json:"steps"`
	Result    contract.DeleteResult `json:"result"`
	StartedAt *time.Time            `json:"startedAt"`
	ClosedAt  *time.Time            `json:"closedAt"`
}

// TestDeleteComponent deploys a component of two replicas through the REST API against the real stack,
// then deletes it: the delete is an operation like the others; once it succeeded nothing labelled with
// the component remains in its namespace, the component answers 404, and its operations stay readable.
// With RAINFLOW_RECORD_HISTORY_DIR=<dir> it writes the delete's history to <dir>/delete.json, for the
// replay tests.
func TestDeleteComponent(t *testing.T) {
	require.True(t, stack.RealNode, "needs the real node: %s", stack.RealNodeReason)
	ctx := testContext(t)
	api := newAPIClient(stack.APIURL, stack.APIToken)
	kube := kubeClient(t)
	tenant := uniqueName("delete")
	pushHTTPD(t, ctx, "delete/web", "v1", "delete me\n")
	api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": tenant}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps", map[string]any{"name": "shop"}, nil)
	comps := "/v1/tenants/" + tenant + "/apps/shop/components"
	spec := webSpec(stack.RegistryAddr + "/delete/web:v1")
	spec.Env = []contract.EnvVar{{Name: "GREETING", Value: "hello"}}
	spec.ConfigFiles = []contract.ConfigFile{{Path: "/etc/web/web.conf", Content: "a=1\n"}}
	api.must(t, http.StatusCreated, "POST", comps, map[string]any{"name": "web", "spec": spec}, nil)
	// a second component of the app, which the delete must leave alone
	api.must(t, http.StatusCreated, "POST", comps, map[string]any{"name": "api", "spec": webSpec(stack.RegistryAddr + "/delete/web:v1")}, nil)
	web := comps + "/web"
	renderDeploy(t, api, tenant, web)
	renderDeploy(t, api, tenant, comps+"/api")
	renderPodsOf(t, ctx, kube, tenant, "web", 2)
	before := labelledObjects(t, ctx, tenant, "shop", "web")
	t.Logf("before the delete: %v", before)
	for _, kind := range []string{"Deployment/", "ReplicaSet/", "Pod/", "Service/", "ConfigMap/"} {
		require.True(t, slices.ContainsFunc(before, func(o string) bool { return strings.HasPrefix(o, kind) }),
			"the deployed component has no %s object to delete: %v", kind, before)
	}
	var deploys struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	api.must(t, http.StatusOK, "GET", web+"/operations", nil, &deploys)
	require.Len(t, deploys.Items, 1)

	var acc accepted
	t0 := time.Now()
	api.must(t, http.StatusAccepted, "DELETE", web, nil, &acc)
	require.Equal(t, "running", acc.State)
	require.True(t, strings.HasPrefix(acc.WorkflowID, "delete/"+tenant+"/shop/web/"), acc.WorkflowID)
	// the record stays until the delete's last step: GET still shows the component meanwhile
	api.must(t, http.StatusOK, "GET", web, nil, nil)

	op := waitOperation(t, api, tenant, acc.OperationID, 3*time.Minute)
	seen := time.Since(t0)
	// what remains right as the operation ended, before anything had time to collect it
	left := labelledObjects(t, ctx, tenant, "shop", "web")
	require.Equal(t, "succeeded", op.State, "error: %s, steps: %+v", op.Error, op.Steps)
	requireSteps(t, op, "delete objects", "forget component")
	var del deletedOperation
	api.must(t, http.StatusOK, "GET", "/v1/tenants/"+tenant+"/operations/"+acc.OperationID, nil, &del)
	t.Logf("delete: %s in %s until seen through the API (workflow %s); %s; %s", del.State, seen.Round(time.Millisecond),
		del.ClosedAt.Sub(*del.StartedAt).Round(time.Millisecond), del.Steps[0].Detail, del.Steps[1].Detail)
	require.Equal(t, "delete", del.Kind)
	require.Subset(t, del.Result.Deleted, []string{"Deployment/shop-web", "Service/shop-web", "ConfigMap/shop-web-config"})
	require.Empty(t, del.Result.KeptVolumes)
	require.True(t, del.Result.Forgotten)

	require.Empty(t, left, "objects labelled with the component remain right after its delete succeeded")
	requireNoneLabelled(t, ctx, kube, tenant, "shop", "web", false)
	p := problemOf(t, api.do(t, "GET", web, nil), http.StatusNotFound)
	require.Contains(t, p.Detail, `component "web" not found`)
	problemOf(t, api.do(t, "GET", web+"/operations", nil), http.StatusNotFound)
	for _, id := range []string{acc.OperationID, deploys.Items[0].ID} {
		var gone deletedOperation
		api.must(t, http.StatusOK, "GET", "/v1/tenants/"+tenant+"/operations/"+id, nil, &gone)
		require.Equal(t, "succeeded", gone.State, "operation %s of the deleted component", id)
		require.Equal(t, "shop", gone.App)
	}

	// the other component of the app still runs, untouched
	renderPodsOf(t, ctx, kube, tenant, "api", 2)
	_, err := kube.AppsV1().Deployments(tenant).Get(ctx, "shop-api", metav1.GetOptions{})
	require.NoError(t, err)

	if dir := os.Getenv("RAINFLOW_RECORD_HISTORY_DIR"); dir != "" {
		tc, err := client.DialContext(ctx, client.Options{HostPort: stack.TemporalAddr, Namespace: stack.Namespace})
		require.NoError(t, err)
		defer tc.Close()
		recordHistory(t, ctx, tc, acc.WorkflowID, "", filepath.Join(dir, "delete.json"))
	}
}

// TestDeleteStatefulVolumes deletes a stateful component with a volume twice through the REST API: a
// delete without ?volumes=delete keeps its claim, bound, and a component of the same name deployed
// again mounts it with the data it wrote before; a delete with ?volumes=delete removes the claim too.
//
// The local stack has no storage provisioner: the test makes the PersistentVolume, as
// TestRenderStatefulComponent does.
func TestDeleteStatefulVolumes(t *testing.T) {
	require.True(t, stack.RealNode, "needs the real node: %s", stack.RealNodeReason)
	ctx := testContext(t)
	api := newAPIClient(stack.APIURL, stack.APIToken)
	kube := kubeClient(t)
	tenant := uniqueName("delvol")
	img, err := images.BusyboxImage(map[string][]byte{"www/index.html": []byte("ok\n")}, []string{"/bin/sh", "-c", renderScript})
	require.NoError(t, err)
	_, err = images.Push(ctx, img, stack.RegistryAddr+"/delete/db:v1")
	require.NoError(t, err)
	class := renderVolumes(t, ctx, kube, tenant, 1)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": tenant}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps", map[string]any{"name": "shop"}, nil)
	comps := "/v1/tenants/" + tenant + "/apps/shop/components"
	db := comps + "/db"
	grace := int64(2)
	spec := contract.ComponentSpec{
		Image: stack.RegistryAddr + "/delete/db:v1", Replicas: 1, Stateful: true,
		Ports:            []contract.Port{{Name: "http", Port: 8080, Protocol: "TCP"}},
		Readiness:        &contract.Probe{HTTPPath: "/index.html", Port: 8080, PeriodSeconds: 1, FailureThreshold: 2},
		Volumes:          []contract.Volume{{Name: "data", Path: "/www/data", Size: "1Gi", StorageClass: class}},
		StopGraceSeconds: &grace,
	}
	deployDB := func() corev1.Pod {
		t.Helper()
		api.must(t, http.StatusCreated, "POST", comps, map[string]any{"name": "db", "spec": spec}, nil)
		renderDeploy(t, api, tenant, db)
		return renderPods(t, ctx, kube, tenant, 1)[0]
	}
	deleteDB := func(query string) deletedOperation {
		t.Helper()
		var acc accepted
		t0 := time.Now()
		api.must(t, http.StatusAccepted, "DELETE", db+query, nil, &acc)
		op := waitOperation(t, api, tenant, acc.OperationID, 3*time.Minute)
		require.Equal(t, "succeeded", op.State, "error: %s, steps: %+v", op.Error, op.Steps)
		var del deletedOperation
		api.must(t, http.StatusOK, "GET", "/v1/tenants/"+tenant+"/operations/"+acc.OperationID, nil, &del)
		t.Logf("delete%s: %s in %s until seen through the API (workflow %s); %s", query, del.State, time.Since(t0).Round(time.Millisecond),
			del.ClosedAt.Sub(*del.StartedAt).Round(time.Millisecond), del.Steps[0].Detail)
		problemOf(t, api.do(t, "GET", db, nil), http.StatusNotFound)
		return del
	}

	// deploy, then delete keeping the volume: the claim stays, bound, with its data
	pod := deployDB()
	require.Equal(t, "shop-db-0\n", renderGet(t, pod, "/data/starts.txt"))
	kept := deleteDB("")
	require.Equal(t, []string{"data-shop-db-0"}, kept.Result.KeptVolumes)
	require.NotContains(t, kept.Result.Deleted, "PersistentVolumeClaim/data-shop-db-0")
	require.Subset(t, kept.Result.Deleted, []string{"StatefulSet/shop-db", "Service/shop-db", "Service/shop-db-headless"})
	requireNoneLabelled(t, ctx, kube, tenant, "shop", "db", true)
	pvc, err := kube.CoreV1().PersistentVolumeClaims(tenant).Get(ctx, "data-shop-db-0", metav1.GetOptions{})
	require.NoError(t, err, "the delete without volumes=delete removed the claim")
	require.Equal(t, corev1.ClaimBound, pvc.Status.Phase)
	require.Nil(t, pvc.DeletionTimestamp)
	require.Equal(t, []string{"PersistentVolumeClaim/data-shop-db-0"}, labelledObjects(t, ctx, tenant, "shop", "db"),
		"only the claim may remain")

	// the same component created and deployed again mounts the kept claim, data and all
	pod = deployDB()
	require.Equal(t, "shop-db-0\nshop-db-0\n", renderGet(t, pod, "/data/starts.txt"), "the kept volume lost its data")

	// delete with volumes=delete: the claim goes too, nothing remains
	gone := deleteDB("?volumes=delete")
	require.Contains(t, gone.Result.Deleted, "PersistentVolumeClaim/data-shop-db-0")
	require.Empty(t, gone.Result.KeptVolumes)
	requireNoneLabelled(t, ctx, kube, tenant, "shop", "db", false)
	require.Empty(t, labelledObjects(t, ctx, tenant, "shop", "db"))
	_, err = kube.CoreV1().PersistentVolumeClaims(tenant).Get(ctx, "data-shop-db-0", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "the claim remains after a delete with volumes=delete (err %v)", err)
}

// requireNoneLabelled checks, kind by kind, that nothing labelled with the component remains in the
// namespace; its claims may remain when keptVolumes.
func requireNoneLabelled(t *testing.T, ctx context.Context, kube kubernetes.Interface, ns, app, component string, keptVolumes bool) {
	t.Helper()
	opts := metav1.ListOptions{LabelSelector: componentSelector(app, component)}
	count := func(n int, err error) int { require.NoError(t, err); return n }
	lists := map[string]func() int{
		"Deployments": func() int { l, err := kube.AppsV1().Deployments(ns).List(ctx, opts); return count(len(l.Items), err) },
		"ReplicaSets": func() int { l, err := kube.AppsV1().ReplicaSets(ns).List(ctx, opts); return count(len(l.Items), err) },
		"StatefulSets": func() int {
			l, err := kube.AppsV1().StatefulSets(ns).List(ctx, opts)
			return count(len(l.Items), err)
		},
		"ControllerRevisions": func() int {
			l, err := kube.AppsV1().ControllerRevisions(ns).List(ctx, opts)
			return count(len(l.Items), err)
		},
		"Pods":       func() int { l, err := kube.CoreV1().Pods(ns).List(ctx, opts); return count(len(l.Items), err) },
		"Services":   func() int { l, err := kube.CoreV1().Services(ns).List(ctx, opts); return count(len(l.Items), err) },
		"ConfigMaps": func() int { l, err := kube.CoreV1().ConfigMaps(ns).List(ctx, opts); return count(len(l.Items), err) },
		"Secrets":    func() int { l, err := kube.CoreV1().Secrets(ns).List(ctx, opts); return count(len(l.Items), err) },
		"HorizontalPodAutoscalers": func() int {
			l, err := kube.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, opts)
			return count(len(l.Items), err)
		},
		"EndpointSlices": func() int {
			l, err := kube.DiscoveryV1().EndpointSlices(ns).List(ctx, opts)
			return count(len(l.Items), err)
		},
	}
	if !keptVolumes {
		lists["PersistentVolumeClaims"] = func() int {
			l, err := kube.CoreV1().PersistentVolumeClaims(ns).List(ctx, opts)
			return count(len(l.Items), err)
		}
	}
	for kind, list := range lists {
		require.Zero(t, list(), "%s labelled with component %s/%s remain in namespace %s", kind, app, component, ns)
	}
}

// labelledObjects answers every object labelled with the component in the namespace, as Kind/name, of
// every namespaced kind the API server lists (the component's own and what controllers made for it).
func labelledObjects(t *testing.T, ctx context.Context, ns, app, component string) []string {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", stack.Kubeconfig)
	require.NoError(t, err)
	cfg.WarningHandler = rest.NoWarnings{} // v1 Endpoints is deprecated, and still listed on purpose
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	kube, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	groups, err := kube.Discovery().ServerPreferredNamespacedResources()
	if err != nil && len(groups) == 0 {
		require.NoError(t, err, "discover the API server's resources")
	}
	sel := componentSelector(app, component)
	var found []string
	for _, g := range groups {
		gv, err := schema.ParseGroupVersion(g.GroupVersion)
		require.NoError(t, err)
		for _, r := range g.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") || r.Name == "events" {
				continue
			}
			l, err := dyn.Resource(gv.WithResource(r.Name)).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
			if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
				continue
			}
			require.NoError(t, err, "list %s in %s", r.Name, ns)
			for _, o := range l.Items {
				found = append(found, r.Kind+"/"+o.GetName())
			}
		}
	}
	slices.Sort(found)
	return found
}

// componentSelector selects the objects of one component by its app and component labels.
func componentSelector(app, component string) string {
	return labels.SelectorFromSet(map[string]string{contract.LabelApp: app, contract.LabelComponent: component}).String()
}
