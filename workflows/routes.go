package workflows

import (
	"fmt"
	"slices"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

// Step names of the routes of a component, in a Routes operation and in a deploy.
const (
	StepReadRoutes  = "read routes"
	StepApplyRoutes = "apply routes"
)

// changeRoutes added applying the component's routes to the deploy (after the rollout, before the
// release is recorded; a failed upgrade's compensation restores the previous release's routes).
const changeRoutes = "deploy-routes"

// routeActs is the routes' activity struct, called through a nil pointer like the others.
var routeActs *activities.Routes

// Routes applies a component's current routes to the release that runs, and records a new release of
// the same image, spec and secret env with these routes: a route change takes effect without a
// redeploy. A component without a release has nothing to apply to (its first deploy applies its
// routes). When the apply fails, the routes of the release that ran before are applied again.
func Routes(ctx workflow.Context, in contract.RoutesInput) (contract.RoutesResult, error) {
	pr, err := newProgress(ctx, contract.OperationRoutes, StepCurrentRelease, StepReadRoutes, StepApplyRoutes, StepRecordRelease)
	if err != nil {
		return contract.RoutesResult{}, err
	}
	workflow.GetLogger(ctx).Info("routes started", "tenant", in.Ref.Tenant, "app", in.Ref.App,
		"component", in.Ref.Component, "operation", in.OperationID)
	short := workflow.WithActivityOptions(ctx, shortCall)

	var rel activities.LatestReleaseResult
	if err := pr.run(StepCurrentRelease, func() error {
		return workflow.ExecuteActivity(short, storeActs.LatestRelease,
			activities.LatestReleaseInput{ComponentID: in.ComponentID}).Get(ctx, &rel)
	}); err != nil {
		return contract.RoutesResult{}, err
	}
	if !rel.Found {
		pr.skip("not deployed: its first deploy applies its routes", StepCurrentRelease, StepReadRoutes, StepApplyRoutes, StepRecordRelease)
		return contract.RoutesResult{}, nil
	}
	pr.detail(StepCurrentRelease, "release "+rel.ReleaseID+" runs "+rel.Image)

	var current activities.ComponentRoutesResult
	if err := pr.run(StepReadRoutes, func() error {
		return workflow.ExecuteActivity(short, routeActs.ComponentRoutes,
			activities.ComponentRoutesInput{ComponentID: in.ComponentID}).Get(ctx, &current)
	}); err != nil {
		return contract.RoutesResult{}, err
	}
	pr.detail(StepReadRoutes, fmt.Sprintf("%d routes", len(current.Routes)))

	var applied activities.ApplyRoutesResult
	if err := pr.run(StepApplyRoutes, func() error {
		return workflow.ExecuteActivity(short, routeActs.ApplyRoutes, activities.ApplyRoutesInput{
			Ref: in.Ref, ReleaseID: in.OperationID, Ports: rel.Spec.Ports, Routes: current.Routes,
		}).Get(ctx, &applied)
	}); err != nil {
		return contract.RoutesResult{}, restoreRoutes(ctx, pr, in.Ref, rel, err)
	}
	pr.detail(StepApplyRoutes, routesDetail(applied))

	if err := pr.run(StepRecordRelease, func() error {
		return workflow.ExecuteActivity(short, storeActs.RecordRelease, activities.RecordReleaseInput{
			ReleaseID: in.OperationID, ComponentID: in.ComponentID, OperationID: in.OperationID,
			Image: rel.Image, Spec: rel.Spec, SecretEnvVersion: rel.SecretEnvVersion, Routes: current.Routes,
		}).Get(ctx, nil)
	}); err != nil {
		return contract.RoutesResult{}, err
	}
	return contract.RoutesResult{ReleaseID: in.OperationID, Applied: applied.Applied, Pruned: applied.Pruned}, nil
}

// restoreRoutes applies the routes of the release that runs again after a failed apply, on a
// disconnected context (it runs when the operation was cancelled too), and answers the error the
// operation ends with.
func restoreRoutes(ctx workflow.Context, pr *progress, ref contract.ComponentRef, rel activities.LatestReleaseResult, cause error) error {
	back, _ := workflow.NewDisconnectedContext(ctx)
	err := pr.run(StepRollBack, func() error {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(back, shortCall), routeActs.ApplyRoutes, activities.ApplyRoutesInput{
			Ref: ref, ReleaseID: rel.ReleaseID, Ports: rel.Spec.Ports, Routes: rel.Routes,
		}).Get(back, nil)
	})
	if err != nil {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s; applying the routes of release %s again failed too: %s",
			message(cause), rel.ReleaseID, message(err)), ErrTypeUpgradeFailed, cause)
	}
	pr.detail(StepRollBack, "the routes of release "+rel.ReleaseID+" apply again")
	return cause
}

// applyRoutes is the deploy's step that applies its routes (changeRoutes), to the release it rolled
// out or, going back, to the release that ran before.
func (d *deployRun) applyRoutes(ctx workflow.Context, releaseID string, spec contract.ComponentSpec, routes []contract.Route) error {
	d.routesTouched = true
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortCall), routeActs.ApplyRoutes, activities.ApplyRoutesInput{
		Ref: d.in.Ref, ReleaseID: releaseID, Ports: spec.Ports, Routes: routes,
	}).Get(ctx, nil)
}

// routesStep: a deploy applies routes when it has some, or when the release before it had some (they
// are pruned); a deploy of a component that never had routes has no such step.
func (d *deployRun) routesStep(prev activities.LatestReleaseResult) bool {
	if !d.routes || (len(d.in.Routes) == 0 && len(prev.Routes) == 0) {
		return false
	}
	d.pr.insertBefore(StepRecordRelease, StepApplyRoutes)
	return true
}

func routesDetail(r activities.ApplyRoutesResult) string {
	s := fmt.Sprintf("%d objects applied", len(r.Applied))
	if len(r.Pruned) > 0 {
		s += fmt.Sprintf(", %d pruned", len(r.Pruned))
	}
	return s
}

// insertBefore adds a pending step before another one (at the end when that one is not listed); a
// step listed already stays where it is.
func (pr *progress) insertBefore(before, name string) {
	if slices.ContainsFunc(pr.p.Steps, func(s contract.Step) bool { return s.Name == name }) {
		return
	}
	i := slices.IndexFunc(pr.p.Steps, func(s contract.Step) bool { return s.Name == before })
	if i < 0 {
		i = len(pr.p.Steps)
	}
	pr.p.Steps = slices.Insert(pr.p.Steps, i, contract.Step{Name: name, State: contract.StepPending})
}

// skip marks steps that are still pending as succeeded with nothing done, saying why.
func (pr *progress) skip(why string, names ...string) {
	for _, n := range names {
		if s := pr.step(n); s.State == contract.StepPending {
			s.State, s.Detail = contract.StepSucceeded, why
		} else if s.Detail == "" {
			s.Detail = why
		}
	}
}
