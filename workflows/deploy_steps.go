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
	// local: the short steps run as local activities and a complete apply skips the rollout wait
	// (changeLocalSteps).
	local bool
	// brief: before WaitRollout, the run waits up to briefRolloutWait for the rollout in a local
	// activity (changeBriefWait).
	brief bool
}

// briefRolloutWait is how long a deploy waits for its rollout right after the apply, in the same
// workflow task (changeBriefWait). Well under the workflow task's timeout (10 s), so that the SDK need
// not keep the task alive with another; a rollout that takes longer goes on in WaitRollout.
const briefRolloutWait = 5 * time.Second

// call runs one short step on ctx: a local activity since changeLocalSteps, a regular one before.
func (d *deployRun) call(ctx workflow.Context, fn, in, out any) error {
	if d.local {
		return workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, shortLocal), fn, in).Get(ctx, out)
	}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortCall), fn, in).Get(ctx, out)
}

func (d *deployRun) resolveImage() (string, error) {
	var image activities.ResolveImageResult
	err := d.pr.run(StepResolveImage, func() error {
		return d.call(d.ctx, registryActs.ResolveImage, activities.ResolveImageInput{Image: d.in.Spec.Image}, &image)
	})
	d.pr.detail(StepResolveImage, image.Ref)
	return image.Ref, err
}

func (d *deployRun) ensureNamespace() error {
	return d.pr.run(StepEnsureNamespace, func() error {
		return d.call(d.ctx, kubeActs.EnsureNamespace, activities.EnsureNamespaceInput{Tenant: d.in.Ref.Tenant}, nil)
	})
}

// currentRelease reads the release that runs now, which a failed upgrade goes back to.
func (d *deployRun) currentRelease() (activities.LatestReleaseResult, error) {
	var prev activities.LatestReleaseResult
	if !d.compensate {
		return prev, nil
	}
	err := d.pr.run(StepCurrentRelease, func() error {
		return d.call(d.ctx, storeActs.LatestRelease, activities.LatestReleaseInput{ComponentID: d.in.ComponentID}, &prev)
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
		return d.call(d.ctx, kubeActs.Apply, activities.ApplyInput{
			Ref: d.in.Ref, ReleaseID: releaseID, Image: image, Spec: spec, Dependencies: d.in.Dependencies,
			ComponentID: d.in.ComponentID, SecretEnvVersion: d.in.SecretEnvVersion,
		}, &applied)
	})
	d.pr.detail(StepApply, "deployment "+applied.Namespace+"/"+applied.Deployment)
	return applied, err
}

func (d *deployRun) waitRollout(applied activities.ApplyResult) error {
	var rollout activities.WaitRolloutResult
	err := d.pr.run(StepWaitRollout, func() error {
		return d.wait(d.ctx, applied, &rollout)
	})
	switch {
	case err == nil && d.completeAtApply(applied):
		d.pr.detail(StepWaitRollout, fmt.Sprintf("nothing to roll out: %d/%d replicas available at the apply",
			rollout.Available, rollout.Desired))
	case err == nil:
		d.pr.detail(StepWaitRollout, fmt.Sprintf("%d/%d replicas available, %d ready endpoints",
			rollout.Available, rollout.Desired, rollout.ReadyEndpoints))
	}
	return err
}

// completeAtApply tells whether the apply found the workload complete at its generation already (a
// no-op deploy), so that there is no rollout to wait for (changeLocalSteps).
func (d *deployRun) completeAtApply(applied activities.ApplyResult) bool {
	return d.local && applied.Complete && applied.Rollout != nil
}

func (d *deployRun) wait(ctx workflow.Context, applied activities.ApplyResult, out *activities.WaitRolloutResult) error {
	if d.completeAtApply(applied) {
		out.RolloutProgress = *applied.Rollout
		return nil
	}
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
	if d.brief {
		var brief activities.AwaitRolloutResult
		if err := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, shortLocal), kubeActs.AwaitRollout,
			activities.AwaitRolloutInput{WaitRolloutInput: in, Within: briefRolloutWait}).Get(ctx, &brief); err != nil {
			return err
		}
		if brief.Complete {
			out.RolloutProgress = brief.RolloutProgress
			return nil
		}
	}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, longWait), kubeActs.WaitRollout, in).Get(ctx, out)
}

func (d *deployRun) recordRelease(image string) error {
	return d.pr.run(StepRecordRelease, func() error {
		return d.call(d.ctx, storeActs.RecordRelease, activities.RecordReleaseInput{
			ReleaseID: d.in.OperationID, ComponentID: d.in.ComponentID, OperationID: d.in.OperationID,
			Image: image, Spec: d.in.Spec, SecretEnvVersion: d.in.SecretEnvVersion, Routes: d.in.Routes,
		}, nil)
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
	back := &deployRun{ctx: ctx, in: d.in, pr: d.pr, compensate: true, local: d.local, brief: d.brief}
	err := d.pr.run(StepRollBack, func() error {
		var applied activities.ApplyResult
		err := back.call(ctx, kubeActs.Apply, activities.ApplyInput{
			Ref: d.in.Ref, ReleaseID: prev.ReleaseID, Image: prev.Image, Spec: prev.Spec, Dependencies: d.in.Dependencies,
			ComponentID: d.in.ComponentID, SecretEnvVersion: prev.SecretEnvVersion,
		}, &applied)
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
