package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

func TestRestart(t *testing.T) {
	t.Parallel()
	in := contract.RestartInput{OperationID: "op1", Ref: webRef, ComponentID: "c1"}
	restartedAt := startedAt.Format(time.RFC3339Nano) // the workflow's clock at its start
	restarted := activities.RestartWorkloadResult{Namespace: "acme", Deployment: "shop-web", Service: "shop-web", Replicas: 3, Generation: 9}
	tests := []lifecycleCase{
		{
			name: "stamps the pod template with the workflow's time and waits for the rolling update",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.RestartWorkload, anyInput, activities.RestartWorkloadInput{Ref: webRef, RestartedAt: restartedAt}).
					Return(restarted, nil).Once()
				env.OnActivity(kubeStub.WaitRollout, anyInput, activities.WaitRolloutInput{
					Namespace: "acme", Deployment: "shop-web", Service: "shop-web", Generation: 9, Deadline: rolloutDeadlineAt,
				}).Return(rolledOut(3), nil).Once()
			},
			wantSteps: wantStates(StepRestartPods, contract.StepSucceeded, StepWaitRollout, contract.StepSucceeded),
			wantResult: func(t *testing.T, env *testsuite.TestWorkflowEnvironment) {
				var res contract.RestartResult
				require.NoError(t, env.GetWorkflowResult(&res))
				require.Equal(t, contract.RestartResult{Workload: "shop-web", RestartedAt: restartedAt, Replicas: 3}, res)
			},
		},
		{
			name: "a component never deployed fails at once, saying so",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.RestartWorkload, anyInput, anyInput).Return(activities.RestartWorkloadResult{}, workloadNotFound()).Once()
			},
			wantErr: "deploy it first", wantType: activities.ErrTypeWorkloadNotFound,
			wantSteps: wantStates(StepRestartPods, contract.StepFailed, StepWaitRollout, contract.StepPending),
		},
		{
			name: "new pods that crash fail the wait",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.RestartWorkload, anyInput, anyInput).Return(restarted, nil).Once()
				env.OnActivity(kubeStub.WaitRollout, anyInput, anyInput).Return(activities.WaitRolloutResult{}, rolloutFailed()).Once()
			},
			wantErr: "CrashLoopBackOff", wantType: activities.ErrTypeRolloutFailed,
			wantSteps: wantStates(StepRestartPods, contract.StepSucceeded, StepWaitRollout, contract.StepFailed),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runLifecycle(t, tt, contract.WorkflowRestart, in)
		})
	}
}
