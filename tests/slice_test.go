package tests

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/devstack/images"
)

type operation struct {
	ID         string          `json:"id"`
	State      string          `json:"state"`
	WorkflowID string          `json:"workflowId"`
	RunID      string          `json:"runId"`
	Steps      []contract.Step `json:"steps"`
	Error      string          `json:"error"`
}

type accepted struct {
	OperationID string `json:"operationId"`
	WorkflowID  string `json:"workflowId"`
	State       string `json:"state"` // running, queued, merged or accepted (a replay)
	Position    int    `json:"position"`
}

// pushHTTPD builds a busybox httpd image serving body at /index.html on :8080 and pushes it as repo:tag.
func pushHTTPD(t *testing.T, ctx context.Context, repo, tag, body string) string {
	t.Helper()
	img, err := images.BusyboxImage(map[string][]byte{"www/index.html": []byte(body)},
		images.ExitOnTerm("/bin/httpd", "-f", "-v", "-p", "8080", "-h", "/www"))
	require.NoError(t, err)
	digestRef, err := images.Push(ctx, img, stack.RegistryAddr+"/"+repo+":"+tag)
	require.NoError(t, err)
	return digestRef
}

func webSpec(image string) contract.ComponentSpec {
	grace := int64(2)
	return contract.ComponentSpec{
		Image:            image,
		Replicas:         2,
		Ports:            []contract.Port{{Name: "http", Port: 8080, Protocol: "TCP"}},
		Readiness:        &contract.Probe{HTTPPath: "/index.html", Port: 8080, PeriodSeconds: 1, FailureThreshold: 2},
		StopGraceSeconds: &grace,
	}
}

// waitOperation polls the operation until it is no longer running.
func waitOperation(t *testing.T, api *apiClient, tenant, id string, timeout time.Duration) operation {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var op operation
	for {
		api.must(t, http.StatusOK, "GET", "/v1/tenants/"+tenant+"/operations/"+id, nil, &op)
		if op.State != "running" && op.State != "pending" && op.State != "queued" && op.State != "starting" {
			return op
		}
		require.True(t, time.Now().Before(deadline), "operation %s still %s after %s: %+v", id, op.State, timeout, op.Steps)
		time.Sleep(250 * time.Millisecond)
	}
}

// TestVerticalSlice drives one deploy through every layer: REST API → store → Temporal → worker →
// registry and Kubernetes → real pods on the real node answering HTTP.
func TestVerticalSlice(t *testing.T) {
	require.True(t, stack.RealNode, "the slice needs the real node: %s", stack.RealNodeReason)
	ctx := testContext(t)
	api := newAPIClient(stack.APIURL, stack.APIToken)
	tenant, body := uniqueName("slice"), "hello from "+uniqueName("slice")+"\n"
	digestRef := pushHTTPD(t, ctx, "slice/web", "v1", body)

	api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": tenant}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps", map[string]any{"name": "shop"}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps/shop/components",
		map[string]any{"name": "web", "spec": webSpec(stack.RegistryAddr + "/slice/web:v1")}, nil)

	t0 := time.Now()
	var acc accepted
	r := api.must(t, http.StatusAccepted, "POST", "/v1/tenants/"+tenant+"/apps/shop/components/web/deploys", nil, &acc,
		"Idempotency-Key", "slice-deploy-1")
	require.NotEmpty(t, acc.OperationID)
	require.Equal(t, "/v1/tenants/"+tenant+"/operations/"+acc.OperationID, r.Header.Get("Location"))
	require.Equal(t, contract.OperationWorkflowID(contract.OperationDeploy, contract.ComponentRef{Tenant: tenant, App: "shop", Component: "web"}, acc.OperationID),
		acc.WorkflowID, "the operation runs under its own, readable workflow id")
	require.Equal(t, "running", acc.State, "nothing else runs on the component")

	// the same Idempotency-Key answers the same operation and starts nothing
	var again accepted
	api.must(t, http.StatusAccepted, "POST", "/v1/tenants/"+tenant+"/apps/shop/components/web/deploys", nil, &again,
		"Idempotency-Key", "slice-deploy-1")
	require.Equal(t, acc.OperationID, again.OperationID)
	require.Equal(t, acc.WorkflowID, again.WorkflowID)
	require.Equal(t, "accepted", again.State, "a replay answers the operation; GET it for its state")

	op := waitOperation(t, api, tenant, acc.OperationID, 3*time.Minute)
	t.Logf("deploy finished in %s: %s", time.Since(t0).Round(time.Millisecond), op.State)
	require.Equal(t, "succeeded", op.State, "error: %s, steps: %+v", op.Error, op.Steps)
	wantSteps := []string{"resolve image", "ensure namespace", "read current release", "apply", "wait for rollout", "record release"}
	require.Len(t, op.Steps, len(wantSteps))
	for i, s := range op.Steps {
		require.Equal(t, wantSteps[i], s.Name)
		require.Equal(t, contract.StepSucceeded, s.State, "step %s: %s", s.Name, s.Error)
		require.NotNil(t, s.Started)
		require.NotNil(t, s.Finished)
	}

	// the Deployment runs the image by digest; its pods are real containers on the real node, ready by
	// their probe, answering HTTP on their pod addresses
	kube := kubeClient(t)
	dep, err := kube.AppsV1().Deployments(tenant).Get(ctx, "shop-web", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, digestRef, dep.Spec.Template.Spec.Containers[0].Image)
	require.Equal(t, "shop", dep.Labels["app.kubernetes.io/part-of"])
	require.Equal(t, "rainflow", dep.Labels["app.kubernetes.io/managed-by"])
	require.Equal(t, acc.OperationID, dep.Labels[contract.LabelRelease])
	require.Contains(t, managers(dep.ManagedFields), contract.FieldManager)
	_, err = kube.CoreV1().Services(tenant).Get(ctx, "shop-web", metav1.GetOptions{})
	require.NoError(t, err)

	pods, err := kube.CoreV1().Pods(tenant).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(dep.Spec.Selector.MatchLabels).String()})
	require.NoError(t, err)
	var running []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			running = append(running, p)
		}
	}
	require.Len(t, running, 2)
	httpc := &http.Client{Timeout: 5 * time.Second}
	for _, p := range running {
		require.Equal(t, stack.NodeName, p.Spec.NodeName, "pod %s", p.Name)
		require.True(t, podReady(&p), "pod %s not ready", p.Name)
		require.True(t, strings.HasPrefix(p.Status.PodIP, strings.TrimSuffix(stack.PodCIDR, ".0/24")), "pod IP %s outside %s", p.Status.PodIP, stack.PodCIDR)
		resp, err := httpc.Get(fmt.Sprintf("http://%s:8080/index.html", p.Status.PodIP))
		require.NoError(t, err)
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, body, string(got), "pod %s", p.Name)
	}

	// the release is recorded, by digest
	var releases struct {
		Items []struct {
			ID          string `json:"id"`
			ImageDigest string `json:"imageDigest"`
			OperationID string `json:"operationId"`
		} `json:"items"`
	}
	api.must(t, http.StatusOK, "GET", "/v1/tenants/"+tenant+"/apps/shop/components/web/releases", nil, &releases)
	require.Len(t, releases.Items, 1)
	require.Equal(t, digestRef, releases.Items[0].ImageDigest)
	require.Equal(t, acc.OperationID, releases.Items[0].OperationID)

	// the workflow is found in Temporal (and its Web UI) by the search attributes
	tc, err := client.DialContext(ctx, client.Options{HostPort: stack.TemporalAddr, Namespace: stack.Namespace})
	require.NoError(t, err)
	defer tc.Close()
	query := fmt.Sprintf("%s = '%s' AND %s = 'shop' AND %s = 'web' AND %s = 'deploy'", contract.SearchAttributeTenant, tenant,
		contract.SearchAttributeApp, contract.SearchAttributeComponent, contract.SearchAttributeOperation)
	require.Eventually(t, func() bool {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		return err == nil && len(resp.Executions) == 1 && resp.Executions[0].Execution.WorkflowId == acc.WorkflowID
	}, 15*time.Second, 200*time.Millisecond, "no workflow found by %s", query)

	if path := os.Getenv("RAINFLOW_RECORD_HISTORY"); path != "" {
		recordHistory(t, ctx, tc, acc.WorkflowID, "", path)
	}

	// a second deploy of the same spec is a new operation on the same component, and changes no pod
	var second accepted
	api.must(t, http.StatusAccepted, "POST", "/v1/tenants/"+tenant+"/apps/shop/components/web/deploys", nil, &second)
	require.NotEqual(t, acc.OperationID, second.OperationID)
	op2 := waitOperation(t, api, tenant, second.OperationID, 3*time.Minute)
	require.Equal(t, "succeeded", op2.State, "error: %s", op2.Error)
	after, err := kube.CoreV1().Pods(tenant).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(dep.Spec.Selector.MatchLabels).String()})
	require.NoError(t, err)
	require.ElementsMatch(t, podNames(running), podNames(after.Items), "re-deploying the same spec must not restart pods")
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podNames(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		if p.DeletionTimestamp == nil {
			out = append(out, p.Name)
		}
	}
	return out
}

func managers(fields []metav1.ManagedFieldsEntry) []string {
	var out []string
	for _, f := range fields {
		out = append(out, f.Manager)
	}
	return out
}

// recordHistory writes the run's history as JSON, for the replay tests' testdata.
func recordHistory(t *testing.T, ctx context.Context, tc client.Client, workflowID, runID, path string) {
	t.Helper()
	iter := tc.GetWorkflowHistory(ctx, workflowID, runID, false, 0)
	var events []jsonRaw
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		b, err := protojson.Marshal(ev)
		require.NoError(t, err)
		events = append(events, b)
	}
	out := []byte(`{"events":[`)
	for i, e := range events {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, e...)
	}
	out = append(out, "]}\n"...)
	require.NoError(t, os.WriteFile(path, out, 0o644))
	t.Logf("recorded history of %s/%s to %s", workflowID, runID, path)
}

type jsonRaw = []byte
