package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/contract"
)

// Deploy step names, as the progress query reports them.
const (
	StepResolveImage    = "resolve image"
	StepEnsureNamespace = "ensure namespace"
	StepCurrentRelease  = "read current release"
	StepApply           = "apply"
	StepWaitRollout     = "wait for rollout"
	StepRecordRelease   = "record release"
	StepRollBack        = "roll back"
)

// ChangeLocalSteps is the change id of the deploy's local steps (changeLocalSteps below), exported for
// a worker's PreferredVersion: with workflow.DefaultVersion, new runs take the steps before it.
const ChangeLocalSteps = "deploy-local-steps"

// Change ids for workflow.GetVersion, so that runs started by an older worker replay on this code.
const (
	// changeCompensation added reading the current release before the apply, the rollout deadline, and
	// going back to the current release when an upgrade fails.
	changeCompensation = "deploy-compensation"
	// changeLocalSteps runs the short steps (resolve image, ensure namespace, read current release,
	// apply, record release, and the apply of a roll back) as local activities, and skips the rollout
	// wait when the apply shows the workload complete already (a no-op deploy). Waiting for a rollout
	// stays a regular, heartbeating activity. It is asked first: a run that has it has every change
	// before it too, so that it records one version marker (and one search attribute upsert) instead
	// of three.
	//
	// Its version 2 (changeBriefWait) adds a short wait for the rollout right after the apply, as a local
	// activity in the same workflow task (AwaitRollout): a rollout done within briefRolloutWait needs no
	// WaitRollout activity and no second workflow task. Version 2 of the same change id, so that a run
	// still records a single marker.
	changeLocalSteps = ChangeLocalSteps
	changeBriefWait  = 2
)

// Deploy rolls a component out to its spec (first deploy and upgrade): resolve the image to a digest,
// apply the rendered objects, wait until every replica is ready behind the Service, and record the
// release. An upgrade that fails after the apply (or is cancelled) goes back to the release that ran
// before, unless the caller asked not to. The operation's release id is its operation id.
func Deploy(ctx workflow.Context, in contract.DeployInput) (contract.DeployResult, error) {
	return deploy(ctx, contract.OperationDeploy, in)
}

// Rollback runs a component at an earlier release again: its image by digest and its whole spec.
func Rollback(ctx workflow.Context, in contract.RollbackInput) (contract.DeployResult, error) {
	workflow.GetLogger(ctx).Info("rollback", "toRelease", in.ToReleaseID)
	return deploy(ctx, contract.OperationRollback, in.Deploy)
}

func deploy(ctx workflow.Context, kind contract.OperationKind, in contract.DeployInput) (contract.DeployResult, error) {
	if v := workflow.GetVersion(ctx, changeLocalSteps, workflow.DefaultVersion, changeBriefWait); v >= 1 {
		return runDeploy(ctx, kind, in, deployChanges{compensate: true, routes: true, local: true, brief: v >= changeBriefWait})
	}
	version := workflow.GetVersion(ctx, changeCompensation, workflow.DefaultVersion, 1)
	return runDeploy(ctx, kind, in, deployChanges{compensate: version >= 1})
}

// deployChanges are the changes of the deploy's steps a run has (see the change ids above).
type deployChanges struct {
	compensate bool // changeCompensation
	routes     bool // changeRoutes; asked when the run has compensate but not local
	local      bool // changeLocalSteps
	brief      bool // changeBriefWait
}

// runDeploy is the deploy's list of steps; with compensate, the run reads the current release and
// goes back to it on failure (runs started before changeCompensation do not).
func runDeploy(ctx workflow.Context, kind contract.OperationKind, in contract.DeployInput, changes deployChanges) (contract.DeployResult, error) {
	compensate := changes.compensate
	steps := []string{StepResolveImage, StepEnsureNamespace, StepApply, StepWaitRollout, StepRecordRelease}
	if compensate {
		steps = []string{StepResolveImage, StepEnsureNamespace, StepCurrentRelease, StepApply, StepWaitRollout, StepRecordRelease}
	}
	pr, err := newProgress(ctx, kind, steps...)
	if err != nil {
		return contract.DeployResult{}, err
	}
	d := &deployRun{ctx: ctx, in: in, pr: pr, compensate: compensate, routes: changes.routes, local: changes.local,
		brief: changes.brief}
	if compensate && !changes.local {
		d.routes = workflow.GetVersion(ctx, changeRoutes, workflow.DefaultVersion, 1) >= 1
	}
	workflow.GetLogger(ctx).Info("deploy started", "kind", kind, "tenant", in.Ref.Tenant, "app", in.Ref.App,
		"component", in.Ref.Component, "operation", in.OperationID)

	image, err := d.resolveImage()
	if err != nil {
		return contract.DeployResult{}, err
	}
	if err := d.ensureNamespace(); err != nil {
		return contract.DeployResult{}, err
	}
	prev, err := d.currentRelease()
	if err != nil {
		return contract.DeployResult{}, err
	}
	routes := d.routesStep(prev)
	applied, err := d.apply(in.OperationID, image, in.Spec)
	if err != nil {
		return contract.DeployResult{}, d.rollBack(prev, err)
	}
	if err := d.waitRollout(applied); err != nil {
		return contract.DeployResult{}, d.rollBack(prev, err)
	}
	if routes {
		if err := d.pr.run(StepApplyRoutes, func() error { return d.applyRoutes(d.ctx, in.OperationID, in.Spec, in.Routes) }); err != nil {
			return contract.DeployResult{}, d.rollBack(prev, err)
		}
	}
	if err := d.recordRelease(image); err != nil {
		return contract.DeployResult{}, err
	}
	return contract.DeployResult{ReleaseID: in.OperationID, ImageDigest: image, Workload: applied.Deployment}, nil
}
