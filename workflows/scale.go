package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

// Step names of the lifecycle operations, as the progress query reports them (with StepWaitRollout).
const (
	StepScale        = "scale"
	StepWaitPodsGone = "wait for pods to stop"
	StepRestartPods  = "restart pods"
)

// Scale sets the number of replicas of a deployed component (horizontal scaling) and waits until that
// many are ready behind its Service. The API stored the replicas in the component's spec first, so
// the next deploy keeps them.
func Scale(ctx workflow.Context, in contract.ScaleInput) (contract.ScaleResult, error) {
	pr, err := newProgress(ctx, contract.OperationScale, StepScale, StepWaitRollout)
	if err != nil {
		return contract.ScaleResult{}, err
	}
	workflow.GetLogger(ctx).Info("scale started", "tenant", in.Ref.Tenant, "app", in.Ref.App, "component", in.Ref.Component,
		"operation", in.OperationID, "replicas", in.Replicas)

	scaled, rollout, err := scaleAndWait(ctx, pr, in.Ref, in.Replicas)
	if err != nil {
		return contract.ScaleResult{}, err
	}
	return contract.ScaleResult{
		Workload: scaled.Deployment, PreviousReplicas: scaled.Previous, Replicas: scaled.Replicas,
		ReadyEndpoints: rollout.ReadyEndpoints,
	}, nil
}

// scaleAndWait runs the two steps Scale and Start share: set the workload's replicas, then wait until
// they are available and ready behind the Service.
func scaleAndWait(ctx workflow.Context, pr *progress, ref contract.ComponentRef, replicas int32) (
	activities.ScaleWorkloadResult, activities.WaitRolloutResult, error,
) {
	var kube *activities.Kube
	var scaled activities.ScaleWorkloadResult
	if err := pr.run(StepScale, func() error {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortCall), kube.ScaleWorkload,
			activities.ScaleWorkloadInput{Ref: ref, Replicas: replicas}).Get(ctx, &scaled)
	}); err != nil {
		return scaled, activities.WaitRolloutResult{}, err
	}
	pr.detail(StepScale, scaledDetail(scaled))

	var rollout activities.WaitRolloutResult
	if err := pr.run(StepWaitRollout, func() error {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, longWait), kube.WaitRollout, activities.WaitRolloutInput{
			Namespace: scaled.Namespace, Deployment: scaled.Deployment, Service: scaled.Service, Generation: scaled.Generation,
			Deadline: rolloutDeadline(ctx),
		}).Get(ctx, &rollout)
	}); err != nil {
		return scaled, rollout, err
	}
	pr.detail(StepWaitRollout, rolloutDetail(rollout))
	return scaled, rollout, nil
}

// rolloutDeadline is when a lifecycle operation's rollout that is still not complete fails: a pod
// whose readiness probe never passes does not stop a Deployment on its own for 10 minutes.
func rolloutDeadline(ctx workflow.Context) time.Time {
	return workflow.Now(ctx).Add(contract.DefaultRolloutTimeoutSeconds * time.Second)
}

func scaledDetail(s activities.ScaleWorkloadResult) string {
	return fmt.Sprintf("deployment %s/%s: %d → %d replicas", s.Namespace, s.Deployment, s.Previous, s.Replicas)
}

func rolloutDetail(r activities.WaitRolloutResult) string {
	return fmt.Sprintf("%d/%d replicas available, %d ready endpoints", r.Available, r.Desired, r.ReadyEndpoints)
}
