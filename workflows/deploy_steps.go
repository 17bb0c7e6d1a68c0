package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

// ErrTypeUpgradeFailed is the type of the error of an upgrade that failed and went back to the release
// that ran before it.
const ErrTypeUpgradeFailed = "UpgradeFailed"

// Activity structs, called through nil pointers: only their method names matter to the workflow.
var (
	registryActs *activities.Registry
	kubeActs     *activities.Kube
	storeActs    *activities.Store
)

// deployRun holds one deploy's state while its steps run.
type deployRun struct {
	ctx        workflow.Context
	in         contract.DeployInput
	pr         *progress
	compensate bool // the run goes back to the previous release on failure (changeCompensation)
	// routes: the run applies its routes (changeRoutes, routes.go); routesTouched once it tried to.
	routes, routesTouched bool
}

func (d *deployRun) short() workflow.Context { return workflow.WithActivityOptions(d.ctx, shortCall) }

func (d *deployRun) resolveImage() (string, error) {
	var image activities.ResolveImageResult
	err := d.pr.run(StepResolveImage, func() error {
		return workflow.ExecuteActivity(d.short(), registryActs.ResolveImage,
			activities.ResolveImageInput{Image: d.in.Spec.Image}).Get(d.ctx, &image)
	})
	d.pr.detail(StepResolveImage, image.Ref)
	return image.Ref, err
}

func (d *deployRun) ensureNamespace() error {
	return d.pr.run(StepEnsureNamespace, func() error {
		return workflow.ExecuteActivity(d.short(), kubeActs.EnsureNamespace,
			activities.EnsureNamespaceInput{Tenant: d.in.Ref.Tenant}).Get(d.ctx, nil)
	})
}

// currentRelease reads the release that runs now, which a failed upgrade goes back to.
func (d *deployRun) currentRelease() (activities.LatestReleaseResult, error) {
	var prev activities.LatestReleaseResult
	if !d.compensate {
		return prev, nil
	}
	err := d.pr.run(StepCurrentRelease, func() error {
		return workflow.ExecuteActivity(d.short(), storeActs.LatestRelease,
			activities.LatestReleaseInput{ComponentID: d.in.ComponentID}).Get(d.ctx, &prev)
	})
	if prev.Found {
		d.pr.detail(StepCurrentRelease, "release "+prev.ReleaseID+" runs "+prev.Image)
	} else {
		d.pr.detail(StepCurrentRelease, "none: first deploy")
	}
	return prev, err
}

func (d *deployRun) apply(releaseID, image string, spec contract.ComponentSpec) (activities.ApplyResult, error) {
	var applied activities.ApplyResult
	err := d.pr.run(StepApply, func() error {
		return workflow.ExecuteActivity(d.short(), kubeActs.Apply, activities.ApplyInput{
			Ref: d.in.Ref, ReleaseID: releaseID, Image: image, Spec: spec, Dependencies: d.in.Dependencies,
			ComponentID: d.in.ComponentID, SecretEnvVersion: d.in.SecretEnvVersion,
		}).Get(d.ctx, &applied)
	})
	d.pr.detail(StepApply, "deployment "+applied.Namespace+"/"+applied.Deployment)
	return applied, err
}

func (d *deployRun) waitRollout(applied activities.ApplyResult) error {
	var rollout activities.WaitRolloutResult
	err := d.pr.run(StepWaitRollout, func() error {
		return d.wait(d.ctx, applied, &rollout)
	})
	if err == nil {
		d.pr.detail(StepWaitRollout, fmt.Sprintf("%d/%d replicas available, %d ready endpoints",
			rollout.Available, rollout.Desired, rollout.ReadyEndpoints))
	}
	return err
}

func (d *deployRun) wait(ctx workflow.Context, applied activities.ApplyResult, out *activities.WaitRolloutResult) error {
	in := activities.WaitRolloutInput{
		Namespace: applied.Namespace, Deployment: applied.Deployment, Service: applied.Service, Generation: applied.Generation,
	}
	if d.compensate {
		timeout := d.in.RolloutTimeoutSeconds
		if timeout <= 0 {
			timeout = contract.DefaultRolloutTimeoutSeconds
		}
		in.Deadline = workflow.Now(ctx).Add(time.Duration(timeout) * time.Second)
	}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, longWait), kubeActs.WaitRollout, in).Get(ctx, out)
}

func (d *deployRun) recordRelease(image string) error {
	return d.pr.run(StepRecordRelease, func() error {
		return workflow.ExecuteActivity(d.short(), storeActs.RecordRelease, activities.RecordReleaseInput{
			ReleaseID: d.in.OperationID, ComponentID: d.in.ComponentID, OperationID: d.in.OperationID,
			Image: image, Spec: d.in.Spec, SecretEnvVersion: d.in.SecretEnvVersion, Routes: d.in.Routes,
		}).Get(d.ctx, nil)
	})
}

// rollBack is the compensation of a failed upgrade: it applies the release that ran before and waits
// for it, on a disconnected context so that it also runs when the operation was cancelled. It returns
// the error the operation ends with.
func (d *deployRun) rollBack(prev activities.LatestReleaseResult, cause error) error {
	if !d.compensate || !prev.Found || d.in.NoRollback {
		return cause
	}
	ctx, _ := workflow.NewDisconnectedContext(d.ctx)
	back := &deployRun{ctx: ctx, in: d.in, pr: d.pr, compensate: true}
	err := d.pr.run(StepRollBack, func() error {
		var applied activities.ApplyResult
		err := workflow.ExecuteActivity(back.short(), kubeActs.Apply, activities.ApplyInput{
			Ref: d.in.Ref, ReleaseID: prev.ReleaseID, Image: prev.Image, Spec: prev.Spec, Dependencies: d.in.Dependencies,
			ComponentID: d.in.ComponentID, SecretEnvVersion: prev.SecretEnvVersion,
		}).Get(ctx, &applied)
		if err != nil {
			return err
		}
		if err := back.wait(ctx, applied, &activities.WaitRolloutResult{}); err != nil || !d.routesTouched {
			return err
		}
		return d.applyRoutes(ctx, prev.ReleaseID, prev.Spec, prev.Routes)
	})
	if err != nil {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s; going back to release %s failed too: %s",
			message(cause), prev.ReleaseID, message(err)), ErrTypeUpgradeFailed, cause)
	}
	d.pr.detail(StepRollBack, "release "+prev.ReleaseID+" runs again")
	if temporal.IsCanceledError(cause) || errors.Is(d.ctx.Err(), workflow.ErrCanceled) {
		return cause
	}
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s; went back to release %s",
		message(cause), prev.ReleaseID), ErrTypeUpgradeFailed, cause)
}
