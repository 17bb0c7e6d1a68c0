package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

const builtImage = "127.0.0.1:5056/acme/shop/web@sha256:bbbb"

func newBuildEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	RegisterBuilds(env)
	env.RegisterActivity(&activities.Builds{})
	env.RegisterActivity(&activities.BuildStore{})
	env.RegisterActivity(&activities.Operations{})
	return env
}

func buildInput(deploy bool) contract.BuildInput {
	in := contract.BuildInput{
		OperationID: "b1", ComponentID: "c1", Ref: contract.ComponentRef{Tenant: "acme", App: "shop", Component: "web"},
		Source:     contract.BuildSource{Kind: contract.SourceArchive, Archive: "127.0.0.1:5056/acme/shop/web/sources@sha256:aaaa", ArchiveName: "web.tar.gz"},
		Repository: "127.0.0.1:5056/acme/shop/web",
	}
	if deploy {
		in.Deploy = &contract.DeployInput{OperationID: "d1", Ref: in.Ref, ComponentID: "c1",
			Spec: contract.ComponentSpec{Image: "127.0.0.1:5056/acme/shop/web:old", Replicas: 1}}
	}
	return in
}

var built = contract.BuildResult{Image: builtImage, Revision: "sha256:aaaa", Builder: contract.BuilderKo, Language: "go", Size: 1234}

func TestBuildWorkflow(t *testing.T) {
	t.Parallel()
	resolved := func(env *testsuite.TestWorkflowEnvironment) {
		env.OnActivity(buildActs.ResolveSource, mock.Anything, mock.Anything).Return(activities.ResolveSourceResult{Revision: "sha256:aaaa"}, nil)
	}
	notFound := func(env *testsuite.TestWorkflowEnvironment) {
		env.OnActivity(buildStoreActs.FindBuiltVersion, mock.Anything, mock.Anything).Return(activities.FindBuiltVersionResult{}, nil)
	}
	tests := []struct {
		name      string
		deploy    bool
		mock      func(env *testsuite.TestWorkflowEnvironment)
		wantErr   string
		want      contract.BuildResult
		wantSteps map[string]string
	}{
		{
			name: "builds, pushes and records a version",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				resolved(env)
				notFound(env)
				env.OnActivity(buildActs.BuildImage, mock.Anything, mock.MatchedBy(func(in activities.BuildImageInput) bool {
					return in.Revision == "sha256:aaaa" && in.Repository == "127.0.0.1:5056/acme/shop/web" && in.OperationID == "b1"
				})).Return(built, nil).Once()
				env.OnActivity(buildStoreActs.RecordBuild, mock.Anything, mock.MatchedBy(func(in activities.RecordBuildInput) bool {
					return in.Result.Image == builtImage && len(in.BuildKey) == 64 && in.OperationID == "b1"
				})).Return(activities.RecordBuildResult{VersionID: "v1"}, nil).Once()
			},
			want: built,
			wantSteps: map[string]string{StepResolveSource: contract.StepSucceeded, StepFindBuild: contract.StepSucceeded,
				StepBuild: contract.StepSucceeded, StepRecordVersion: contract.StepSucceeded},
		},
		{
			name: "an equal build of the same revision returns its version without building",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				resolved(env)
				reused := built
				reused.Reused = true
				env.OnActivity(buildStoreActs.FindBuiltVersion, mock.Anything, mock.Anything).
					Return(activities.FindBuiltVersionResult{Found: true, Version: reused}, nil)
			},
			want:      contract.BuildResult{Image: builtImage, Revision: "sha256:aaaa", Builder: contract.BuilderKo, Language: "go", Size: 1234, Reused: true},
			wantSteps: map[string]string{StepBuild: contract.StepSucceeded, StepRecordVersion: contract.StepSucceeded},
		},
		{
			name:   "build and deploy: the built image becomes the component's and its deploy runs in the queue",
			deploy: true,
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				resolved(env)
				notFound(env)
				env.OnActivity(buildActs.BuildImage, mock.Anything, mock.Anything).Return(built, nil)
				env.OnActivity(buildStoreActs.RecordBuild, mock.Anything, mock.Anything).Return(activities.RecordBuildResult{}, nil)
				env.OnActivity(buildStoreActs.SetComponentImage, mock.Anything, activities.SetComponentImageInput{ComponentID: "c1", Image: builtImage}).
					Return(activities.SetComponentImageResult{SpecVersion: 3}, nil).Once()
				env.OnActivity(operationActs.EnqueueOperation, mock.Anything, mock.MatchedBy(func(in activities.EnqueueOperationInput) bool {
					var d contract.DeployInput
					return in.Operation.OperationID == "d1" && in.Operation.Workflow == contract.WorkflowDeploy &&
						json.Unmarshal(in.Operation.Input, &d) == nil && d.Spec.Image == builtImage && d.Spec.Replicas == 1
				})).Return(contract.EnqueueResult{OperationID: "d1"}, nil).Once()
				env.OnActivity(operationActs.AwaitOperation, mock.Anything, activities.AwaitOperationInput{WorkflowID: "deploy/acme/shop/web/d1"}).
					Return(activities.AwaitOperationResult{Outcome: contract.ComponentSucceeded}, nil).Once()
			},
			want: contract.BuildResult{Image: builtImage, Revision: "sha256:aaaa", Builder: contract.BuilderKo, Language: "go", Size: 1234,
				DeployOperationID: "d1"},
			wantSteps: map[string]string{StepSetImage: contract.StepSucceeded, StepDeployBuilt: contract.StepSucceeded},
		},
		{
			name:   "a failed deploy of the built image fails the build-and-deploy, naming it",
			deploy: true,
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				resolved(env)
				notFound(env)
				env.OnActivity(buildActs.BuildImage, mock.Anything, mock.Anything).Return(built, nil)
				env.OnActivity(buildStoreActs.RecordBuild, mock.Anything, mock.Anything).Return(activities.RecordBuildResult{}, nil)
				env.OnActivity(buildStoreActs.SetComponentImage, mock.Anything, mock.Anything).Return(activities.SetComponentImageResult{}, nil)
				env.OnActivity(operationActs.EnqueueOperation, mock.Anything, mock.Anything).Return(contract.EnqueueResult{}, nil)
				env.OnActivity(operationActs.AwaitOperation, mock.Anything, mock.Anything).
					Return(activities.AwaitOperationResult{Outcome: contract.ComponentFailed, Error: "rollout stalled"}, nil)
			},
			wantErr:   "deploy d1 failed: rollout stalled",
			wantSteps: map[string]string{StepRecordVersion: contract.StepSucceeded, StepDeployBuilt: contract.StepFailed},
		},
		{
			name: "a failed build fails for good, records nothing, and says why",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				resolved(env)
				notFound(env)
				env.OnActivity(buildActs.BuildImage, mock.Anything, mock.Anything).
					Return(contract.BuildResult{}, appErr("step build: go build .: exit status 1: main.go:3: undefined: x", activities.ErrTypeBuildFailed)).Once()
			},
			wantErr:   "undefined: x",
			wantSteps: map[string]string{StepBuild: contract.StepFailed, StepRecordVersion: contract.StepPending},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newBuildEnv(t)
			tt.mock(env)
			env.OnActivity(buildStoreActs.PruneVersions, mock.Anything, mock.Anything).Return(activities.PruneVersionsResult{}, nil).Maybe()
			env.ExecuteWorkflow(contract.WorkflowBuild, buildInput(tt.deploy))
			require.True(t, env.IsWorkflowCompleted())
			err := env.GetWorkflowError()
			if tt.wantErr != "" {
				var app *temporal.ApplicationError
				require.True(t, errors.As(err, &app), "want an application error, got %v", err)
				require.Contains(t, app.Error(), tt.wantErr)
			} else {
				require.NoError(t, err)
				var res contract.BuildResult
				require.NoError(t, env.GetWorkflowResult(&res))
				res.Duration = 0
				require.Equal(t, tt.want, res)
			}
			requireSteps(t, env, tt.wantSteps)
			env.AssertExpectations(t)
		})
	}
}

func TestBuildKey(t *testing.T) {
	t.Parallel()
	in := buildInput(false)
	a := buildKey(in, "sha256:aaaa")
	require.Equal(t, a, buildKey(in, "sha256:aaaa"), "the same build, the same key")
	require.NotEqual(t, a, buildKey(in, "sha256:cccc"), "another revision")
	in.Settings.BuildArgs = map[string]string{"A": "1", "B": "2"}
	b := buildKey(in, "sha256:aaaa")
	require.NotEqual(t, a, b, "other settings")
	in.Settings.BuildArgs = map[string]string{"B": "2", "A": "1"}
	require.Equal(t, b, buildKey(in, "sha256:aaaa"), "map order does not matter")
}

func TestBuildPrunesVersions(t *testing.T) {
	t.Parallel()
	keep := func(n int) *int { return &n }
	deleted := activities.PruneVersionsResult{Deleted: []activities.PrunedVersion{{Image: "old-1"}, {Image: "old-2"}}}
	tests := []struct {
		name       string
		deploy     bool
		keep       *int
		oldHistory bool                           // a run started before the prune step (GetVersion answers the default)
		prune      *activities.PruneVersionsInput // the prune expected; nil: none
		result     activities.PruneVersionsResult
		pruneErr   error
		wantState  string // of the prune step; "" when the run has no such step
		wantDetail string
		wantOrder  []string // the activities called, in order, from RecordBuild on
	}{
		{
			name:  "keeps the newest ten by default, never the image just built",
			prune: &activities.PruneVersionsInput{ComponentID: "c1", Keep: contract.DefaultKeepVersions, Except: builtImage}, result: deleted,
			wantState: contract.StepSucceeded, wantDetail: "kept the newest 10, deleted 2",
			wantOrder: []string{"RecordBuild", "PruneVersions"},
		},
		{
			name: "a build's own keep, and what the registry refused",
			keep: keep(3), prune: &activities.PruneVersionsInput{ComponentID: "c1", Keep: 3, Except: builtImage},
			result:    activities.PruneVersionsResult{Kept: []activities.PrunedVersion{{Image: "old-1", Reason: "the registry does not allow deletes"}}},
			wantState: contract.StepSucceeded, wantDetail: "kept the newest 3, deleted 0, could not delete 1 (the registry does not allow deletes)",
			wantOrder: []string{"RecordBuild", "PruneVersions"},
		},
		{
			name: "keep zero turns retention off", keep: keep(0),
			wantState: contract.StepSucceeded, wantDetail: "retention is off for this build",
			wantOrder: []string{"RecordBuild"},
		},
		{
			name:  "a failed prune fails its step, not the build",
			prune: &activities.PruneVersionsInput{ComponentID: "c1", Keep: 10, Except: builtImage}, pruneErr: appErr("registry down", "Unreachable"),
			wantState: contract.StepFailed,
			wantOrder: []string{"RecordBuild", "PruneVersions"},
		},
		{
			name: "build and deploy prunes before the deploy, sparing the image it deploys", deploy: true, keep: keep(2),
			prune: &activities.PruneVersionsInput{ComponentID: "c1", Keep: 2, Except: builtImage}, result: deleted,
			wantState: contract.StepSucceeded, wantDetail: "kept the newest 2, deleted 2",
			wantOrder: []string{"RecordBuild", "PruneVersions", "SetComponentImage", "EnqueueOperation", "AwaitOperation"},
		},
		{
			name: "a run started before retention replays without it", oldHistory: true, keep: keep(2),
			wantOrder: []string{"RecordBuild"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newBuildEnv(t)
			if tt.oldHistory {
				env.OnGetVersion(changePruneVersions, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			}
			env.OnActivity(buildActs.ResolveSource, mock.Anything, mock.Anything).Return(activities.ResolveSourceResult{Revision: "sha256:aaaa"}, nil)
			env.OnActivity(buildStoreActs.FindBuiltVersion, mock.Anything, mock.Anything).Return(activities.FindBuiltVersionResult{}, nil)
			env.OnActivity(buildActs.BuildImage, mock.Anything, mock.Anything).Return(built, nil)
			env.OnActivity(buildStoreActs.RecordBuild, mock.Anything, mock.Anything).Return(activities.RecordBuildResult{}, nil)
			env.OnActivity(buildStoreActs.SetComponentImage, mock.Anything, mock.Anything).Return(activities.SetComponentImageResult{}, nil).Maybe()
			env.OnActivity(operationActs.EnqueueOperation, mock.Anything, mock.Anything).Return(contract.EnqueueResult{}, nil).Maybe()
			env.OnActivity(operationActs.AwaitOperation, mock.Anything, mock.Anything).
				Return(activities.AwaitOperationResult{Outcome: contract.ComponentSucceeded}, nil).Maybe()
			if tt.prune != nil {
				env.OnActivity(buildStoreActs.PruneVersions, mock.Anything, *tt.prune).Return(tt.result, tt.pruneErr).Once()
			}
			var order []string
			env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
				if n := info.ActivityType.Name; n == "RecordBuild" || len(order) > 0 {
					order = append(order, n)
				}
			})
			in := buildInput(tt.deploy)
			in.KeepVersions = tt.keep
			env.ExecuteWorkflow(contract.WorkflowBuild, in)
			require.True(t, env.IsWorkflowCompleted())
			require.NoError(t, env.GetWorkflowError(), "retention never fails the build")
			require.Equal(t, tt.wantOrder, order)

			var step *contract.Step
			for _, s := range queryProgress(t, env).Steps {
				if s.Name == StepPruneVersions {
					step = &s
				}
			}
			if tt.wantState == "" {
				require.Nil(t, step, "no prune step")
			} else {
				require.NotNil(t, step, "a prune step")
				require.Equal(t, tt.wantState, step.State)
				require.Equal(t, tt.wantDetail, step.Detail)
			}
			env.AssertExpectations(t)
		})
	}
}
