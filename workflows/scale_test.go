package workflows

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

func TestScale(t *testing.T) {
	t.Parallel()
	in := contract.ScaleInput{OperationID: "op1", Ref: webRef, ComponentID: "c1", Replicas: 3}
	tests := []lifecycleCase{
		{
			name: "scales the workload and waits for the new replicas behind the service",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.ScaleWorkload, anyInput, activities.ScaleWorkloadInput{Ref: webRef, Replicas: 3}).
					Return(scaled(2, 3, 5), nil).Once()
				env.OnActivity(kubeStub.WaitRollout, anyInput, activities.WaitRolloutInput{
					Namespace: "acme", Deployment: "shop-web", Service: "shop-web", Generation: 5, Deadline: rolloutDeadlineAt,
				}).Return(rolledOut(3), nil).Once()
			},
			wantSteps: wantStates(StepScale, contract.StepSucceeded, StepWaitRollout, contract.StepSucceeded),
			wantResult: func(t *testing.T, env *testsuite.TestWorkflowEnvironment) {
				var res contract.ScaleResult
				require.NoError(t, env.GetWorkflowResult(&res))
				require.Equal(t, contract.ScaleResult{Workload: "shop-web", PreviousReplicas: 2, Replicas: 3, ReadyEndpoints: 3}, res)
			},
		},
		{
			name: "an API server that fails for a while is retried",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.ScaleWorkload, anyInput, anyInput).
					Return(activities.ScaleWorkloadResult{}, errors.New("get deployment acme/shop-web: connection refused")).Twice()
				env.OnActivity(kubeStub.ScaleWorkload, anyInput, anyInput).Return(scaled(2, 3, 5), nil).Once()
				env.OnActivity(kubeStub.WaitRollout, anyInput, anyInput).Return(rolledOut(3), nil).Once()
			},
			wantSteps: wantStates(StepScale, contract.StepSucceeded, StepWaitRollout, contract.StepSucceeded),
		},
		{
			name: "replicas out of range fail at once",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.ScaleWorkload, anyInput, anyInput).Return(activities.ScaleWorkloadResult{},
					temporal.NewNonRetryableApplicationError("scale component acme/shop/web: replicas 101: must be between 0 and 100",
						activities.ErrTypeInvalidSpec, nil)).Once()
			},
			wantErr: "must be between 0 and 100", wantType: activities.ErrTypeInvalidSpec,
			wantSteps: wantStates(StepScale, contract.StepFailed, StepWaitRollout, contract.StepPending),
		},
		{
			name: "a component never deployed fails at once, saying so",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.ScaleWorkload, anyInput, anyInput).Return(activities.ScaleWorkloadResult{}, workloadNotFound()).Once()
			},
			wantErr: "deploy it first", wantType: activities.ErrTypeWorkloadNotFound,
			wantSteps: wantStates(StepScale, contract.StepFailed, StepWaitRollout, contract.StepPending),
		},
		{
			name: "new replicas that never become ready fail the wait",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.ScaleWorkload, anyInput, anyInput).Return(scaled(2, 3, 5), nil).Once()
				env.OnActivity(kubeStub.WaitRollout, anyInput, anyInput).Return(activities.WaitRolloutResult{}, rolloutFailed()).Once()
			},
			wantErr: "CrashLoopBackOff", wantType: activities.ErrTypeRolloutFailed,
			wantSteps: wantStates(StepScale, contract.StepSucceeded, StepWaitRollout, contract.StepFailed),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runLifecycle(t, tt, contract.WorkflowScale, in)
		})
	}
}
