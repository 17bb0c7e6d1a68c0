package workflows

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

func TestStop(t *testing.T) {
	t.Parallel()
	in := contract.StopInput{OperationID: "op1", Ref: webRef, ComponentID: "c1"}
	tests := []lifecycleCase{
		{
			name: "scales to zero and waits until no pod remains",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.ScaleWorkload, anyInput, activities.ScaleWorkloadInput{Ref: webRef, Replicas: 0}).
					Return(scaled(2, 0, 6), nil).Once()
				env.OnActivity(kubeStub.WaitNoPods, anyInput, activities.WaitNoPodsInput{Namespace: "acme", Deployment: "shop-web"}).
					Return(activities.WaitNoPodsResult{Stopped: 2}, nil).Once()
			},
			wantSteps: wantStates(StepScale, contract.StepSucceeded, StepWaitPodsGone, contract.StepSucceeded),
			wantResult: func(t *testing.T, env *testsuite.TestWorkflowEnvironment) {
				var res contract.StopResult
				require.NoError(t, env.GetWorkflowResult(&res))
				require.Equal(t, contract.StopResult{Workload: "shop-web", PreviousReplicas: 2}, res)
			},
		},
		{
			name: "a component never deployed fails at once, saying so",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.ScaleWorkload, anyInput, anyInput).Return(activities.ScaleWorkloadResult{}, workloadNotFound()).Once()
			},
			wantErr: "deploy it first", wantType: activities.ErrTypeWorkloadNotFound,
			wantSteps: wantStates(StepScale, contract.StepFailed, StepWaitPodsGone, contract.StepPending),
		},
		{
			name: "a wait that fails for good fails the stop",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.ScaleWorkload, anyInput, anyInput).Return(scaled(2, 0, 6), nil).Once()
				env.OnActivity(kubeStub.WaitNoPods, anyInput, anyInput).Return(activities.WaitNoPodsResult{},
					temporal.NewNonRetryableApplicationError("deployment acme/shop-web is gone", activities.ErrTypeWorkloadNotFound, nil)).Once()
			},
			wantErr: "deployment acme/shop-web is gone", wantType: activities.ErrTypeWorkloadNotFound,
			wantSteps: wantStates(StepScale, contract.StepSucceeded, StepWaitPodsGone, contract.StepFailed),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runLifecycle(t, tt, contract.WorkflowStop, in)
		})
	}
}
