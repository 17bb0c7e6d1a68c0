package workflows

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

// appRunTest runs an AppOperation with fake operation activities: each component operation takes
// opTime and ends as outcomes says (succeeded by default); it records when each was queued and ended.
type appRunTest struct {
	env      *testsuite.TestWorkflowEnvironment
	outcomes map[string]string
	opTime   time.Duration

	mu       sync.Mutex
	events   []string // "queue <component>", "end <component>"
	canceled []string
}

func newAppRunTest(t *testing.T) *appRunTest {
	var suite testsuite.WorkflowTestSuite
	a := &appRunTest{env: suite.NewTestWorkflowEnvironment(), outcomes: map[string]string{}, opTime: time.Minute}
	a.env.RegisterWorkflowWithOptions(AppOperation, workflow.RegisterOptions{Name: contract.WorkflowAppOperation})
	a.env.RegisterActivity(&activities.Operations{})
	a.env.OnActivity(operationActs.EnqueueOperation, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.EnqueueOperationInput) (contract.EnqueueResult, error) {
			a.note("queue " + in.Ref.Component)
			return contract.EnqueueResult{OperationID: in.Operation.OperationID}, nil
		})
	a.env.OnActivity(operationActs.AwaitOperation, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.AwaitOperationInput) (activities.AwaitOperationResult, error) {
			component := strings.Split(in.WorkflowID, "/")[3]
			select {
			case <-time.After(a.opTime / 1000): // the test clock does not run for activities: keep them short
			case <-ctx.Done():
				return activities.AwaitOperationResult{}, ctx.Err()
			}
			a.note("end " + component)
			outcome := a.outcomes[component]
			if outcome == "" || outcome == contract.ComponentSucceeded {
				return activities.AwaitOperationResult{Outcome: contract.ComponentSucceeded}, nil
			}
			return activities.AwaitOperationResult{Outcome: outcome, Error: "rollout of " + component + " failed"}, nil
		})
	a.env.OnActivity(operationActs.CancelOperation, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CancelOperationInput) error {
			a.mu.Lock()
			defer a.mu.Unlock()
			a.canceled = append(a.canceled, in.Ref.Component)
			return nil
		})
	return a
}

func (a *appRunTest) note(e string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
}

func (a *appRunTest) index(e string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Index(a.events, e)
}

// shopApp: web depends on api and cache, api on db; cache and db depend on nothing.
func shopApp(kind contract.OperationKind) contract.AppOperationInput {
	comp := func(name string, deps ...string) contract.AppComponentOperation {
		return contract.AppComponentOperation{Component: name, DependsOn: deps, OperationID: "op-" + name,
			Workflow: "Deploy", Input: []byte(`{"operationId":"op-` + name + `"}`)}
	}
	return contract.AppOperationInput{OperationID: "app-op", Tenant: "acme", App: "shop", Kind: kind, RequestedBy: "alice",
		Components: []contract.AppComponentOperation{comp("web", "api", "cache"), comp("api", "db"), comp("db"), comp("cache")}}
}

func (a *appRunTest) progress(t *testing.T) map[string]contract.Step {
	v, err := a.env.QueryWorkflow(contract.QueryProgress)
	require.NoError(t, err)
	var p contract.OperationProgress
	require.NoError(t, v.Get(&p))
	out := map[string]contract.Step{}
	for _, s := range p.Steps {
		out[s.Name] = s
	}
	return out
}

func TestAppOperationDeploysInDependencyOrder(t *testing.T) {
	t.Parallel()
	a := newAppRunTest(t)
	a.env.ExecuteWorkflow(contract.WorkflowAppOperation, shopApp(contract.OperationDeploy))
	require.NoError(t, a.env.GetWorkflowError())
	var res contract.AppOperationResult
	require.NoError(t, a.env.GetWorkflowResult(&res))
	require.Equal(t, map[string]string{"web": "succeeded", "api": "succeeded", "db": "succeeded", "cache": "succeeded"}, res.Components)

	for _, before := range [][2]string{{"db", "api"}, {"api", "web"}, {"cache", "web"}} {
		require.Less(t, a.index("end "+before[0]), a.index("queue "+before[1]), "%s must be ready before %s is queued: %v", before[0], before[1], a.events)
	}
	require.Less(t, a.index("queue cache"), a.index("end db"), "independent components run in parallel: %v", a.events)
	require.Less(t, a.index("queue db"), a.index("end cache"), "independent components run in parallel: %v", a.events)
	steps := a.progress(t)
	require.Len(t, steps, 4)
	require.Equal(t, contract.StepSucceeded, steps["deploy web"].State)
	require.Equal(t, "operation op-web (deploy/acme/shop/web/op-web)", steps["deploy web"].Detail)
}

func TestAppOperationStopsInReverseOrder(t *testing.T) {
	t.Parallel()
	a := newAppRunTest(t)
	a.env.ExecuteWorkflow(contract.WorkflowAppOperation, shopApp(contract.OperationStop))
	require.NoError(t, a.env.GetWorkflowError())
	for _, before := range [][2]string{{"web", "api"}, {"api", "db"}, {"web", "cache"}} {
		require.Less(t, a.index("end "+before[0]), a.index("queue "+before[1]), "%s must stop before %s: %v", before[0], before[1], a.events)
	}
}

func TestAppOperationSkipsWhatWaitsForAFailure(t *testing.T) {
	t.Parallel()
	a := newAppRunTest(t)
	a.outcomes["api"] = contract.ComponentFailed
	a.env.ExecuteWorkflow(contract.WorkflowAppOperation, shopApp(contract.OperationDeploy))

	var app *temporal.ApplicationError
	require.True(t, errors.As(a.env.GetWorkflowError(), &app), "%v", a.env.GetWorkflowError())
	require.Equal(t, ErrTypeAppOperation, app.Type())
	require.Equal(t, "2 of 4 components did not deploy: api failed (rollout of api failed); web skipped (waited for api, which failed)", app.Message())
	var res contract.AppOperationResult
	require.NoError(t, app.Details(&res))
	require.Equal(t, map[string]string{"web": "skipped", "api": "failed", "db": "succeeded", "cache": "succeeded"}, res.Components)
	require.Equal(t, -1, a.index("queue web"), "a component whose dependency failed is never queued")
	steps := a.progress(t)
	require.Equal(t, contract.StepFailed, steps["deploy api"].State)
	require.Contains(t, steps["deploy api"].Error, "operation op-api failed: rollout of api failed")
	require.Equal(t, contract.StepSkipped, steps["deploy web"].State)
	require.Equal(t, contract.StepSucceeded, steps["deploy cache"].State)
}

func TestAppOperationRefusesBadDependencies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		edit     func(in *contract.AppOperationInput)
		wantType string
		wantMsg  string
	}{
		{name: "cycle", edit: func(in *contract.AppOperationInput) { in.Components[2].DependsOn = []string{"web"} },
			wantType: ErrTypeDependencyCycle, wantMsg: "the dependencies form a cycle: api → db → web → api"},
		{name: "unknown", edit: func(in *contract.AppOperationInput) { in.Components[3].DependsOn = []string{"queue"} },
			wantType: ErrTypeUnknownDependency, wantMsg: `component "cache" depends on "queue", which the app does not have`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAppRunTest(t)
			in := shopApp(contract.OperationDeploy)
			tt.edit(&in)
			a.env.ExecuteWorkflow(contract.WorkflowAppOperation, in)
			var app *temporal.ApplicationError
			require.True(t, errors.As(a.env.GetWorkflowError(), &app), "%v", a.env.GetWorkflowError())
			require.Equal(t, tt.wantType, app.Type())
			require.Equal(t, tt.wantMsg, app.Message())
			require.True(t, app.NonRetryable())
			require.Empty(t, a.events, "nothing was queued")
		})
	}
}

func TestAppOperationCanceled(t *testing.T) {
	t.Parallel()
	a := newAppRunTest(t)
	a.opTime = time.Hour // 3.6 s of real time per operation
	a.env.RegisterDelayedCallback(a.env.CancelWorkflow, time.Second)
	a.env.ExecuteWorkflow(contract.WorkflowAppOperation, shopApp(contract.OperationDeploy))

	var canceled *temporal.CanceledError
	require.True(t, errors.As(a.env.GetWorkflowError(), &canceled), "%v", a.env.GetWorkflowError())
	slices.Sort(a.canceled)
	require.Equal(t, []string{"cache", "db"}, a.canceled, "the operations it queued are canceled; the others were never queued")
}
