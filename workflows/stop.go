package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

// Stop scales a component's workload to zero and waits until none of its pods remains. Every other
// object (the Deployment itself, its Service, its configuration) stays, and the stored spec keeps its
// replicas, so that Start brings the same component back.
func Stop(ctx workflow.Context, in contract.StopInput) (contract.StopResult, error) {
	var kube *activities.Kube
	pr, err := newProgress(ctx, contract.OperationStop, StepScale, StepWaitPodsGone)
	if err != nil {
		return contract.StopResult{}, err
	}
	workflow.GetLogger(ctx).Info("stop started", "tenant", in.Ref.Tenant, "app", in.Ref.App, "component", in.Ref.Component,
		"operation", in.OperationID)

	var scaled activities.ScaleWorkloadResult
	if err := pr.run(StepScale, func() error {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortCall), kube.ScaleWorkload,
			activities.ScaleWorkloadInput{Ref: in.Ref, Replicas: 0}).Get(ctx, &scaled)
	}); err != nil {
		return contract.StopResult{}, err
	}
	pr.detail(StepScale, scaledDetail(scaled))

	var gone activities.WaitNoPodsResult
	if err := pr.run(StepWaitPodsGone, func() error {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, longWait), kube.WaitNoPods, activities.WaitNoPodsInput{
			Namespace: scaled.Namespace, Deployment: scaled.Deployment,
		}).Get(ctx, &gone)
	}); err != nil {
		return contract.StopResult{}, err
	}
	pr.detail(StepWaitPodsGone, fmt.Sprintf("no pod remains (%d stopped)", gone.Stopped))
	return contract.StopResult{Workload: scaled.Deployment, PreviousReplicas: scaled.Previous}, nil
}
