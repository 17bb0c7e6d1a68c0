package workflows

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

// runsOf records which activities a test workflow ran as local activities and which as regular ones.
type runsOf struct {
	mu             sync.Mutex
	local, regular []string
}

func (r *runsOf) listen(env *testsuite.TestWorkflowEnvironment) {
	env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) {
		r.mu.Lock()
		r.local = append(r.local, info.ActivityType.Name)
		r.mu.Unlock()
	})
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		r.mu.Lock()
		r.regular = append(r.regular, info.ActivityType.Name)
		r.mu.Unlock()
	})
}

// noopApplied is what the apply of a component that already runs its spec answers.
var noopApplied = activities.ApplyResult{
	Namespace: "acme", Deployment: "shop-web", Service: "shop-web", Generation: 3, Complete: true,
	Rollout: &activities.RolloutProgress{Desired: 2, Updated: 2, Ready: 2, Available: 2, Total: 2},
}

// applyChanges mocks an apply that changed the workload: its rollout is still to wait for.
func applyChanges(env *testsuite.TestWorkflowEnvironment) {
	changed := noopApplied
	changed.Complete = false
	env.OnActivity(kubeActs.Apply, mock.Anything, applyOf(newRef)).Return(changed, nil).Once()
}

// briefly matches the input of the brief wait after an apply: the applied workload, briefRolloutWait.
var briefly = mock.MatchedBy(func(in activities.AwaitRolloutInput) bool {
	return in.Within == briefRolloutWait && in.Deployment == "shop-web" && !in.Deadline.IsZero()
})

// TestDeployLocalSteps covers changeLocalSteps: the short steps run as local activities, a complete
// apply skips the rollout wait, and runs started before the change keep regular activities and the wait;
// and changeBriefWait: a rollout done within the brief wait after the apply needs no WaitRollout.
func TestDeployLocalSteps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		oldWorker   bool // the run started before changeLocalSteps
		noBrief     bool // the run started with changeLocalSteps but before changeBriefWait
		mock        func(env *testsuite.TestWorkflowEnvironment)
		wantErr     string
		wantLocal   []string
		wantRegular []string
		wantSteps   map[string]string
		wantDetail  map[string]string // substring of a step's detail
	}{
		{
			name: "a no-op deploy runs its short steps locally and has no rollout to wait for",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				upToApply(env, prevRelease)
				env.OnActivity(kubeActs.Apply, mock.Anything, applyOf(newRef)).Return(noopApplied, nil).Once()
				env.OnActivity(storeActs.RecordRelease, mock.Anything, mock.Anything).Return(activities.RecordReleaseResult{}, nil).Once()
			},
			wantLocal: []string{"ResolveImage", "EnsureNamespace", "LatestRelease", "Apply", "RecordRelease"},
			wantSteps: map[string]string{
				StepResolveImage: contract.StepSucceeded, StepEnsureNamespace: contract.StepSucceeded, StepCurrentRelease: contract.StepSucceeded,
				StepApply: contract.StepSucceeded, StepWaitRollout: contract.StepSucceeded, StepRecordRelease: contract.StepSucceeded,
			},
			wantDetail: map[string]string{StepWaitRollout: "nothing to roll out: 2/2 replicas available"},
		},
		{
			name: "a rollout done within the brief wait needs no WaitRollout activity",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				upToApply(env, prevRelease)
				applyChanges(env)
				env.OnActivity(kubeActs.AwaitRollout, mock.Anything, briefly).Return(activities.AwaitRolloutResult{
					RolloutProgress: activities.RolloutProgress{Desired: 2, Available: 2, ReadyEndpoints: 2}, Complete: true}, nil).Once()
				env.OnActivity(storeActs.RecordRelease, mock.Anything, mock.Anything).Return(activities.RecordReleaseResult{}, nil).Once()
			},
			wantLocal:  []string{"ResolveImage", "EnsureNamespace", "LatestRelease", "Apply", "AwaitRollout", "RecordRelease"},
			wantDetail: map[string]string{StepWaitRollout: "2/2 replicas available, 2 ready endpoints"},
		},
		{
			name: "a rollout not done within the brief wait goes on in WaitRollout, a regular activity",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				upToApply(env, prevRelease)
				applyChanges(env)
				env.OnActivity(kubeActs.AwaitRollout, mock.Anything, briefly).Return(activities.AwaitRolloutResult{
					RolloutProgress: activities.RolloutProgress{Desired: 2, Available: 1}}, nil).Once()
				env.OnActivity(kubeActs.WaitRollout, mock.Anything, withDeadline).
					Return(activities.WaitRolloutResult{RolloutProgress: activities.RolloutProgress{Desired: 2, Available: 2, ReadyEndpoints: 2}}, nil).Once()
				env.OnActivity(storeActs.RecordRelease, mock.Anything, mock.Anything).Return(activities.RecordReleaseResult{}, nil).Once()
			},
			wantLocal:   []string{"ResolveImage", "EnsureNamespace", "LatestRelease", "Apply", "AwaitRollout", "RecordRelease"},
			wantRegular: []string{"WaitRollout"},
			wantDetail:  map[string]string{StepWaitRollout: "2/2 replicas available, 2 ready endpoints"},
		},
		{
			name:    "a run started before the brief wait waits for a changed workload in WaitRollout only",
			noBrief: true,
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				upToApply(env, prevRelease)
				applyChanges(env)
				env.OnActivity(kubeActs.WaitRollout, mock.Anything, withDeadline).
					Return(activities.WaitRolloutResult{RolloutProgress: activities.RolloutProgress{Desired: 2, Available: 2, ReadyEndpoints: 2}}, nil).Once()
				env.OnActivity(storeActs.RecordRelease, mock.Anything, mock.Anything).Return(activities.RecordReleaseResult{}, nil).Once()
			},
			wantLocal:   []string{"ResolveImage", "EnsureNamespace", "LatestRelease", "Apply", "RecordRelease"},
			wantRegular: []string{"WaitRollout"},
			wantDetail:  map[string]string{StepWaitRollout: "2/2 replicas available, 2 ready endpoints"},
		},
		{
			name: "a failed brief wait fails the step (a cancelled operation), with no WaitRollout",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				upToApply(env, activities.LatestReleaseResult{})
				applyChanges(env)
				env.OnActivity(kubeActs.AwaitRollout, mock.Anything, briefly).Return(activities.AwaitRolloutResult{},
					appErr("wait for rollout: context canceled", "Canceled")).Once()
			},
			wantErr:   "context canceled",
			wantLocal: []string{"ResolveImage", "EnsureNamespace", "LatestRelease", "Apply", "AwaitRollout"},
			wantSteps: map[string]string{StepWaitRollout: contract.StepFailed, StepRecordRelease: contract.StepPending},
		},
		{
			name:      "a run of an older worker keeps regular activities and waits even when the apply is complete",
			oldWorker: true,
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				upToApply(env, prevRelease)
				env.OnActivity(kubeActs.Apply, mock.Anything, applyOf(newRef)).Return(noopApplied, nil).Once()
				env.OnActivity(kubeActs.WaitRollout, mock.Anything, withDeadline).
					Return(activities.WaitRolloutResult{RolloutProgress: activities.RolloutProgress{Desired: 2, Available: 2}}, nil).Once()
				env.OnActivity(storeActs.RecordRelease, mock.Anything, mock.Anything).Return(activities.RecordReleaseResult{}, nil).Once()
			},
			wantRegular: []string{"ResolveImage", "EnsureNamespace", "LatestRelease", "Apply", "WaitRollout", "RecordRelease"},
			wantDetail:  map[string]string{StepWaitRollout: "2/2 replicas available, 0 ready endpoints"},
		},
		{
			name: "a failed upgrade goes back with a local apply, and skips the wait when that shows it complete",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				upToApply(env, prevRelease)
				env.OnActivity(kubeActs.Apply, mock.Anything, applyOf(newRef)).Return(activities.ApplyResult{},
					appErr("apply deployment acme/shop-web: invalid", activities.ErrTypeInvalidSpec)).Once()
				env.OnActivity(kubeActs.Apply, mock.Anything, applyOf(prevRef)).Return(noopApplied, nil).Once()
			},
			wantErr:   "went back to release op1",
			wantLocal: []string{"ResolveImage", "EnsureNamespace", "LatestRelease", "Apply", "Apply"},
			wantSteps: map[string]string{StepApply: contract.StepFailed, StepRollBack: contract.StepSucceeded, StepWaitRollout: contract.StepPending},
		},
		{
			name: "a failed local step fails the deploy with its error",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(registryActs.ResolveImage, mock.Anything, mock.Anything).Return(activities.ResolveImageResult{},
					appErr("image 127.0.0.1:5056/web:v2 not found in registry 127.0.0.1:5056", activities.ErrTypeImageNotFound)).Once()
			},
			wantErr:   "not found in registry",
			wantLocal: []string{"ResolveImage"},
			wantSteps: map[string]string{StepResolveImage: contract.StepFailed, StepApply: contract.StepPending},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t)
			if tt.oldWorker {
				env.OnGetVersion(changeLocalSteps, workflow.DefaultVersion, changeBriefWait).Return(workflow.DefaultVersion)
			}
			if tt.noBrief {
				env.OnGetVersion(changeLocalSteps, workflow.DefaultVersion, changeBriefWait).Return(workflow.Version(1))
			}
			runs := &runsOf{}
			runs.listen(env)
			tt.mock(env)
			env.ExecuteWorkflow(contract.WorkflowDeploy, deployInput())
			require.True(t, env.IsWorkflowCompleted())
			if tt.wantErr != "" {
				require.ErrorContains(t, env.GetWorkflowError(), tt.wantErr)
			} else {
				require.NoError(t, env.GetWorkflowError())
			}
			require.Equal(t, tt.wantLocal, runs.local, "local activities")
			require.Equal(t, tt.wantRegular, runs.regular, "regular activities")
			requireSteps(t, env, tt.wantSteps)
			requireDetails(t, env, tt.wantDetail)
			env.AssertExpectations(t)
		})
	}
}

func requireDetails(t *testing.T, env *testsuite.TestWorkflowEnvironment, want map[string]string) {
	t.Helper()
	for _, s := range queryProgress(t, env).Steps {
		if w, ok := want[s.Name]; ok {
			require.Contains(t, s.Detail, w, "detail of step %q", s.Name)
		}
	}
}
