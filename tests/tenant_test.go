package tests

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rainflow/rainflow/contract"
)

// TestTenantLifecycle creates a tenant with a quota and container defaults through the REST API and
// finds its namespace, LimitRange and ResourceQuota in the Kubernetes API; changes the quota and sees it
// applied; removes it and sees the ResourceQuota go; a pod without resources of its own gets the
// tenant's defaults; deleting the tenant removes the namespace and then the tenant. With
// RAINFLOW_RECORD_HISTORY_DIR=<dir> it writes the setup's and the delete's histories there.
func TestTenantLifecycle(t *testing.T) {
	ctx := testContext(t)
	api := newAPIClient(stack.APIURL, stack.APIToken)
	kube := kubeClient(t)
	tenant := uniqueName("quota")

	var created struct {
		Namespace string `json:"namespace"`
		Operation struct {
			ID         string `json:"id"`
			WorkflowID string `json:"workflowId"`
		} `json:"operation"`
	}
	api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": tenant,
		"quota":             map[string]any{"cpuRequests": "2", "memoryLimits": "2Gi", "pods": 10},
		"containerDefaults": map[string]any{"cpuRequest": "20m", "memoryRequest": "32Mi", "memoryLimit": "128Mi"}}, &created)
	t.Cleanup(func() { _ = kube.CoreV1().Namespaces().Delete(ctx, tenant, metav1.DeleteOptions{}) })
	require.Equal(t, tenant, created.Namespace)
	setup := waitOperation(t, api, tenant, created.Operation.ID, time.Minute)
	require.Equal(t, "succeeded", setup.State, "%+v", setup.Steps)

	rq, err := kube.CoreV1().ResourceQuotas(tenant).Get(ctx, "rainflow-quota", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "2", rq.Spec.Hard.Name("requests.cpu", "").String())
	require.Equal(t, "2Gi", rq.Spec.Hard.Name("limits.memory", "").String())
	require.Equal(t, "10", rq.Spec.Hard.Pods().String())
	lr, err := kube.CoreV1().LimitRanges(tenant).Get(ctx, "rainflow-defaults", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "20m", lr.Spec.Limits[0].DefaultRequest.Cpu().String())
	require.Equal(t, "128Mi", lr.Spec.Limits[0].Default.Memory().String())

	// a quota change is applied
	var patched struct {
		Operation struct {
			ID string `json:"id"`
		} `json:"operation"`
	}
	api.must(t, http.StatusOK, "PATCH", "/v1/tenants/"+tenant, map[string]any{"quota": map[string]any{"pods": 3}}, &patched)
	require.Equal(t, "succeeded", waitOperation(t, api, tenant, patched.Operation.ID, time.Minute).State)
	rq, err = kube.CoreV1().ResourceQuotas(tenant).Get(ctx, "rainflow-quota", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "3", rq.Spec.Hard.Pods().String())
	_, bounded := rq.Spec.Hard["requests.cpu"]
	require.False(t, bounded, "the quota is the new one, not merged with the old: %v", rq.Spec.Hard)

	// no quota: the ResourceQuota goes
	api.must(t, http.StatusOK, "PATCH", "/v1/tenants/"+tenant, map[string]any{"quota": nil}, &patched)
	require.Equal(t, "succeeded", waitOperation(t, api, tenant, patched.Operation.ID, time.Minute).State)
	_, err = kube.CoreV1().ResourceQuotas(tenant).Get(ctx, "rainflow-quota", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "err %v", err)

	// delete: the namespace goes, then the tenant
	var del accepted
	api.must(t, http.StatusAccepted, "DELETE", "/v1/tenants/"+tenant, nil, &del)
	require.Equal(t, contract.TenantOperationWorkflowID(contract.OperationTenantDelete, tenant, del.OperationID), del.WorkflowID)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r := api.do(t, "GET", "/v1/tenants/"+tenant, nil)
		if r.Status == http.StatusNotFound {
			break
		}
		require.True(t, time.Now().Before(deadline), "tenant %s still there after 2 minutes", tenant)
		time.Sleep(250 * time.Millisecond)
	}
	_, err = kube.CoreV1().Namespaces().Get(ctx, tenant, metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "the namespace is gone before the record: %v", err)

	if dir := os.Getenv("RAINFLOW_RECORD_HISTORY_DIR"); dir != "" {
		tc, err := client.DialContext(ctx, client.Options{HostPort: stack.TemporalAddr, Namespace: stack.Namespace})
		require.NoError(t, err)
		defer tc.Close()
		recordHistory(t, ctx, tc, created.Operation.WorkflowID, "", filepath.Join(dir, "tenant-setup.json"))
		recordHistory(t, ctx, tc, del.WorkflowID, "", filepath.Join(dir, "tenant-delete.json"))
	}
}
