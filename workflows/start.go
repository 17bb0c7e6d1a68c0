package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

// Start brings a stopped component back: it scales the workload to the replicas of the component's
// stored spec and waits until they are available and ready behind the Service. Starting a running
// component changes nothing.
func Start(ctx workflow.Context, in contract.StartInput) (contract.StartResult, error) {
	pr, err := newProgress(ctx, contract.OperationStart, StepScale, StepWaitRollout)
	if err != nil {
		return contract.StartResult{}, err
	}
	workflow.GetLogger(ctx).Info("start started", "tenant", in.Ref.Tenant, "app", in.Ref.App, "component", in.Ref.Component,
		"operation", in.OperationID, "replicas", in.Replicas)
	if in.Replicas < 1 {
		return contract.StartResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"start component %s/%s/%s: its spec asks for %d replicas, so starting it would run nothing: scale it instead",
			in.Ref.Tenant, in.Ref.App, in.Ref.Component, in.Replicas), activities.ErrTypeInvalidSpec, nil)
	}

	scaled, rollout, err := scaleAndWait(ctx, pr, in.Ref, in.Replicas)
	if err != nil {
		return contract.StartResult{}, err
	}
	return contract.StartResult{Workload: scaled.Deployment, Replicas: scaled.Replicas, ReadyEndpoints: rollout.ReadyEndpoints}, nil
}
