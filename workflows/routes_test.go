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

var (
	wwwRoute = contract.Route{Name: "www", Kind: contract.RouteHTTP, Host: "shop.example.com", Path: "/", PathType: contract.PathPrefix,
		PortName: "http", Port: 8080, Certificate: "tls"}
	oldRoute = contract.Route{Name: "old", Kind: contract.RouteHTTP, Host: "old.example.com", Path: "/", PathType: contract.PathPrefix,
		PortName: "http", Port: 8080}
	webPorts = []contract.Port{{Name: "http", Port: 8080, Protocol: "TCP"}}
)

func newRoutesEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	env := newEnv(t)
	env.RegisterActivity(&activities.Routes{})
	return env
}

func routesInput() contract.RoutesInput {
	return contract.RoutesInput{OperationID: "op3", ComponentID: "c1", Ref: contract.ComponentRef{Tenant: "acme", App: "shop", Component: "web"}}
}

// running is the release a Routes operation applies to: the spec, image and secret env stay.
var running = activities.LatestReleaseResult{
	Found: true, ReleaseID: "op2", Image: newRef, SecretEnvVersion: 3, Routes: []contract.Route{oldRoute},
	Spec: contract.ComponentSpec{Image: "127.0.0.1:5056/web:v2", Replicas: 2, Ports: webPorts},
}

func applyRoutesOf(release string, routes ...contract.Route) any {
	return mock.MatchedBy(func(in activities.ApplyRoutesInput) bool {
		return in.ReleaseID == release && in.Ref.Component == "web" && len(in.Ports) == 1 &&
			len(in.Routes) == len(routes) && (len(routes) == 0 || in.Routes[0] == routes[0])
	})
}

func TestRoutesWorkflow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		mock       func(env *testsuite.TestWorkflowEnvironment)
		wantErr    string
		wantResult contract.RoutesResult
		wantSteps  map[string]string
	}{
		{
			name: "applies the current routes and records a release of the same image, spec and secret env",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(storeActs.LatestRelease, mock.Anything, activities.LatestReleaseInput{ComponentID: "c1"}).Return(running, nil)
				env.OnActivity(routeActs.ComponentRoutes, mock.Anything, activities.ComponentRoutesInput{ComponentID: "c1"}).
					Return(activities.ComponentRoutesResult{Routes: []contract.Route{wwwRoute}}, nil)
				env.OnActivity(routeActs.ApplyRoutes, mock.Anything, applyRoutesOf("op3", wwwRoute)).
					Return(activities.ApplyRoutesResult{Applied: []string{"Secret/shop-web-tls-tls", "Ingress/shop-web-www"}, Pruned: []string{"Ingress/shop-web-old"}}, nil).Once()
				env.OnActivity(storeActs.RecordRelease, mock.Anything, activities.RecordReleaseInput{
					ReleaseID: "op3", ComponentID: "c1", OperationID: "op3", Image: newRef, Spec: running.Spec, SecretEnvVersion: 3,
					Routes: []contract.Route{wwwRoute},
				}).Return(activities.RecordReleaseResult{ReleaseID: "op3"}, nil).Once()
			},
			wantResult: contract.RoutesResult{ReleaseID: "op3", Applied: []string{"Secret/shop-web-tls-tls", "Ingress/shop-web-www"},
				Pruned: []string{"Ingress/shop-web-old"}},
			wantSteps: map[string]string{StepCurrentRelease: contract.StepSucceeded, StepReadRoutes: contract.StepSucceeded,
				StepApplyRoutes: contract.StepSucceeded, StepRecordRelease: contract.StepSucceeded},
		},
		{
			name: "a component never deployed has nothing to apply to",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(storeActs.LatestRelease, mock.Anything, mock.Anything).Return(activities.LatestReleaseResult{}, nil)
			},
			wantSteps: map[string]string{StepReadRoutes: contract.StepSucceeded, StepApplyRoutes: contract.StepSucceeded,
				StepRecordRelease: contract.StepSucceeded},
		},
		{
			name: "a failed apply applies the running release's routes again",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(storeActs.LatestRelease, mock.Anything, mock.Anything).Return(running, nil)
				env.OnActivity(routeActs.ComponentRoutes, mock.Anything, mock.Anything).
					Return(activities.ComponentRoutesResult{Routes: []contract.Route{wwwRoute}}, nil)
				env.OnActivity(routeActs.ApplyRoutes, mock.Anything, applyRoutesOf("op3", wwwRoute)).
					Return(activities.ApplyRoutesResult{}, appErr(`certificate "tls" not found`, activities.ErrTypeCertificateUnavailable)).Once()
				env.OnActivity(routeActs.ApplyRoutes, mock.Anything, applyRoutesOf("op2", oldRoute)).
					Return(activities.ApplyRoutesResult{}, nil).Once()
			},
			wantErr: `certificate "tls" not found`,
			wantSteps: map[string]string{StepApplyRoutes: contract.StepFailed, StepRollBack: contract.StepSucceeded,
				StepRecordRelease: contract.StepPending},
		},
		{
			name: "a deleted component fails for good",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				env.OnActivity(storeActs.LatestRelease, mock.Anything, mock.Anything).Return(activities.LatestReleaseResult{},
					appErr("component c1 was deleted", activities.ErrTypeComponentDeleted))
			},
			wantErr:   "was deleted",
			wantSteps: map[string]string{StepCurrentRelease: contract.StepFailed, StepApplyRoutes: contract.StepPending},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newRoutesEnv(t)
			tt.mock(env)
			env.ExecuteWorkflow(contract.WorkflowRoutes, routesInput())
			require.True(t, env.IsWorkflowCompleted())
			err := env.GetWorkflowError()
			if tt.wantErr != "" {
				var app *temporal.ApplicationError
				require.True(t, errors.As(err, &app), "want an application error, got %v", err)
				require.Contains(t, app.Error(), tt.wantErr)
			} else {
				require.NoError(t, err)
				var res contract.RoutesResult
				require.NoError(t, env.GetWorkflowResult(&res))
				require.Equal(t, tt.wantResult, res)
			}
			requireSteps(t, env, tt.wantSteps)
			env.AssertExpectations(t)
		})
	}
}

// stepNames answers the operation's steps in order.
func stepNames(t *testing.T, env *testsuite.TestWorkflowEnvironment) []string {
	t.Helper()
	q, err := env.QueryWorkflow(contract.QueryProgress)
	require.NoError(t, err)
	var p contract.OperationProgress
	require.NoError(t, q.Get(&p))
	var names []string
	for _, s := range p.Steps {
		names = append(names, s.Name)
	}
	return names
}

func TestDeployRoutes(t *testing.T) {
	t.Parallel()
	withRoutes := func(in *contract.DeployInput) { in.Routes = []contract.Route{wwwRoute}; in.Spec.Ports = webPorts }
	prevWithRoutes := prevRelease
	prevWithRoutes.Spec.Ports = webPorts
	prevWithRoutes.Routes = []contract.Route{oldRoute}
	rolledOut := func(env *testsuite.TestWorkflowEnvironment, prev activities.LatestReleaseResult) {
		upToApply(env, prev)
		env.OnActivity(kubeActs.Apply, mock.Anything, applyOf(newRef)).Return(applied, nil).Once()
		env.OnActivity(kubeActs.WaitRollout, mock.Anything, withDeadline).Return(activities.WaitRolloutResult{}, nil).Once()
	}
	recorded := func(env *testsuite.TestWorkflowEnvironment, routes int) {
		env.OnActivity(storeActs.RecordRelease, mock.Anything, mock.MatchedBy(func(in activities.RecordReleaseInput) bool {
			return in.ReleaseID == "op2" && len(in.Routes) == routes
		})).Return(activities.RecordReleaseResult{ReleaseID: "op2"}, nil).Once()
	}
	all := []string{StepResolveImage, StepEnsureNamespace, StepCurrentRelease, StepApply, StepWaitRollout, StepApplyRoutes, StepRecordRelease}
	tests := []struct {
		name      string
		input     func(*contract.DeployInput)
		mock      func(env *testsuite.TestWorkflowEnvironment)
		wantErr   string
		wantSteps []string
	}{
		{
			name: "a deploy applies its routes after the rollout and records them with the release", input: withRoutes,
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				rolledOut(env, activities.LatestReleaseResult{})
				env.OnActivity(routeActs.ApplyRoutes, mock.Anything, applyRoutesOf("op2", wwwRoute)).Return(activities.ApplyRoutesResult{}, nil).Once()
				recorded(env, 1)
			},
			wantSteps: all,
		},
		{
			name: "a component that never had routes has no routes step",
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				rolledOut(env, prevRelease)
				recorded(env, 0)
			},
			wantSteps: []string{StepResolveImage, StepEnsureNamespace, StepCurrentRelease, StepApply, StepWaitRollout, StepRecordRelease},
		},
		{
			name:  "routes of the release before that are gone now are pruned",
			input: func(in *contract.DeployInput) { in.Spec.Ports = webPorts },
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				rolledOut(env, prevWithRoutes)
				env.OnActivity(routeActs.ApplyRoutes, mock.Anything, applyRoutesOf("op2")).Return(activities.ApplyRoutesResult{}, nil).Once()
				recorded(env, 0)
			},
			wantSteps: all,
		},
		{
			name: "routes that fail to apply take the upgrade back, routes and all", input: withRoutes,
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				rolledOut(env, prevWithRoutes)
				env.OnActivity(routeActs.ApplyRoutes, mock.Anything, applyRoutesOf("op2", wwwRoute)).
					Return(activities.ApplyRoutesResult{}, appErr("certificate gone", activities.ErrTypeCertificateUnavailable)).Once()
				env.OnActivity(kubeActs.Apply, mock.Anything, applyOf(prevRef)).Return(applied, nil).Once()
				env.OnActivity(kubeActs.WaitRollout, mock.Anything, withDeadline).Return(activities.WaitRolloutResult{}, nil).Once()
				env.OnActivity(routeActs.ApplyRoutes, mock.Anything, applyRoutesOf("op1", oldRoute)).Return(activities.ApplyRoutesResult{}, nil).Once()
			},
			wantErr:   "certificate gone; went back to release op1",
			wantSteps: append(all, StepRollBack),
		},
		{
			name: "a rollout that fails before the routes leaves them be", input: withRoutes,
			mock: func(env *testsuite.TestWorkflowEnvironment) {
				upToApply(env, prevWithRoutes)
				env.OnActivity(kubeActs.Apply, mock.Anything, applyOf(newRef)).Return(applied, nil).Once()
				env.OnActivity(kubeActs.WaitRollout, mock.Anything, withDeadline).Return(activities.WaitRolloutResult{},
					appErr("rollout failed", activities.ErrTypeRolloutFailed)).Once()
				env.OnActivity(kubeActs.Apply, mock.Anything, applyOf(prevRef)).Return(applied, nil).Once()
				env.OnActivity(kubeActs.WaitRollout, mock.Anything, withDeadline).Return(activities.WaitRolloutResult{}, nil).Once()
			},
			wantErr:   "rollout failed; went back to release op1",
			wantSteps: append(all, StepRollBack),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newRoutesEnv(t)
			tt.mock(env)
			in := deployInput()
			if tt.input != nil {
				tt.input(&in)
			}
			env.ExecuteWorkflow(contract.WorkflowDeploy, in)
			require.True(t, env.IsWorkflowCompleted())
			if tt.wantErr != "" {
				require.ErrorContains(t, env.GetWorkflowError(), tt.wantErr)
			} else {
				require.NoError(t, env.GetWorkflowError())
			}
			require.Equal(t, tt.wantSteps, stepNames(t, env))
			env.AssertExpectations(t)
		})
	}
}
