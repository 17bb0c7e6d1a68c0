package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

// Restart replaces every pod of a component by a rolling update, without downtime: it stamps the pod
// template with the restart's time (under its own field manager, nothing else changes) and waits
// until every replica runs the new template and is ready behind the Service. The rendered strategy
// never takes a ready replica away before its replacement is available.
func Restart(ctx workflow.Context, in contract.RestartInput) (contract.RestartResult, error) {
	var kube *activities.Kube
	pr, err := newProgress(ctx, contract.OperationRestart, StepRestartPods, StepWaitRollout)
	if err != nil {
		return contract.RestartResult{}, err
	}
	workflow.GetLogger(ctx).Info("restart started", "tenant", in.Ref.Tenant, "app", in.Ref.App, "component", in.Ref.Component,
		"operation", in.OperationID)
	restartedAt := workflow.Now(ctx).UTC().Format(time.RFC3339Nano)

	var restarted activities.RestartWorkloadResult
	if err := pr.run(StepRestartPods, func() error {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortCall), kube.RestartWorkload,
			activities.RestartWorkloadInput{Ref: in.Ref, RestartedAt: restartedAt}).Get(ctx, &restarted)
	}); err != nil {
		return contract.RestartResult{}, err
	}
	pr.detail(StepRestartPods, fmt.Sprintf("deployment %s/%s: %s=%s",
		restarted.Namespace, restarted.Deployment, contract.AnnotationRestartedAt, restartedAt))

	var rollout activities.WaitRolloutResult
	if err := pr.run(StepWaitRollout, func() error {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, longWait), kube.WaitRollout, activities.WaitRolloutInput{
			Namespace: restarted.Namespace, Deployment: restarted.Deployment, Service: restarted.Service,
			Generation: restarted.Generation, Deadline: rolloutDeadline(ctx),
		}).Get(ctx, &rollout)
	}); err != nil {
		return contract.RestartResult{}, err
	}
	pr.detail(StepWaitRollout, rolloutDetail(rollout))
	return contract.RestartResult{Workload: restarted.Deployment, RestartedAt: restartedAt, Replicas: restarted.Replicas}, nil
}
