package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

// Step names of a build.
const (
	StepResolveSource     = "resolve source"
	StepFindBuild         = "find an equal build"
	StepBuild             = "build"
	StepRecordVersion     = "record version"
	StepSetImage          = "set the component's image"
	StepDeployBuilt       = "deploy"
	StepPruneVersions     = "prune versions"
	buildKeyFormatVersion = "1" // bump when the same inputs must build again (a builder changed its output)
)

// changePruneVersions added the prune versions step (retention) after record version; runs started
// before it replay without the step.
const changePruneVersions = "build-prune-versions"

var (
	buildActs      *activities.Builds
	buildStoreActs *activities.BuildStore
)

// Build turns a component's source into a version in the registry (contract/build.go): it pins the
// source's revision, returns the version an equal build made before if there is one, else builds and
// pushes the image and records it; asked to, it makes the image the component's and deploys it
// through the component's queue, waiting for the deploy's end.
func Build(ctx workflow.Context, in contract.BuildInput) (contract.BuildResult, error) {
	steps, prune := buildSteps(ctx, in)
	pr, err := newProgress(ctx, contract.OperationBuild, steps...)
	if err != nil {
		return contract.BuildResult{}, err
	}
	workflow.GetLogger(ctx).Info("build started", "tenant", in.Ref.Tenant, "app", in.Ref.App,
		"component", in.Ref.Component, "operation", in.OperationID, "source", in.Source.Kind)
	short := workflow.WithActivityOptions(ctx, shortCall)

	var src activities.ResolveSourceResult
	if err := pr.run(StepResolveSource, func() error {
		return workflow.ExecuteActivity(short, buildActs.ResolveSource, activities.ResolveSourceInput{Source: in.Source}).Get(ctx, &src)
	}); err != nil {
		return contract.BuildResult{}, err
	}
	pr.detail(StepResolveSource, src.Revision)
	key := buildKey(in, src.Revision)

	var found activities.FindBuiltVersionResult
	if err := pr.run(StepFindBuild, func() error {
		return workflow.ExecuteActivity(short, buildStoreActs.FindBuiltVersion,
			activities.FindBuiltVersionInput{ComponentID: in.ComponentID, BuildKey: key}).Get(ctx, &found)
	}); err != nil {
		return contract.BuildResult{}, err
	}
	res := found.Version
	if found.Found {
		pr.detail(StepFindBuild, "built before: "+res.Image)
		pr.skip("an equal build of this revision made "+res.Image, StepBuild, StepRecordVersion)
	} else {
		begin := workflow.Now(ctx)
		if err := pr.run(StepBuild, func() error {
			return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, buildOptions(in.Timeout)), buildActs.BuildImage,
				activities.BuildImageInput{OperationID: in.OperationID, Ref: in.Ref, Source: in.Source, Revision: src.Revision,
					Settings: in.Settings, Repository: in.Repository}).Get(ctx, &res)
		}); err != nil {
			return contract.BuildResult{}, err
		}
		res.Duration = workflow.Now(ctx).Sub(begin)
		pr.detail(StepBuild, fmt.Sprintf("%s (%s builder) in %s", res.Image, res.Builder, res.Duration.Round(time.Millisecond)))
		if err := pr.run(StepRecordVersion, func() error {
			return workflow.ExecuteActivity(short, buildStoreActs.RecordBuild, activities.RecordBuildInput{
				ComponentID: in.ComponentID, OperationID: in.OperationID, BuildKey: key, Source: in.Source, Result: res,
			}).Get(ctx, nil)
		}); err != nil {
			return contract.BuildResult{}, err
		}
	}
	if prune {
		pruneVersions(ctx, pr, in, res.Image)
	}
	if in.Deploy == nil {
		return res, nil
	}

	if err := pr.run(StepSetImage, func() error {
		return workflow.ExecuteActivity(short, buildStoreActs.SetComponentImage,
			activities.SetComponentImageInput{ComponentID: in.ComponentID, Image: res.Image}).Get(ctx, nil)
	}); err != nil {
		return res, err
	}
	res.DeployOperationID = in.Deploy.OperationID
	err = pr.run(StepDeployBuilt, func() error { return deployBuilt(ctx, in, res.Image) })
	return res, err
}

// buildSteps lists a build's steps; prune says the run has the prune versions step (a run started
// before it replays without).
func buildSteps(ctx workflow.Context, in contract.BuildInput) (steps []string, prune bool) {
	steps = []string{StepResolveSource, StepFindBuild, StepBuild, StepRecordVersion}
	if prune = workflow.GetVersion(ctx, changePruneVersions, workflow.DefaultVersion, 1) >= 1; prune {
		steps = append(steps, StepPruneVersions)
	}
	if in.Deploy != nil {
		steps = append(steps, StepSetImage, StepDeployBuilt)
	}
	return steps, prune
}

// pruneVersions deletes the component's versions beyond the newest in.KeepVersions that no release
// ran and the component does not run, never the one just built (which the build may be about to
// deploy). It runs before the deploy, so a failed deploy does not leave retention undone, and it
// never fails the build: its step says what went wrong, and the next build prunes again.
func pruneVersions(ctx workflow.Context, pr *progress, in contract.BuildInput, built string) {
	keep := in.KeepVersionsOrDefault()
	if keep == 0 {
		pr.skip("retention is off for this build", StepPruneVersions)
		return
	}
	var pruned activities.PruneVersionsResult
	err := pr.run(StepPruneVersions, func() error {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, pruneCall), buildStoreActs.PruneVersions,
			activities.PruneVersionsInput{ComponentID: in.ComponentID, Keep: keep, Except: built}).Get(ctx, &pruned)
	})
	if err != nil {
		workflow.GetLogger(ctx).Warn("prune versions failed", "component", in.Ref.Component, "operation", in.OperationID, "error", err)
		return
	}
	detail := fmt.Sprintf("kept the newest %d, deleted %d", keep, len(pruned.Deleted))
	if len(pruned.Kept) > 0 {
		detail += fmt.Sprintf(", could not delete %d (%s)", len(pruned.Kept), pruned.Kept[0].Reason)
	}
	pr.detail(StepPruneVersions, detail)
}

// pruneCall fits retention: a registry delete per version, heartbeating, retried a few times.
var pruneCall = workflow.ActivityOptions{
	StartToCloseTimeout:    5 * time.Minute,
	ScheduleToCloseTimeout: 15 * time.Minute,
	HeartbeatTimeout:       time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        2 * time.Second,
		BackoffCoefficient:     2,
		MaximumAttempts:        3,
		NonRetryableErrorTypes: []string{activities.ErrTypeInvalidSpec},
	},
}

// deployBuilt queues the prepared deploy with the built image in the component's queue and waits
// for its end.
func deployBuilt(ctx workflow.Context, in contract.BuildInput, image string) error {
	deploy := *in.Deploy
	deploy.Spec.Image = image
	input, err := json.Marshal(deploy)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("encode the deploy: "+err.Error(), activities.ErrTypeInvalidSpec, err)
	}
	short := workflow.WithActivityOptions(ctx, shortCall)
	if err := workflow.ExecuteActivity(short, operationActs.EnqueueOperation, activities.EnqueueOperationInput{
		Ref: in.Ref, Operation: contract.QueuedOperation{OperationID: deploy.OperationID, Kind: contract.OperationDeploy,
			Workflow: contract.WorkflowDeploy, Input: input, RequestedBy: in.RequestedBy},
	}).Get(ctx, nil); err != nil {
		return err
	}
	var ended activities.AwaitOperationResult
	workflowID := contract.OperationWorkflowID(contract.OperationDeploy, in.Ref, deploy.OperationID)
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, followOperation), operationActs.AwaitOperation,
		activities.AwaitOperationInput{WorkflowID: workflowID}).Get(ctx, &ended); err != nil {
		return err
	}
	if ended.Outcome != contract.ComponentSucceeded {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("deploy %s %s: %s", deploy.OperationID, ended.Outcome, ended.Error),
			ErrTypeAppOperation, nil)
	}
	return nil
}

// buildKey identifies what a build makes: the source pinned to its revision and the settings. Builds
// with equal keys make the same image.
func buildKey(in contract.BuildInput, revision string) string {
	where := in.Source.Kind + "\x00" + in.Source.GitURL + "\x00" + in.Source.Image + "\x00" + revision
	settings, _ := json.Marshal(in.Settings) // map keys are sorted: stable
	sum := sha256.Sum256([]byte(buildKeyFormatVersion + "\x00" + where + "\x00" + string(settings)))
	return hex.EncodeToString(sum[:])
}

// buildOptions fit one build: as long as the build may take, heartbeating, retried only for what
// failed around it (a worker lost, BuildKit unreachable), never for a failed build.
func buildOptions(timeout time.Duration) workflow.ActivityOptions {
	if timeout <= 0 {
		timeout = contract.DefaultBuildTimeout
	}
	return workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        5 * time.Second,
			BackoffCoefficient:     2,
			MaximumAttempts:        3,
			NonRetryableErrorTypes: []string{activities.ErrTypeBuildFailed, activities.ErrTypeInvalidSource},
		},
	}
}
