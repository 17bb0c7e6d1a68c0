package workflows

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

func TestDelete(t *testing.T) {
	t.Parallel()
	storeStub := (*activities.Store)(nil)
	deleteIn := func(volumes bool) activities.DeleteComponentInput {
		return activities.DeleteComponentInput{Ref: webRef, DeleteVolumes: volumes}
	}
	forgetIn := activities.ForgetComponentInput{ComponentID: "c1"}
	deletedAll := activities.DeleteComponentResult{Namespace: "acme",
		Deleted:     []string{"Deployment/shop-web", "Pod/shop-web-debug", "Service/shop-web"},
		KeptVolumes: []string{"data-shop-web"}}
	tests := []struct {
		name     string
		volumes  bool
		mock     func(env *testsuite.TestWorkflowEnvironment)
		cancelAt time.Duration // cancel the workflow this long after it started; 0 never
		// wantErr is a substring of the application error; "" for success (or a cancel, with wantCancel).
		wantErr    string
		wantType   string
		wantCancel bool
		wantSteps  map[string]string
		wantResult contract.DeleteResult
		wantDetail map[string]string // step details, for the steps named
	}{
		{
			name: "deletes every object, keeps the volumes, then forgets the component",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.DeleteComponent, anyInput, deleteIn(false)).Return(deletedAll, nil).Once()
				env.OnActivity(storeStub.ForgetComponent, anyInput, forgetIn).Return(activities.ForgetComponentResult{Forgotten: true}, nil).Once()
			},
			wantSteps: wantStates(StepDeleteObjects, contract.StepSucceeded, StepForgetComponent, contract.StepSucceeded),
			wantResult: contract.DeleteResult{Namespace: "acme", Deleted: deletedAll.Deleted, KeptVolumes: []string{"data-shop-web"},
				Forgotten: true},
			wantDetail: map[string]string{
				StepDeleteObjects: "deleted 3 object(s): Deployment/shop-web, Pod/shop-web-debug, Service/shop-web; " +
					"kept 1 volume claim(s): data-shop-web",
				StepForgetComponent: "record and releases deleted",
			},
		},
		{
			name:    "asked to, deletes the volumes too",
			volumes: true,
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.DeleteComponent, anyInput, deleteIn(true)).Return(activities.DeleteComponentResult{
					Namespace: "acme", Deleted: []string{"PersistentVolumeClaim/data-shop-web", "Service/shop-web"}}, nil).Once()
				env.OnActivity(storeStub.ForgetComponent, anyInput, forgetIn).Return(activities.ForgetComponentResult{Forgotten: true}, nil).Once()
			},
			wantSteps: wantStates(StepDeleteObjects, contract.StepSucceeded, StepForgetComponent, contract.StepSucceeded),
			wantResult: contract.DeleteResult{Namespace: "acme", Deleted: []string{"PersistentVolumeClaim/data-shop-web", "Service/shop-web"},
				Forgotten: true},
		},
		{
			name: "a component already gone (a second delete) succeeds at once",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.DeleteComponent, anyInput, deleteIn(false)).Return(activities.DeleteComponentResult{Namespace: "acme"}, nil).Once()
				env.OnActivity(storeStub.ForgetComponent, anyInput, forgetIn).Return(activities.ForgetComponentResult{}, nil).Once()
			},
			wantSteps:  wantStates(StepDeleteObjects, contract.StepSucceeded, StepForgetComponent, contract.StepSucceeded),
			wantResult: contract.DeleteResult{Namespace: "acme"},
			wantDetail: map[string]string{StepDeleteObjects: "nothing was left to delete", StepForgetComponent: "the record was gone already"},
		},
		{
			name: "a delete that fails for good keeps the record",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.DeleteComponent, anyInput, anyInput).Return(activities.DeleteComponentResult{},
					appErr(`delete Deployment acme/shop-web: deployments.apps "shop-web" is forbidden`, activities.ErrTypeForbidden)).Once()
			},
			wantErr: "is forbidden", wantType: activities.ErrTypeForbidden,
			wantSteps: wantStates(StepDeleteObjects, contract.StepFailed, StepForgetComponent, contract.StepPending),
		},
		{
			name: "a Kubernetes API that is down for a moment is retried",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.DeleteComponent, anyInput, anyInput).Return(activities.DeleteComponentResult{},
					errors.New("list Deployments in acme: connection refused")).Once()
				env.OnActivity(kubeStub.DeleteComponent, anyInput, anyInput).Return(deletedAll, nil).Once()
				env.OnActivity(storeStub.ForgetComponent, anyInput, forgetIn).Return(activities.ForgetComponentResult{Forgotten: true}, nil).Once()
			},
			wantSteps: wantStates(StepDeleteObjects, contract.StepSucceeded, StepForgetComponent, contract.StepSucceeded),
			wantResult: contract.DeleteResult{Namespace: "acme", Deleted: deletedAll.Deleted, KeptVolumes: []string{"data-shop-web"},
				Forgotten: true},
		},
		{
			name: "a database that is down for a moment is retried",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.DeleteComponent, anyInput, anyInput).Return(deletedAll, nil).Once()
				env.OnActivity(storeStub.ForgetComponent, anyInput, forgetIn).Return(activities.ForgetComponentResult{},
					errors.New("forget component c1: dial tcp 127.0.0.1:3306: connection refused")).Twice()
				env.OnActivity(storeStub.ForgetComponent, anyInput, forgetIn).Return(activities.ForgetComponentResult{Forgotten: true}, nil).Once()
			},
			wantSteps: wantStates(StepDeleteObjects, contract.StepSucceeded, StepForgetComponent, contract.StepSucceeded),
			wantResult: contract.DeleteResult{Namespace: "acme", Deleted: deletedAll.Deleted, KeptVolumes: []string{"data-shop-web"},
				Forgotten: true},
		},
		{
			name: "a database that stays down fails the delete after the objects are gone",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.DeleteComponent, anyInput, anyInput).Return(deletedAll, nil).Once()
				env.OnActivity(storeStub.ForgetComponent, anyInput, forgetIn).Return(activities.ForgetComponentResult{},
					errors.New("forget component c1: dial tcp 127.0.0.1:3306: connection refused"))
			},
			wantErr:   "connection refused",
			wantSteps: wantStates(StepDeleteObjects, contract.StepSucceeded, StepForgetComponent, contract.StepFailed),
		},
		{
			name: "a store that cannot forget fails the delete at once",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.DeleteComponent, anyInput, anyInput).Return(deletedAll, nil).Once()
				env.OnActivity(storeStub.ForgetComponent, anyInput, forgetIn).Return(activities.ForgetComponentResult{},
					appErr("forget component c1: the worker's store cannot delete components", activities.ErrTypeInvalidSpec)).Once()
			},
			wantErr: "cannot delete components", wantType: activities.ErrTypeInvalidSpec,
			wantSteps: wantStates(StepDeleteObjects, contract.StepSucceeded, StepForgetComponent, contract.StepFailed),
		},
		{
			name: "a delete canceled while it waits for the objects to go ends canceled and keeps the record",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(kubeStub.DeleteComponent, anyInput, anyInput).After(time.Hour).Return(deletedAll, nil).Once()
			},
			cancelAt:   time.Minute,
			wantCancel: true,
			wantSteps:  wantStates(StepDeleteObjects, contract.StepFailed, StepForgetComponent, contract.StepPending),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			env.SetStartTime(startedAt)
			Register(env)
			env.RegisterActivity(&activities.Kube{})
			env.RegisterActivity(&activities.Store{})
			tt.mock(env)
			if tt.cancelAt > 0 {
				env.RegisterDelayedCallback(env.CancelWorkflow, tt.cancelAt)
			}
			env.ExecuteWorkflow(contract.WorkflowDelete, contract.DeleteInput{OperationID: "op1", Ref: webRef, ComponentID: "c1",
				DeleteVolumes: tt.volumes, RequestedBy: "alice"})
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
				if tt.wantType != "" {
					require.Equal(t, tt.wantType, app.Type())
				}
			default:
				require.NoError(t, err)
				var res contract.DeleteResult
				require.NoError(t, env.GetWorkflowResult(&res))
				require.Equal(t, tt.wantResult, res)
			}
			require.Equal(t, tt.wantSteps, stepStates(t, env))
			for name, want := range tt.wantDetail {
				require.Equal(t, want, stepOf(t, env, name).Detail, "step %s", name)
			}
			env.AssertExpectations(t)
		})
	}
}

// TestDeleteProgress checks the progress query's kind and steps before anything ran.
func TestDeleteProgress(t *testing.T) {
	t.Parallel()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	Register(env)
	env.RegisterActivity(&activities.Kube{})
	env.RegisterActivity(&activities.Store{})
	env.OnActivity(kubeStub.DeleteComponent, anyInput, anyInput).After(time.Hour).Return(activities.DeleteComponentResult{}, nil).Once()
	env.OnActivity((*activities.Store)(nil).ForgetComponent, anyInput, anyInput).Return(activities.ForgetComponentResult{}, nil).Once()
	env.RegisterDelayedCallback(func() {
		q, err := env.QueryWorkflow(contract.QueryProgress)
		require.NoError(t, err)
		var p contract.OperationProgress
		require.NoError(t, q.Get(&p))
		require.Equal(t, contract.OperationDelete, p.Kind)
		require.Len(t, p.Steps, 2)
		require.Equal(t, contract.Step{Name: StepDeleteObjects, State: contract.StepRunning, Started: p.Steps[0].Started}, p.Steps[0])
		require.Equal(t, contract.Step{Name: StepForgetComponent, State: contract.StepPending}, p.Steps[1])
	}, time.Minute)
	env.ExecuteWorkflow(contract.WorkflowDelete, contract.DeleteInput{OperationID: "op1", Ref: webRef, ComponentID: "c1"})
	require.NoError(t, env.GetWorkflowError())
	env.AssertExpectations(t)
}

// stepOf answers one step as the progress query reports it.
func stepOf(t *testing.T, env *testsuite.TestWorkflowEnvironment, name string) contract.Step {
	t.Helper()
	q, err := env.QueryWorkflow(contract.QueryProgress)
	require.NoError(t, err)
	var p contract.OperationProgress
	require.NoError(t, q.Get(&p))
	for _, s := range p.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %q in %+v", name, p.Steps)
	return contract.Step{}
}
