package workflows

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

var tenantIn = contract.TenantOperationInput{OperationID: "op1", Tenant: "acme", TenantID: "t1", RequestedBy: "admin"}

// runTenantWorkflow runs a tenant workflow with the mocks and answers its environment.
func runTenantWorkflow(t *testing.T, workflow string, mock func(env *testsuite.TestWorkflowEnvironment)) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(startedAt)
	Register(env)
	env.RegisterActivity(&activities.Kube{})
	env.RegisterActivity(&activities.Store{})
	mock(env)
	env.ExecuteWorkflow(workflow, tenantIn)
	require.True(t, env.IsWorkflowCompleted())
	return env
}

func requireAppError(t *testing.T, err error, typ, msg string) {
	t.Helper()
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "want an application error, got %v", err)
	require.Equal(t, typ, app.Type())
	require.Contains(t, app.Error(), msg)
}

func TestTenantSetup(t *testing.T) {
	t.Parallel()
	st := (*activities.Store)(nil)
	quota := &contract.TenantQuota{CPURequests: "2", MemoryLimits: "4Gi", Pods: 20}
	defaults := contract.Resources{CPURequest: "50m"}

	t.Run("applies the settings the store holds when it runs", func(t *testing.T) {
		t.Parallel()
		env := runTenantWorkflow(t, contract.WorkflowTenantSetup, func(env *testsuite.TestWorkflowEnvironment) {
			env.OnActivity(st.ReadTenantSettings, anyInput, activities.TenantInput{TenantID: "t1"}).
				Return(contract.TenantSettings{Quota: quota, ContainerDefaults: defaults}, nil).Once()
			env.OnActivity(kubeStub.SetupTenant, anyInput, activities.SetupTenantInput{Tenant: "acme",
				Settings: contract.TenantSettings{Quota: quota, ContainerDefaults: defaults}}).
				Return(contract.TenantSetupResult{Namespace: "acme", LimitRange: "rainflow-defaults", ResourceQuota: "rainflow-quota"}, nil).Once()
		})
		require.NoError(t, env.GetWorkflowError())
		var res contract.TenantSetupResult
		require.NoError(t, env.GetWorkflowResult(&res))
		require.Equal(t, "rainflow-quota", res.ResourceQuota)
		require.Equal(t, wantStates(StepReadSettings, contract.StepSucceeded, StepApplyNamespace, contract.StepSucceeded), stepStates(t, env))
		require.Equal(t, "quota: cpu requests 2, cpu limits unbounded, memory requests unbounded, memory limits 4Gi, storage unbounded, pods 20, volumes 0",
			stepOf(t, env, StepReadSettings).Detail)
		require.Equal(t, "namespace acme with LimitRange rainflow-defaults and ResourceQuota rainflow-quota", stepOf(t, env, StepApplyNamespace).Detail)
		env.AssertExpectations(t)
	})
	t.Run("a tenant without a quota any more loses the one applied before", func(t *testing.T) {
		t.Parallel()
		env := runTenantWorkflow(t, contract.WorkflowTenantSetup, func(env *testsuite.TestWorkflowEnvironment) {
			env.OnActivity(st.ReadTenantSettings, anyInput, anyInput).Return(contract.TenantSettings{}, nil).Once()
			env.OnActivity(kubeStub.SetupTenant, anyInput, activities.SetupTenantInput{Tenant: "acme"}).
				Return(contract.TenantSetupResult{Namespace: "acme", LimitRange: "rainflow-defaults", QuotaRemoved: true}, nil).Once()
		})
		require.NoError(t, env.GetWorkflowError())
		require.Equal(t, "no quota", stepOf(t, env, StepReadSettings).Detail)
		require.Contains(t, stepOf(t, env, StepApplyNamespace).Detail, "the ResourceQuota applied before was removed")
	})
	t.Run("a tenant deleted before its setup ran fails for good without touching Kubernetes", func(t *testing.T) {
		t.Parallel()
		env := runTenantWorkflow(t, contract.WorkflowTenantSetup, func(env *testsuite.TestWorkflowEnvironment) {
			env.OnActivity(st.ReadTenantSettings, anyInput, anyInput).Return(contract.TenantSettings{},
				appErr("tenant t1 was deleted", activities.ErrTypeTenantDeleted)).Once()
		})
		requireAppError(t, env.GetWorkflowError(), activities.ErrTypeTenantDeleted, "was deleted")
		require.Equal(t, wantStates(StepReadSettings, contract.StepFailed, StepApplyNamespace, contract.StepPending), stepStates(t, env))
		env.AssertExpectations(t)
	})
	t.Run("a quota Kubernetes refuses fails for good", func(t *testing.T) {
		t.Parallel()
		env := runTenantWorkflow(t, contract.WorkflowTenantSetup, func(env *testsuite.TestWorkflowEnvironment) {
			env.OnActivity(st.ReadTenantSettings, anyInput, anyInput).Return(contract.TenantSettings{Quota: quota}, nil).Once()
			env.OnActivity(kubeStub.SetupTenant, anyInput, anyInput).Return(contract.TenantSetupResult{},
				appErr("ensure namespace acme: quota cpuRequests: quantities must match the regular expression", activities.ErrTypeInvalidSpec)).Once()
		})
		requireAppError(t, env.GetWorkflowError(), activities.ErrTypeInvalidSpec, "quantities must match")
		require.Equal(t, wantStates(StepReadSettings, contract.StepSucceeded, StepApplyNamespace, contract.StepFailed), stepStates(t, env))
	})
	t.Run("a Kubernetes API down for a moment is retried", func(t *testing.T) {
		t.Parallel()
		env := runTenantWorkflow(t, contract.WorkflowTenantSetup, func(env *testsuite.TestWorkflowEnvironment) {
			env.OnActivity(st.ReadTenantSettings, anyInput, anyInput).Return(contract.TenantSettings{}, nil).Once()
			env.OnActivity(kubeStub.SetupTenant, anyInput, anyInput).Return(contract.TenantSetupResult{}, errors.New("connection refused")).Once()
			env.OnActivity(kubeStub.SetupTenant, anyInput, anyInput).Return(contract.TenantSetupResult{Namespace: "acme"}, nil).Once()
		})
		require.NoError(t, env.GetWorkflowError())
		env.AssertExpectations(t)
	})
}

func TestTenantDelete(t *testing.T) {
	t.Parallel()
	st := (*activities.Store)(nil)
	t.Run("deletes the namespace, then the record", func(t *testing.T) {
		t.Parallel()
		env := runTenantWorkflow(t, contract.WorkflowTenantDelete, func(env *testsuite.TestWorkflowEnvironment) {
			env.OnActivity(kubeStub.DeleteNamespace, anyInput, activities.DeleteNamespaceInput{Tenant: "acme"}).
				Return(activities.DeleteNamespaceResult{Namespace: "acme", Deleted: true}, nil).Once()
			env.OnActivity(st.ForgetTenant, anyInput, activities.TenantInput{TenantID: "t1"}).
				Return(activities.ForgetTenantResult{Forgotten: true}, nil).Once()
		})
		require.NoError(t, env.GetWorkflowError())
		var res contract.TenantDeleteResult
		require.NoError(t, env.GetWorkflowResult(&res))
		require.Equal(t, contract.TenantDeleteResult{Namespace: "acme", NamespaceDeleted: true, Forgotten: true}, res)
		require.Equal(t, "namespace acme deleted", stepOf(t, env, StepDeleteNamespace).Detail)
		require.Equal(t, "record deleted", stepOf(t, env, StepForgetTenant).Detail)
	})
	t.Run("a second delete finds both gone and succeeds", func(t *testing.T) {
		t.Parallel()
		env := runTenantWorkflow(t, contract.WorkflowTenantDelete, func(env *testsuite.TestWorkflowEnvironment) {
			env.OnActivity(kubeStub.DeleteNamespace, anyInput, anyInput).Return(activities.DeleteNamespaceResult{Namespace: "acme"}, nil).Once()
			env.OnActivity(st.ForgetTenant, anyInput, anyInput).Return(activities.ForgetTenantResult{}, nil).Once()
		})
		require.NoError(t, env.GetWorkflowError())
		require.Equal(t, "namespace acme was gone already", stepOf(t, env, StepDeleteNamespace).Detail)
		require.Equal(t, "the record was gone already", stepOf(t, env, StepForgetTenant).Detail)
	})
	t.Run("apps created meanwhile keep the record and fail the delete saying so", func(t *testing.T) {
		t.Parallel()
		env := runTenantWorkflow(t, contract.WorkflowTenantDelete, func(env *testsuite.TestWorkflowEnvironment) {
			env.OnActivity(kubeStub.DeleteNamespace, anyInput, anyInput).Return(activities.DeleteNamespaceResult{Namespace: "acme", Deleted: true}, nil).Once()
			env.OnActivity(st.ForgetTenant, anyInput, anyInput).Return(activities.ForgetTenantResult{},
				appErr("forget tenant t1: it has 1 apps: not empty", activities.ErrTypeTenantNotEmpty)).Once()
		})
		requireAppError(t, env.GetWorkflowError(), activities.ErrTypeTenantNotEmpty, "not empty")
		require.Equal(t, wantStates(StepDeleteNamespace, contract.StepSucceeded, StepForgetTenant, contract.StepFailed), stepStates(t, env))
	})
	t.Run("a namespace Kubernetes refuses to delete keeps the record", func(t *testing.T) {
		t.Parallel()
		env := runTenantWorkflow(t, contract.WorkflowTenantDelete, func(env *testsuite.TestWorkflowEnvironment) {
			env.OnActivity(kubeStub.DeleteNamespace, anyInput, anyInput).Return(activities.DeleteNamespaceResult{},
				appErr(`delete namespace acme: namespaces "acme" is forbidden`, activities.ErrTypeForbidden)).Once()
		})
		requireAppError(t, env.GetWorkflowError(), activities.ErrTypeForbidden, "forbidden")
		require.Equal(t, wantStates(StepDeleteNamespace, contract.StepFailed, StepForgetTenant, contract.StepPending), stepStates(t, env))
		env.AssertExpectations(t)
	})
}
