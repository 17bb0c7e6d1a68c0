package workflows

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

func deployInput() contract.DeployInput {
	return contract.DeployInput{
		OperationID: "op1",
		ComponentID: "c1",
		Ref:         contract.ComponentRef{Tenant: "acme", App: "shop", Component: "web"},
		Spec:        contract.ComponentSpec{Image: "127.0.0.1:5056/web:v1", Replicas: 2},
	}
}

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(Deploy, workflowOptions(contract.WorkflowDeploy))
	env.RegisterActivity(&activities.Registry{})
	env.RegisterActivity(&activities.Kube{})
	env.RegisterActivity(&activities.Store{})
	return env
}

func TestDeploy(t *testing.T) {
	t.Parallel()
	const digestRef = "127.0.0.1:5056/web@sha256:aaaa"
	var (
		reg  *activities.Registry
		kube *activities.Kube
		st   *activities.Store
	)
	tests := []struct {
		name      string
		mock      func(env *testsuite.TestWorkflowEnvironment)
		wantErr   string
		wantSteps map[string]string
	}{
		{
			name: "first deploy runs every step and records the release by digest",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(reg.ResolveImage, mock.Anything, activities.ResolveImageInput{Image: "127.0.0.1:5056/web:v1"}).
					Return(activities.ResolveImageResult{Digest: "sha256:aaaa", Ref: digestRef}, nil)
				env.OnActivity(kube.EnsureNamespace, mock.Anything, activities.EnsureNamespaceInput{Tenant: "acme"}).
					Return(activities.EnsureNamespaceResult{Namespace: "acme"}, nil)
				env.OnActivity(kube.Apply, mock.Anything, mock.MatchedBy(func(in activities.ApplyInput) bool {
					return in.Image == digestRef && in.ReleaseID == "op1"
				})).Return(activities.ApplyResult{Namespace: "acme", Deployment: "shop-web", Generation: 1}, nil)
				env.OnActivity(kube.WaitRollout, mock.Anything, activities.WaitRolloutInput{Namespace: "acme", Deployment: "shop-web", Generation: 1}).
					Return(activities.WaitRolloutResult{RolloutProgress: activities.RolloutProgress{Desired: 2, Available: 2}}, nil)
				env.OnActivity(st.RecordRelease, mock.Anything, mock.MatchedBy(func(in activities.RecordReleaseInput) bool {
					return in.Image == digestRef && in.ComponentID == "c1" && in.ReleaseID == "op1"
				})).Return(activities.RecordReleaseResult{ReleaseID: "op1"}, nil)
			},
			wantSteps: map[string]string{
				StepResolveImage: contract.StepSucceeded, StepEnsureNamespace: contract.StepSucceeded, StepApply: contract.StepSucceeded,
				StepWaitRollout: contract.StepSucceeded, StepRecordRelease: contract.StepSucceeded,
			},
		},
		{
			name: "a missing image fails the operation at once, with the registry's reason",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(reg.ResolveImage, mock.Anything, mock.Anything).Return(activities.ResolveImageResult{},
					temporal.NewNonRetryableApplicationError("image 127.0.0.1:5056/web:v1 not found in registry 127.0.0.1:5056", activities.ErrTypeImageNotFound, nil)).Once()
			},
			wantErr: "not found in registry",
			wantSteps: map[string]string{
				StepResolveImage: contract.StepFailed, StepEnsureNamespace: contract.StepPending, StepApply: contract.StepPending,
			},
		},
		{
			name: "a rollout that fails is reported on its step and nothing is recorded",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(reg.ResolveImage, mock.Anything, mock.Anything).Return(activities.ResolveImageResult{Ref: digestRef}, nil)
				env.OnActivity(kube.EnsureNamespace, mock.Anything, mock.Anything).Return(activities.EnsureNamespaceResult{Namespace: "acme"}, nil)
				env.OnActivity(kube.Apply, mock.Anything, mock.Anything).Return(activities.ApplyResult{Namespace: "acme", Deployment: "shop-web", Generation: 2}, nil)
				env.OnActivity(kube.WaitRollout, mock.Anything, mock.Anything).Return(activities.WaitRolloutResult{},
					temporal.NewNonRetryableApplicationError("rollout of acme/shop-web failed: CrashLoopBackOff", activities.ErrTypeRolloutFailed, nil))
			},
			wantErr:   "CrashLoopBackOff",
			wantSteps: map[string]string{StepWaitRollout: contract.StepFailed, StepRecordRelease: contract.StepPending},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t)
			tt.mock(env)
			env.ExecuteWorkflow(contract.WorkflowDeploy, deployInput())
			require.True(t, env.IsWorkflowCompleted())
			err := env.GetWorkflowError()
			if tt.wantErr != "" {
				require.Error(t, err)
				var app *temporal.ApplicationError
				require.True(t, errors.As(err, &app), "want an application error, got %v", err)
				require.Contains(t, app.Error(), tt.wantErr)
			} else {
				require.NoError(t, err)
				var res contract.DeployResult
				require.NoError(t, env.GetWorkflowResult(&res))
				require.Equal(t, contract.DeployResult{ReleaseID: "op1", ImageDigest: digestRef, Workload: "shop-web"}, res)
			}
			q, err := env.QueryWorkflow(contract.QueryProgress)
			require.NoError(t, err)
			var p contract.OperationProgress
			require.NoError(t, q.Get(&p))
			got := map[string]string{}
			for _, s := range p.Steps {
				got[s.Name] = s.State
			}
			for name, state := range tt.wantSteps {
				require.Equal(t, state, got[name], "step %q", name)
			}
			env.AssertExpectations(t)
		})
	}
}
