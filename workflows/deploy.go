package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

// Deploy step names, as the progress query reports them.
const (
	StepResolveImage    = "resolve image"
	StepEnsureNamespace = "ensure namespace"
	StepApply           = "apply"
	StepWaitRollout     = "wait for rollout"
	StepRecordRelease   = "record release"
)

// Deploy rolls a component out to its spec: resolve the image to a digest, apply the rendered objects,
// wait until every replica is ready behind the Service, and record the release. The operation's
// release id is its operation id: one deploy, at most one release.
func Deploy(ctx workflow.Context, in contract.DeployInput) (contract.DeployResult, error) {
	var (
		reg  *activities.Registry
		kube *activities.Kube
		st   *activities.Store
	)
	pr, err := newProgress(ctx, contract.OperationDeploy,
		StepResolveImage, StepEnsureNamespace, StepApply, StepWaitRollout, StepRecordRelease)
	if err != nil {
		return contract.DeployResult{}, err
	}
	short := workflow.WithActivityOptions(ctx, shortCall)
	logger := workflow.GetLogger(ctx)
	logger.Info("deploy started", "tenant", in.Ref.Tenant, "app", in.Ref.App, "component", in.Ref.Component, "operation", in.OperationID)

	var image activities.ResolveImageResult
	if err := pr.run(StepResolveImage, func() error {
		return workflow.ExecuteActivity(short, reg.ResolveImage, activities.ResolveImageInput{Image: in.Spec.Image}).Get(ctx, &image)
	}); err != nil {
		return contract.DeployResult{}, err
	}
	pr.detail(StepResolveImage, image.Ref)

	if err := pr.run(StepEnsureNamespace, func() error {
		return workflow.ExecuteActivity(short, kube.EnsureNamespace, activities.EnsureNamespaceInput{Tenant: in.Ref.Tenant}).Get(ctx, nil)
	}); err != nil {
		return contract.DeployResult{}, err
	}

	var applied activities.ApplyResult
	if err := pr.run(StepApply, func() error {
		return workflow.ExecuteActivity(short, kube.Apply, activities.ApplyInput{
			Ref: in.Ref, ReleaseID: in.OperationID, Image: image.Ref, Spec: in.Spec,
		}).Get(ctx, &applied)
	}); err != nil {
		return contract.DeployResult{}, err
	}
	pr.detail(StepApply, "deployment "+applied.Namespace+"/"+applied.Deployment)

	var rollout activities.WaitRolloutResult
	if err := pr.run(StepWaitRollout, func() error {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, longWait), kube.WaitRollout, activities.WaitRolloutInput{
			Namespace: applied.Namespace, Deployment: applied.Deployment, Service: applied.Service, Generation: applied.Generation,
		}).Get(ctx, &rollout)
	}); err != nil {
		return contract.DeployResult{}, err
	}
	pr.detail(StepWaitRollout, fmt.Sprintf("%d/%d replicas available, %d ready endpoints",
		rollout.Available, rollout.Desired, rollout.ReadyEndpoints))

	if err := pr.run(StepRecordRelease, func() error {
		return workflow.ExecuteActivity(short, st.RecordRelease, activities.RecordReleaseInput{
			ReleaseID: in.OperationID, ComponentID: in.ComponentID, OperationID: in.OperationID,
			Image: image.Ref, Spec: in.Spec,
		}).Get(ctx, nil)
	}); err != nil {
		return contract.DeployResult{}, err
	}
	return contract.DeployResult{ReleaseID: in.OperationID, ImageDigest: image.Ref, Workload: applied.Deployment}, nil
}
