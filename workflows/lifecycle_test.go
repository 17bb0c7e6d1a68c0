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

// The lifecycle workflows' tests share these: one component, its workload, and how a case checks the
// outcome of a run.

var webRef = contract.ComponentRef{Tenant: "acme", App: "shop", Component: "web"}

var (
	kubeStub  *activities.Kube // activity references for OnActivity
	startedAt = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	// rolloutDeadlineAt is the rollout deadline of a run whose activities answer at once.
	rolloutDeadlineAt = startedAt.Add(contract.DefaultRolloutTimeoutSeconds * time.Second)
)

func scaled(previous, replicas int32, generation int64) activities.ScaleWorkloadResult {
	return activities.ScaleWorkloadResult{Namespace: "acme", Deployment: "shop-web", Service: "shop-web",
		Previous: previous, Replicas: replicas, Generation: generation}
}

func rolledOut(replicas int32) activities.WaitRolloutResult {
	return activities.WaitRolloutResult{RolloutProgress: activities.RolloutProgress{
		Desired: replicas, Updated: replicas, Ready: replicas, Available: replicas, Total: replicas, ReadyEndpoints: replicas,
	}}
}

func workloadNotFound() error {
	return temporal.NewNonRetryableApplicationError(
		"component acme/shop/web has no workload (deployment acme/shop-web not found): deploy it first",
		activities.ErrTypeWorkloadNotFound, nil)
}

func rolloutFailed() error {
	return temporal.NewNonRetryableApplicationError("rollout of acme/shop-web failed: pod shop-web-1 container web: CrashLoopBackOff",
		activities.ErrTypeRolloutFailed, nil)
}

// lifecycleCase is one run of a lifecycle workflow with mocked activities.
type lifecycleCase struct {
	name      string
	mock      func(env *testsuite.TestWorkflowEnvironment)
	wantErr   string // the application error's message contains it; "" for success
	wantType  string // the application error's type
	wantSteps map[string]string
	// wantResult, when set, checks the successful run's result.
	wantResult func(t *testing.T, env *testsuite.TestWorkflowEnvironment)
}

func runLifecycle(t *testing.T, tt lifecycleCase, workflowName string, input any) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(startedAt)
	Register(env)
	env.RegisterActivity(&activities.Kube{})
	if tt.mock != nil {
		tt.mock(env)
	}
	env.ExecuteWorkflow(workflowName, input)
	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	if tt.wantErr != "" {
		require.Error(t, err)
		var app *temporal.ApplicationError
		require.True(t, errors.As(err, &app), "want an application error, got %v", err)
		require.Contains(t, app.Error(), tt.wantErr)
		if tt.wantType != "" {
			require.Equal(t, tt.wantType, app.Type())
		}
	} else {
		require.NoError(t, err)
		if tt.wantResult != nil {
			tt.wantResult(t, env)
		}
	}
	require.Equal(t, tt.wantSteps, stepStates(t, env))
	env.AssertExpectations(t)
}

// stepStates answers every step's state, from the progress query.
func stepStates(t *testing.T, env *testsuite.TestWorkflowEnvironment) map[string]string {
	t.Helper()
	q, err := env.QueryWorkflow(contract.QueryProgress)
	require.NoError(t, err)
	var p contract.OperationProgress
	require.NoError(t, q.Get(&p))
	got := map[string]string{}
	for _, s := range p.Steps {
		got[s.Name] = s.State
		if s.State == contract.StepSucceeded || s.State == contract.StepFailed {
			require.NotNil(t, s.Started, "step %s", s.Name)
			require.NotNil(t, s.Finished, "step %s", s.Name)
		}
		if s.State == contract.StepFailed {
			require.NotEmpty(t, s.Error, "step %s", s.Name)
		}
	}
	return got
}

// wantStates answers a wantSteps map from name/state pairs.
func wantStates(pairs ...string) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(pairs); i += 2 {
		out[pairs[i]] = pairs[i+1]
	}
	return out
}

// anyInput matches any activity input; the mocks take (context, input).
var anyInput = mock.Anything
