package workflows

import (
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

// A deploy carries its secret env as a version number only: the apply reads that version, and the
// release records it; a failed upgrade goes back to the secret env version of the release before.
func TestDeploySecretEnvVersion(t *testing.T) {
	t.Parallel()
	applyWith := func(image string, version int64) any {
		return mock.MatchedBy(func(in activities.ApplyInput) bool {
			return in.Image == image && in.SecretEnvVersion == version && in.ComponentID == "c1"
		})
	}
	prev := prevRelease
	prev.SecretEnvVersion = 1
	tests := []struct {
		name     string
		workflow string
		input    func(in contract.DeployInput) any
		mock     func(env *testsuite.TestWorkflowEnvironment)
		wantErr  string
	}{
		{
			name: "deploy: apply and record version 3", workflow: contract.WorkflowDeploy,
			input: func(in contract.DeployInput) any { return in },
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				upToApply(env, prev)
				env.OnActivity(kubeActs.Apply, mock.Anything, applyWith(newRef, 3)).Return(applied, nil).Once()
				env.OnActivity(kubeActs.WaitRollout, mock.Anything, withDeadline).Return(activities.WaitRolloutResult{}, nil).Once()
				env.OnActivity(storeActs.RecordRelease, mock.Anything, mock.MatchedBy(func(in activities.RecordReleaseInput) bool {
					return in.SecretEnvVersion == 3
				})).Return(activities.RecordReleaseResult{ReleaseID: "op2"}, nil).Once()
			},
		},
		{
			name: "failed upgrade: back to the previous release's version 1", workflow: contract.WorkflowDeploy,
			input: func(in contract.DeployInput) any { return in },
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				upToApply(env, prev)
				env.OnActivity(kubeActs.Apply, mock.Anything, applyWith(newRef, 3)).Return(applied, nil).Once()
				env.OnActivity(kubeActs.WaitRollout, mock.Anything, withDeadline).Return(activities.WaitRolloutResult{},
					appErr("rollout failed", activities.ErrTypeRolloutFailed)).Once()
				env.OnActivity(kubeActs.Apply, mock.Anything, applyWith(prevRef, 1)).Return(applied, nil).Once()
				env.OnActivity(kubeActs.WaitRollout, mock.Anything, withDeadline).Return(activities.WaitRolloutResult{}, nil).Once()
			},
			wantErr: "went back to release op1",
		},
		{
			name: "rollback: the release's version", workflow: contract.WorkflowRollback,
			input: func(in contract.DeployInput) any {
				in.SecretEnvVersion = 1
				return contract.RollbackInput{Deploy: in, ToReleaseID: "op1"}
			},
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				upToApply(env, activities.LatestReleaseResult{Found: true, ReleaseID: "op9", Image: prevRef, SecretEnvVersion: 3})
				env.OnActivity(kubeActs.Apply, mock.Anything, applyWith(newRef, 1)).Return(applied, nil).Once()
				env.OnActivity(kubeActs.WaitRollout, mock.Anything, withDeadline).Return(activities.WaitRolloutResult{}, nil).Once()
				env.OnActivity(storeActs.RecordRelease, mock.Anything, mock.MatchedBy(func(in activities.RecordReleaseInput) bool {
					return in.SecretEnvVersion == 1
				})).Return(activities.RecordReleaseResult{ReleaseID: "op2"}, nil).Once()
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t)
			tt.mock(env)
			in := deployInput()
			in.SecretEnvVersion = 3
			env.ExecuteWorkflow(tt.workflow, tt.input(in))
			require.True(t, env.IsWorkflowCompleted())
			if tt.wantErr != "" {
				require.ErrorContains(t, env.GetWorkflowError(), tt.wantErr)
			} else {
				require.NoError(t, env.GetWorkflowError())
			}
			env.AssertExpectations(t)
		})
	}
}
