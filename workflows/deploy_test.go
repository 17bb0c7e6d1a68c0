package workflows

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

const (
	newRef  = "127.0.0.1:5056/web@sha256:2222"
	prevRef = "127.0.0.1:5056/web@sha256:1111"
)

func deployInput() contract.DeployInput {
	return contract.DeployInput{
		OperationID: "op2",
		ComponentID: "c1",
		Ref:         contract.ComponentRef{Tenant: "acme", App: "shop", Component: "web"},
		Spec:        contract.ComponentSpec{Image: "127.0.0.1:5056/web:v2", Replicas: 2},
	}
}

var prevRelease = activities.LatestReleaseResult{
	Found: true, ReleaseID: "op1", Image: prevRef,
	Spec: contract.ComponentSpec{Image: "127.0.0.1:5056/web:v1", Replicas: 2, Env: []contract.EnvVar{{Name: "V", Value: "1"}}},
}

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	Register(env)
	env.RegisterActivity(&activities.Registry{})
	env.RegisterActivity(&activities.Kube{})
	env.RegisterActivity(&activities.Store{})
	return env
}

// upToApply mocks the steps before the apply; prev is the release that runs now.
func upToApply(env *testsuite.TestWorkflowEnvironment, prev activities.LatestReleaseResult) {
	env.OnActivity(registryActs.ResolveImage, mock.Anything, mock.Anything).Return(activities.ResolveImageResult{Digest: "sha256:2222", Ref: newRef}, nil)
	env.OnActivity(kubeActs.EnsureNamespace, mock.Anything, activities.EnsureNamespaceInput{Tenant: "acme"}).
		Return(activities.EnsureNamespaceResult{Namespace: "acme"}, nil)
	env.OnActivity(storeActs.LatestRelease, mock.Anything, activities.LatestReleaseInput{ComponentID: "c1"}).Return(prev, nil)
}

func applyOf(image string) any {
	return mock.MatchedBy(func(in activities.ApplyInput) bool { return in.Image == image })
}

var applied = activities.ApplyResult{Namespace: "acme", Deployment: "shop-web", Service: "shop-web", Generation: 2}

var withDeadline = mock.MatchedBy(func(in activities.WaitRolloutInput) bool {
	return in.Deployment == "shop-web" && !in.Deadline.IsZero()
})

func appErr(msg, typ string) error { return temporal.NewNonRetryableApplicationError(msg, typ, nil) }

func TestDeploy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		input      func(*contract.DeployInput)
		mock       func(env *testsuite.TestWorkflowEnvironment)
		cancelAt   time.Duration // cancel the workflow this long after it started
		wantErr    string        // substring of the error; "" for success
		wantType   string        // application error type, when wantErr
		wantCancel bool
		wantSteps  map[string]string
	}{
		{
			name: "first deploy runs every step and records the release by digest",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				upToApply(env, activities.LatestReleaseResult{})
				env.OnActivity(kubeActs.Apply, mock.Anything, mock.MatchedBy(func(in activities.ApplyInput) bool {
					return in.Image == newRef && in.ReleaseID == "op2"
				})).Return(applied, nil).Once()
				env.OnActivity(kubeActs.WaitRollout, mock.Anything, withDeadline).
					Return(activities.WaitRolloutResult{RolloutProgress: activities.RolloutProgress{Desired: 2, Available: 2}}, nil)
				env.OnActivity(storeActs.RecordRelease, mock.Anything, mock.MatchedBy(func(in activities.RecordReleaseInput) bool {
					return in.Image == newRef && in.ComponentID == "c1" && in.ReleaseID == "op2"
				})).Return(activities.RecordReleaseResult{ReleaseID: "op2"}, nil)
			},
			wantSteps: map[string]string{
				StepResolveImage: contract.StepSucceeded, StepEnsureNamespace: contract.StepSucceeded, StepCurrentRelease: contract.StepSucceeded,
				StepApply: contract.StepSucceeded, StepWaitRollout: contract.StepSucceeded, StepRecordRelease: contract.StepSucceeded,
			},
		},
		{
			name: "a missing image fails the operation at once, with the registry's reason",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(registryActs.ResolveImage, mock.Anything, mock.Anything).Return(activities.ResolveImageResult{},
					appErr("image 127.0.0.1:5056/web:v2 not found in registry 127.0.0.1:5056", activities.ErrTypeImageNotFound)).Once()
			},
			wantErr: "not found in registry", wantType: activities.ErrTypeImageNotFound,
			wantSteps: map[string]string{StepResolveImage: contract.StepFailed, StepEnsureNamespace: contract.StepPending, StepApply: contract.StepPending},
		},
		{
			name: "a failed first deploy has nothing to go back to",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				upToApply(env, activities.LatestReleaseResult{})
				env.OnActivity(kubeActs.Apply, mock.Anything, applyOf(newRef)).Return(applied, nil).Once()
				env.OnActivity(kubeActs.WaitRollout, mock.Anything, mock.Anything).Return(activities.WaitRolloutResult{},
					appErr("rollout of acme/shop-web failed: CrashLoopBackOff", activities.ErrTypeRolloutFailed))
			},
			wantErr: "CrashLoopBackOff", wantType: activities.ErrTypeRolloutFailed,
			wantSteps: map[string]string{StepWaitRollout: contract.StepFailed, StepRecordRelease: contract.StepPending, StepRollBack: ""},
		},
		{
			name: "a failed upgrade goes back to the release that ran before, spec and all",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				upToApply(env, prevRelease)
				env.OnActivity(kubeActs.Apply, mock.Anything, applyOf(newRef)).Return(applied, nil).Once()
				env.OnActivity(kubeActs.WaitRollout, mock.Anything, withDeadline).Return(activities.WaitRolloutResult{},
					appErr("rollout of acme/shop-web not complete by its deadline", activities.ErrTypeRolloutStalled)).Once()
				env.OnActivity(kubeActs.Apply, mock.Anything, mock.MatchedBy(func(in activities.ApplyInput) bool {
					return in.Image == prevRef && in.ReleaseID == "op1" && len(in.Spec.Env) == 1
				})).Return(applied, nil).Once()
				env.OnActivity(kubeActs.WaitRollout, mock.Anything, withDeadline).Return(activities.WaitRolloutResult{}, nil).Once()
			},
			wantErr: "went back to release op1", wantType: ErrTypeUpgradeFailed,
			wantSteps: map[string]string{StepWaitRollout: contract.StepFailed, StepRollBack: contract.StepSucceeded, StepRecordRelease: contract.StepPending},
		},
		{
			name:  "no rollback when the caller asked for none",
			input: func(in *contract.DeployInput) { in.NoRollback = true },
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				upToApply(env, prevRelease)
				env.OnActivity(kubeActs.Apply, mock.Anything, applyOf(newRef)).Return(applied, nil).Once()
				env.OnActivity(kubeActs.WaitRollout, mock.Anything, mock.Anything).Return(activities.WaitRolloutResult{},
					appErr("rollout failed", activities.ErrTypeRolloutFailed)).Once()
			},
			wantErr: "rollout failed", wantType: activities.ErrTypeRolloutFailed,
			wantSteps: map[string]string{StepWaitRollout: contract.StepFailed, StepRollBack: ""},
		},
		{
			name: "an apply Kubernetes refuses goes back too",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				upToApply(env, prevRelease)
				env.OnActivity(kubeActs.Apply, mock.Anything, applyOf(newRef)).Return(activities.ApplyResult{},
					appErr("apply deployment acme/shop-web: invalid", activities.ErrTypeInvalidSpec)).Once()
				env.OnActivity(kubeActs.Apply, mock.Anything, applyOf(prevRef)).Return(applied, nil).Once()
				env.OnActivity(kubeActs.WaitRollout, mock.Anything, mock.Anything).Return(activities.WaitRolloutResult{}, nil).Once()
			},
			wantErr: "went back to release op1", wantType: ErrTypeUpgradeFailed,
			wantSteps: map[string]string{StepApply: contract.StepFailed, StepRollBack: contract.StepSucceeded},
		},
		{
			name: "when going back fails too, the error says both",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				upToApply(env, prevRelease)
				env.OnActivity(kubeActs.Apply, mock.Anything, applyOf(newRef)).Return(applied, nil).Once()
				env.OnActivity(kubeActs.WaitRollout, mock.Anything, mock.Anything).Return(activities.WaitRolloutResult{},
					appErr("new pods crash", activities.ErrTypeRolloutFailed)).Once()
				env.OnActivity(kubeActs.Apply, mock.Anything, applyOf(prevRef)).Return(activities.ApplyResult{},
					appErr("forbidden", activities.ErrTypeForbidden)).Once()
			},
			wantErr: "new pods crash; going back to release op1 failed too: forbidden", wantType: ErrTypeUpgradeFailed,
			wantSteps: map[string]string{StepRollBack: contract.StepFailed},
		},
		{
			name: "cancelling an upgrade goes back, then ends as canceled",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				upToApply(env, prevRelease)
				env.OnActivity(kubeActs.Apply, mock.Anything, applyOf(newRef)).Return(applied, nil).Once()
				env.OnActivity(kubeActs.WaitRollout, mock.Anything, mock.Anything).After(time.Hour).
					Return(activities.WaitRolloutResult{}, nil).Once()
				env.OnActivity(kubeActs.Apply, mock.Anything, applyOf(prevRef)).Return(applied, nil).Once()
				env.OnActivity(kubeActs.WaitRollout, mock.Anything, mock.Anything).Return(activities.WaitRolloutResult{}, nil).Once()
			},
			cancelAt:   time.Minute,
			wantCancel: true,
			wantSteps:  map[string]string{StepRollBack: contract.StepSucceeded, StepRecordRelease: contract.StepPending},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t)
			tt.mock(env)
			in := deployInput()
			if tt.input != nil {
				tt.input(&in)
			}
			if tt.cancelAt > 0 {
				env.RegisterDelayedCallback(env.CancelWorkflow, tt.cancelAt)
			}
			env.ExecuteWorkflow(contract.WorkflowDeploy, in)
			require.True(t, env.IsWorkflowCompleted())
			err := env.GetWorkflowError()
			switch {
			case tt.wantCancel:
				var canceled *temporal.CanceledError
				require.True(t, errors.As(err, &canceled), "want canceled, got %v", err)
			case tt.wantErr != "":
				var app *temporal.ApplicationError
				require.True(t, errors.As(err, &app), "want an application error, got %v", err)
				require.Contains(t, app.Error(), tt.wantErr)
				require.Equal(t, tt.wantType, app.Type())
			default:
				require.NoError(t, err)
				var res contract.DeployResult
				require.NoError(t, env.GetWorkflowResult(&res))
				require.Equal(t, contract.DeployResult{ReleaseID: "op2", ImageDigest: newRef, Workload: "shop-web"}, res)
			}
			requireSteps(t, env, tt.wantSteps)
			env.AssertExpectations(t)
		})
	}
}

func TestRollback(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	in := deployInput()
	in.Spec = prevRelease.Spec
	in.Spec.Image = prevRef
	env.OnActivity(registryActs.ResolveImage, mock.Anything, activities.ResolveImageInput{Image: prevRef}).
		Return(activities.ResolveImageResult{Digest: "sha256:1111", Ref: prevRef}, nil)
	env.OnActivity(kubeActs.EnsureNamespace, mock.Anything, mock.Anything).Return(activities.EnsureNamespaceResult{Namespace: "acme"}, nil)
	env.OnActivity(storeActs.LatestRelease, mock.Anything, mock.Anything).Return(activities.LatestReleaseResult{Found: true, ReleaseID: "op2", Image: newRef}, nil)
	env.OnActivity(kubeActs.Apply, mock.Anything, mock.MatchedBy(func(in activities.ApplyInput) bool {
		return in.Image == prevRef && in.ReleaseID == "op2" && len(in.Spec.Env) == 1
	})).Return(applied, nil).Once()
	env.OnActivity(kubeActs.WaitRollout, mock.Anything, mock.Anything).Return(activities.WaitRolloutResult{}, nil)
	env.OnActivity(storeActs.RecordRelease, mock.Anything, mock.MatchedBy(func(in activities.RecordReleaseInput) bool {
		return in.Image == prevRef && len(in.Spec.Env) == 1
	})).Return(activities.RecordReleaseResult{}, nil)
	env.ExecuteWorkflow(contract.WorkflowRollback, contract.RollbackInput{Deploy: in, ToReleaseID: "op1"})
	require.NoError(t, env.GetWorkflowError())
	q, err := env.QueryWorkflow(contract.QueryProgress)
	require.NoError(t, err)
	var p contract.OperationProgress
	require.NoError(t, q.Get(&p))
	require.Equal(t, contract.OperationRollback, p.Kind)
	env.AssertExpectations(t)
}

func requireSteps(t *testing.T, env *testsuite.TestWorkflowEnvironment, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, s := range queryProgress(t, env).Steps {
		got[s.Name] = s.State
	}
	for name, state := range want {
		require.Equal(t, state, got[name], "step %q (all: %v)", name, got)
	}
}

// queryProgress answers the workflow's progress query.
func queryProgress(t *testing.T, env *testsuite.TestWorkflowEnvironment) contract.OperationProgress {
	t.Helper()
	q, err := env.QueryWorkflow(contract.QueryProgress)
	require.NoError(t, err)
	var p contract.OperationProgress
	require.NoError(t, q.Get(&p))
	return p
}
