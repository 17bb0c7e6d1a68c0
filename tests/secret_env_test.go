package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/contract"
)

// TestSecretEnv sets a component's secret env through the API, deploys it, and checks what a user and
// an attacker would see: the running containers have the value in their environment; the API never
// answers it; the metadata database holds it only sealed; no event of any of the component's
// workflows (inputs, activity inputs and results, heartbeats, errors) holds it. A change rolls the
// pods to the new value with the next deploy; a rollback to the first release brings the first value
// back. With RAINFLOW_RECORD_HISTORY_DIR=<dir> it writes the deploy's and the rollback's histories to
// <dir>/secret-env-deploy.json and <dir>/secret-env-rollback.json, for the replay tests.
func TestSecretEnv(t *testing.T) {
	require.True(t, stack.RealNode, "needs the real node: %s", stack.RealNodeReason)
	ctx := testContext(t)
	api := newAPIClient(stack.APIURL, stack.APIToken)
	kube := kubeClient(t)
	tenant := uniqueName("secret")
	first, second := "s3cr3t-first-"+tenant, "s3cr3t-second-"+tenant
	pushHTTPD(t, ctx, "secret/web", "v1", "secret\n")
	api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": tenant}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps", map[string]any{"name": "shop"}, nil)
	spec := webSpec(stack.RegistryAddr + "/secret/web:v1")
	spec.Env = []contract.EnvVar{{Name: "PLAIN", Value: "visible"}}
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps/shop/components", map[string]any{"name": "web", "spec": spec}, nil)
	comp := "/v1/tenants/" + tenant + "/apps/shop/components/web"
	tc, err := client.DialContext(ctx, client.Options{HostPort: stack.TemporalAddr, Namespace: stack.Namespace})
	require.NoError(t, err)
	defer tc.Close()
	record := func(name, workflowID string) {
		if dir := os.Getenv("RAINFLOW_RECORD_HISTORY_DIR"); dir != "" {
			recordHistory(t, ctx, tc, workflowID, "", filepath.Join(dir, name))
		}
	}
	// noValue fails if a read of the API holds either value
	noValue := func(method, path string) apiResponse {
		t.Helper()
		r := api.must(t, http.StatusOK, method, path, nil, nil)
		require.NotContains(t, string(r.Body), first, "%s %s answers a secret value", method, path)
		require.NotContains(t, string(r.Body), second, "%s %s answers a secret value", method, path)
		return r
	}

	var set struct {
		Names     []string `json:"names"`
		Version   int64    `json:"version"`
		AppliedBy string   `json:"appliedBy"`
	}
	api.must(t, http.StatusOK, "PUT", comp+"/secret-env", map[string]any{"env": map[string]string{"SECRET_TOKEN": first, "DB_PASSWORD": "pw-" + tenant}}, &set)
	require.Equal(t, []string{"DB_PASSWORD", "SECRET_TOKEN"}, set.Names)
	require.Equal(t, "next deploy", set.AppliedBy)
	noValue("GET", comp+"/secret-env")
	require.Contains(t, string(noValue("GET", comp).Body), `"secretEnv":{"names":["DB_PASSWORD","SECRET_TOKEN"],"version":1}`)

	// deploy: the containers have the value, from the Secret; the Deployment only refers to it
	var deploy accepted
	api.must(t, http.StatusAccepted, "POST", comp+"/deploys", nil, &deploy)
	op := waitOperation(t, api, tenant, deploy.OperationID, 3*time.Minute)
	require.Equal(t, "succeeded", op.State, "error: %s, steps: %+v", op.Error, op.Steps)
	record("secret-env-deploy.json", op.WorkflowID)
	firstPods := requireEnv(t, ctx, kube, tenant, map[string]string{"SECRET_TOKEN": first, "PLAIN": "visible"})
	secret, err := kube.CoreV1().Secrets(tenant).Get(ctx, "shop-web-secret-env", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, first, string(secret.Data["SECRET_TOKEN"]))
	require.Equal(t, "web", secret.Labels[contract.LabelComponent])
	dep, err := kube.AppsV1().Deployments(tenant).Get(ctx, "shop-web", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "1", dep.Spec.Template.Annotations[render.AnnotationSecretEnvVersion])
	depJSON, err := json.Marshal(dep)
	require.NoError(t, err)
	require.NotContains(t, string(depJSON), first, "the Deployment holds the value itself")
	noValue("GET", "/v1/tenants/"+tenant+"/operations/"+deploy.OperationID)

	// a change reaches the pods with the next deploy, which replaces every pod
	api.must(t, http.StatusOK, "PATCH", comp+"/secret-env", map[string]any{"set": map[string]string{"SECRET_TOKEN": second}}, &set)
	require.Equal(t, int64(2), set.Version)
	requireEnv(t, ctx, kube, tenant, map[string]string{"SECRET_TOKEN": first})
	var redeploy accepted
	api.must(t, http.StatusAccepted, "POST", comp+"/deploys", nil, &redeploy)
	op = waitOperation(t, api, tenant, redeploy.OperationID, 3*time.Minute)
	require.Equal(t, "succeeded", op.State, "error: %s, steps: %+v", op.Error, op.Steps)
	secondPods := requireEnv(t, ctx, kube, tenant, map[string]string{"SECRET_TOKEN": second, "PLAIN": "visible"})
	for _, p := range secondPods {
		require.NotContains(t, firstPods, p, "pod %s was not replaced by the new secret env version", p)
	}

	// rollback to the first release: its secret env again, and the latest version has its values
	var rb accepted
	api.must(t, http.StatusAccepted, "POST", comp+"/rollbacks", map[string]any{"releaseId": deploy.OperationID}, &rb)
	op = waitOperation(t, api, tenant, rb.OperationID, 3*time.Minute)
	require.Equal(t, "succeeded", op.State, "error: %s, steps: %+v", op.Error, op.Steps)
	record("secret-env-rollback.json", op.WorkflowID)
	requireEnv(t, ctx, kube, tenant, map[string]string{"SECRET_TOKEN": first})
	api.must(t, http.StatusOK, "GET", comp+"/secret-env", nil, &set)
	require.Equal(t, int64(3), set.Version, "the rollback made the release's values the latest version")
	noValue("GET", comp+"/releases")
	noValue("GET", comp+"/operations")

	// the database holds the values only sealed
	if db, ok := stackDatabase(t); ok {
		require.True(t, bytes.Contains(db, []byte("SECRET_TOKEN")), "the database holds the names (the check reads the right files)")
		require.False(t, bytes.Contains(db, []byte(first)), "the database holds a secret value in plaintext")
		require.False(t, bytes.Contains(db, []byte(second)), "the database holds a secret value in plaintext")
	}

	// no event of the component's workflows holds a value: its queue's, and each operation's
	workflowIDs := []string{contract.ComponentWorkflowID(contract.ComponentRef{Tenant: tenant, App: "shop", Component: "web"})}
	for _, id := range []string{deploy.OperationID, redeploy.OperationID, rb.OperationID} {
		var o operation
		api.must(t, http.StatusOK, "GET", "/v1/tenants/"+tenant+"/operations/"+id, nil, &o)
		workflowIDs = append(workflowIDs, o.WorkflowID)
	}
	events := requireNoEventHolds(t, ctx, tc, workflowIDs, "a secret value", first, second)
	t.Logf("checked %d events of %d workflows: no secret value", events, len(workflowIDs))
	require.Greater(t, events, 20)

	// nor does any log of the stack's processes, the collector's operation events or Temporal's own
	// database (the Secret itself is in etcd, and the running containers' config in containerd's state)
	for _, dir := range []string{"logs", "collector", "temporal"} {
		err := filepath.WalkDir(filepath.Join(stateDir, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, v := range []string{first, second} {
				require.False(t, bytes.Contains(raw, []byte(v)), "%s holds a secret value", path)
			}
			return nil
		})
		require.NoError(t, err)
	}
}

// requireEnv waits until the rollout settled, then checks in every ready pod's container, by exec,
// that each variable has its value; it answers the pods' names.
func requireEnv(t *testing.T, ctx context.Context, kube kubernetes.Interface, ns string, want map[string]string) []string {
	t.Helper()
	var pods []corev1.Pod
	require.Eventually(t, func() bool {
		dep, err := kube.AppsV1().Deployments(ns).Get(ctx, "shop-web", metav1.GetOptions{})
		require.NoError(t, err)
		st := dep.Status
		if st.ObservedGeneration < dep.Generation || st.UpdatedReplicas != *dep.Spec.Replicas || st.AvailableReplicas != *dep.Spec.Replicas ||
			st.Replicas != *dep.Spec.Replicas {
			return false
		}
		list, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(dep.Spec.Selector.MatchLabels).String()})
		require.NoError(t, err)
		pods = pods[:0]
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil && podReady(&p) {
				pods = append(pods, p)
			}
		}
		return len(pods) == int(*dep.Spec.Replicas)
	}, time.Minute, 200*time.Millisecond, "rollout of %s/shop-web does not settle", ns)
	var names []string
	for _, p := range pods {
		for name, value := range want {
			got := execIn(t, ctx, ns, p.Name, p.Spec.Containers[0].Name, "/bin/sh", "-c", fmt.Sprintf(`printf %%s "$%s"`, name))
			require.Equal(t, value, got, "$%s in pod %s", name, p.Name)
		}
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names
}

// execIn runs a command in a container through the Kubernetes API, as kubectl exec does, and answers
// its standard output.
func execIn(t *testing.T, ctx context.Context, ns, pod, container string, cmd ...string) string {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", stack.Kubeconfig)
	require.NoError(t, err)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	exec, err := remotecommand.NewSPDYExecutor(cfg, "POST", req.URL())
	require.NoError(t, err)
	var stdout, stderr bytes.Buffer
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	require.NoError(t, err, "exec %v in %s/%s: %s", cmd, ns, pod, stderr.String())
	return stdout.String()
}
