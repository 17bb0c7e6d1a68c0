package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

// Step names of the tenant operations, as the progress query reports them.
const (
	StepReadSettings    = "read settings"
	StepApplyNamespace  = "apply namespace"
	StepDeleteNamespace = "delete namespace"
	StepForgetTenant    = "forget tenant"
)

// TenantSetup gives a tenant's namespace what the tenant's settings say: the namespace itself, the
// LimitRange with its containers' default resources, and its ResourceQuota (removed when the tenant
// has none). It reads the settings from the store when it runs, so that of two setups racing after
// two changes, either one leaves the latest settings applied.
func TenantSetup(ctx workflow.Context, in contract.TenantOperationInput) (contract.TenantSetupResult, error) {
	var kube *activities.Kube
	var st *activities.Store
	pr, err := newProgress(ctx, contract.OperationTenantSetup, StepReadSettings, StepApplyNamespace)
	if err != nil {
		return contract.TenantSetupResult{}, err
	}
	workflow.GetLogger(ctx).Info("tenant setup started", "tenant", in.Tenant, "operation", in.OperationID)

	var settings contract.TenantSettings
	if err := pr.run(StepReadSettings, func() error {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortCall), st.ReadTenantSettings,
			activities.TenantInput{TenantID: in.TenantID}).Get(ctx, &settings)
	}); err != nil {
		return contract.TenantSetupResult{}, err
	}
	pr.detail(StepReadSettings, settingsDetail(settings))

	var out contract.TenantSetupResult
	if err := pr.run(StepApplyNamespace, func() error {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortCall), kube.SetupTenant,
			activities.SetupTenantInput{Tenant: in.Tenant, Settings: settings}).Get(ctx, &out)
	}); err != nil {
		return contract.TenantSetupResult{}, err
	}
	pr.detail(StepApplyNamespace, fmt.Sprintf("namespace %s with LimitRange %s%s", out.Namespace, out.LimitRange, quotaDetail(out)))
	return out, nil
}

// TenantDelete removes a tenant: its namespace with everything left in it, waited for until Kubernetes
// has removed it, then its record (and with it its members and the records of its operations). The
// API starts it only for a tenant without apps; if apps arrived meanwhile, the record stays and the
// operation fails saying so (their next deploy brings the namespace back).
func TenantDelete(ctx workflow.Context, in contract.TenantOperationInput) (contract.TenantDeleteResult, error) {
	var kube *activities.Kube
	var st *activities.Store
	pr, err := newProgress(ctx, contract.OperationTenantDelete, StepDeleteNamespace, StepForgetTenant)
	if err != nil {
		return contract.TenantDeleteResult{}, err
	}
	workflow.GetLogger(ctx).Info("tenant delete started", "tenant", in.Tenant, "operation", in.OperationID)

	var deleted activities.DeleteNamespaceResult
	if err := pr.run(StepDeleteNamespace, func() error {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, longWait), kube.DeleteNamespace,
			activities.DeleteNamespaceInput{Tenant: in.Tenant}).Get(ctx, &deleted)
	}); err != nil {
		return contract.TenantDeleteResult{}, err
	}
	pr.detail(StepDeleteNamespace, map[bool]string{true: "namespace " + deleted.Namespace + " deleted",
		false: "namespace " + deleted.Namespace + " was gone already"}[deleted.Deleted])

	var forgot activities.ForgetTenantResult
	if err := pr.run(StepForgetTenant, func() error {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortCall), st.ForgetTenant,
			activities.TenantInput{TenantID: in.TenantID}).Get(ctx, &forgot)
	}); err != nil {
		return contract.TenantDeleteResult{}, err
	}
	pr.detail(StepForgetTenant, map[bool]string{true: "record deleted", false: "the record was gone already"}[forgot.Forgotten])
	return contract.TenantDeleteResult{Namespace: deleted.Namespace, NamespaceDeleted: deleted.Deleted, Forgotten: forgot.Forgotten}, nil
}

func settingsDetail(s contract.TenantSettings) string {
	if s.Quota == nil {
		return "no quota"
	}
	q := s.Quota
	return fmt.Sprintf("quota: cpu requests %s, cpu limits %s, memory requests %s, memory limits %s, storage %s, pods %d, volumes %d",
		orNone(q.CPURequests), orNone(q.CPULimits), orNone(q.MemoryRequests), orNone(q.MemoryLimits), orNone(q.Storage), q.Pods, q.Volumes)
}

func orNone(s string) string {
	if s == "" {
		return "unbounded"
	}
	return s
}

func quotaDetail(r contract.TenantSetupResult) string {
	switch {
	case r.ResourceQuota != "":
		return " and ResourceQuota " + r.ResourceQuota
	case r.QuotaRemoved:
		return "; the ResourceQuota applied before was removed"
	}
	return ""
}
