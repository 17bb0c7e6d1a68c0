package activities

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

func TestSetupTenant(t *testing.T) {
	t.Parallel()
	cs := fake.NewClientset()
	k := &Kube{Client: cs}
	ctx := context.Background()
	quota := &contract.TenantQuota{CPURequests: "2", MemoryLimits: "4Gi", Pods: 20}

	out, err := k.SetupTenant(ctx, SetupTenantInput{Tenant: "acme", Settings: contract.TenantSettings{Quota: quota,
		ContainerDefaults: contract.Resources{CPURequest: "50m"}}})
	require.NoError(t, err)
	require.Equal(t, contract.TenantSetupResult{Namespace: "acme", LimitRange: render.LimitRangeName, ResourceQuota: render.ResourceQuotaName}, out)
	rq, err := cs.CoreV1().ResourceQuotas("acme").Get(ctx, render.ResourceQuotaName, metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "2", rq.Spec.Hard.Name("requests.cpu", "").String())
	require.Equal(t, "20", rq.Spec.Hard.Pods().String())
	lr, err := cs.CoreV1().LimitRanges("acme").Get(ctx, render.LimitRangeName, metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "50m", lr.Spec.Limits[0].DefaultRequest.Cpu().String())

	out, err = k.SetupTenant(ctx, SetupTenantInput{Tenant: "acme"})
	require.NoError(t, err)
	require.True(t, out.QuotaRemoved, "a tenant without a quota loses the one applied before")
	_, err = cs.CoreV1().ResourceQuotas("acme").Get(ctx, render.ResourceQuotaName, metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "err %v", err)
	out, err = k.SetupTenant(ctx, SetupTenantInput{Tenant: "acme"})
	require.NoError(t, err)
	require.False(t, out.QuotaRemoved)

	_, err = k.SetupTenant(ctx, SetupTenantInput{Tenant: "acme", Settings: contract.TenantSettings{Quota: &contract.TenantQuota{CPURequests: "lots"}}})
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app) && app.Type() == ErrTypeInvalidSpec && app.NonRetryable(), "err %v", err)
}

func TestDeleteNamespace(t *testing.T) {
	t.Parallel()
	cs := fake.NewClientset()
	k := &Kube{Client: cs}
	_, err := k.SetupTenant(context.Background(), SetupTenantInput{Tenant: "acme"})
	require.NoError(t, err)
	run := func(in DeleteNamespaceInput) (DeleteNamespaceResult, error) {
		var s testsuite.WorkflowTestSuite
		env := s.NewTestActivityEnvironment()
		env.RegisterActivity(k)
		v, err := env.ExecuteActivity(k.DeleteNamespace, in)
		if err != nil {
			return DeleteNamespaceResult{}, err
		}
		var out DeleteNamespaceResult
		require.NoError(t, v.Get(&out))
		return out, nil
	}
	out, err := run(DeleteNamespaceInput{Tenant: "acme"})
	require.NoError(t, err)
	require.Equal(t, DeleteNamespaceResult{Namespace: "acme", Deleted: true}, out)
	out, err = run(DeleteNamespaceInput{Tenant: "acme"})
	require.NoError(t, err)
	require.Equal(t, DeleteNamespaceResult{Namespace: "acme"}, out, "a namespace gone already is success")
	_, err = run(DeleteNamespaceInput{})
	require.ErrorContains(t, err, "no tenant")
}

func TestTenantStoreActivities(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DSN: filepath.Join(t.TempDir(), "a.db")})
	require.NoError(t, err)
	defer st.Close()
	s := &Store{Releases: st}
	settings := contract.TenantSettings{Quota: &contract.TenantQuota{Pods: 3}}
	tenant, err := st.CreateTenant(ctx, store.Tenant{Name: "acme", Settings: settings})
	require.NoError(t, err)

	got, err := s.ReadTenantSettings(ctx, TenantInput{TenantID: tenant.ID})
	require.NoError(t, err)
	require.Equal(t, settings, got)

	_, err = st.CreateApp(ctx, store.App{TenantID: tenant.ID, Name: "shop"})
	require.NoError(t, err)
	_, err = s.ForgetTenant(ctx, TenantInput{TenantID: tenant.ID})
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app) && app.Type() == ErrTypeTenantNotEmpty && app.NonRetryable(), "err %v", err)

	empty, err := st.CreateTenant(ctx, store.Tenant{Name: "globex"})
	require.NoError(t, err)
	forgot, err := s.ForgetTenant(ctx, TenantInput{TenantID: empty.ID})
	require.NoError(t, err)
	require.True(t, forgot.Forgotten)
	forgot, err = s.ForgetTenant(ctx, TenantInput{TenantID: empty.ID})
	require.NoError(t, err)
	require.False(t, forgot.Forgotten, "a record gone already is success")
	_, err = s.ReadTenantSettings(ctx, TenantInput{TenantID: empty.ID})
	require.True(t, errors.As(err, &app) && app.Type() == ErrTypeTenantDeleted, "err %v", err)
}
