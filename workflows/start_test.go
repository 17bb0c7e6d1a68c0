package workflows

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

func TestStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lifecycleCase
		replicas int32 // the stored spec's
	}{
		{replicas: 2, lifecycleCase: lifecycleCase{
			name: "scales back to the stored replicas and waits until they are ready",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.ScaleWorkload, anyInput, activities.ScaleWorkloadInput{Ref: webRef, Replicas: 2}).
					Return(scaled(0, 2, 7), nil).Once()
				env.OnActivity(kubeStub.WaitRollout, anyInput, activities.WaitRolloutInput{
					Namespace: "acme", Deployment: "shop-web", Service: "shop-web", Generation: 7, Deadline: rolloutDeadlineAt,
				}).Return(rolledOut(2), nil).Once()
			},
			wantSteps: wantStates(StepScale, contract.StepSucceeded, StepWaitRollout, contract.StepSucceeded),
			wantResult: func(t *testing.T, env *testsuite.TestWorkflowEnvironment) {
				var res contract.StartResult
				require.NoError(t, env.GetWorkflowResult(&res))
				require.Equal(t, contract.StartResult{Workload: "shop-web", Replicas: 2, ReadyEndpoints: 2}, res)
			},
		}},
		{replicas: 0, lifecycleCase: lifecycleCase{
			name:    "a spec of zero replicas is refused before anything changes",
			wantErr: "starting it would run nothing", wantType: activities.ErrTypeInvalidSpec,
			wantSteps: wantStates(StepScale, contract.StepPending, StepWaitRollout, contract.StepPending),
		}},
		{replicas: 2, lifecycleCase: lifecycleCase{
			name: "a component never deployed fails at once, saying so",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.ScaleWorkload, anyInput, anyInput).Return(activities.ScaleWorkloadResult{}, workloadNotFound()).Once()
			},
			wantErr: "deploy it first", wantType: activities.ErrTypeWorkloadNotFound,
			wantSteps: wantStates(StepScale, contract.StepFailed, StepWaitRollout, contract.StepPending),
		}},
		{replicas: 2, lifecycleCase: lifecycleCase{
			name: "pods that do not come back fail the wait",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.ScaleWorkload, anyInput, anyInput).Return(scaled(0, 2, 7), nil).Once()
				env.OnActivity(kubeStub.WaitRollout, anyInput, anyInput).Return(activities.WaitRolloutResult{}, rolloutFailed()).Once()
			},
			wantErr: "CrashLoopBackOff", wantType: activities.ErrTypeRolloutFailed,
			wantSteps: wantStates(StepScale, contract.StepSucceeded, StepWaitRollout, contract.StepFailed),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := contract.StartInput{OperationID: "op1", Ref: webRef, ComponentID: "c1", Replicas: tt.replicas}
			runLifecycle(t, tt.lifecycleCase, contract.WorkflowStart, in)
		})
	}
}
