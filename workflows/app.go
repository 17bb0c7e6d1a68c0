package workflows

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

// Error types of an app-level operation that did not succeed.
const (
	ErrTypeDependencyCycle   = "DependencyCycle"
	ErrTypeUnknownDependency = "UnknownDependency"
	ErrTypeAppOperation      = "AppOperationFailed"
)

var operationActs *activities.Operations

// AppOperation runs one operation on every component of an app (see contract/app.go): each
// component's operation goes through its component's queue once the operations it waits for
// succeeded, independent ones in parallel. A component whose prerequisite did not succeed is skipped.
// Canceling the app operation cancels the component operations it queued that have not ended.
func AppOperation(ctx workflow.Context, in contract.AppOperationInput) (contract.AppOperationResult, error) {
	edges := make([]contract.DependencyEdge, len(in.Components))
	for i, c := range in.Components {
		edges[i] = contract.DependencyEdge{Component: c.Component, DependsOn: c.DependsOn}
	}
	levels, err := contract.DependencyLevels(edges)
	if err != nil {
		typ := ErrTypeUnknownDependency
		var cycle *contract.CycleError
		if errors.As(err, &cycle) {
			typ = ErrTypeDependencyCycle
		}
		return contract.AppOperationResult{}, temporal.NewNonRetryableApplicationError(err.Error(), typ, nil)
	}
	a := &appRun{ctx: ctx, in: in, byName: map[string]contract.AppComponentOperation{}, outcome: map[string]string{},
		why: map[string]string{}, queued: map[string]bool{}}
	for _, c := range in.Components {
		a.byName[c.Component] = c
	}
	a.waitsFor = prerequisites(in, a.stopping())
	var steps []string
	order := slices.Concat(levels...)
	if a.stopping() {
		slices.Reverse(order)
	}
	for _, name := range order {
		steps = append(steps, a.step(name))
	}
	if a.pr, err = newProgress(ctx, contract.AppOperationKind(in.Kind), steps...); err != nil {
		return contract.AppOperationResult{}, err
	}
	workflow.GetLogger(ctx).Info("app operation started", "kind", in.Kind, "tenant", in.Tenant, "app", in.App,
		"components", len(in.Components), "operation", in.OperationID)

	for _, name := range order {
		workflow.Go(ctx, func(ctx workflow.Context) { a.runComponent(ctx, name) })
	}
	err = workflow.Await(ctx, func() bool { return len(a.outcome) == len(in.Components) })
	if err != nil { // canceled: cancel what was queued and has not ended
		a.cancelQueued()
		return contract.AppOperationResult{}, err
	}
	return a.result()
}

type appRun struct {
	ctx      workflow.Context
	in       contract.AppOperationInput
	pr       *progress
	byName   map[string]contract.AppComponentOperation
	waitsFor map[string][]string // component → the components whose operations must succeed first
	outcome  map[string]string   // component → contract.Component* once ended
	why      map[string]string   // component → why it did not succeed
	queued   map[string]bool     // component → its operation was queued
}

func (a *appRun) stopping() bool { return a.in.Kind == contract.OperationStop }

func (a *appRun) step(component string) string { return string(a.in.Kind) + " " + component }

// prerequisites: a component's operation waits for those of its dependencies; a stop waits for those
// of the components that depend on it (they stop first).
func prerequisites(in contract.AppOperationInput, reverse bool) map[string][]string {
	out := map[string][]string{}
	for _, c := range in.Components {
		for _, on := range c.DependsOn {
			if reverse {
				out[on] = append(out[on], c.Component)
			} else {
				out[c.Component] = append(out[c.Component], on)
			}
		}
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}

func (a *appRun) runComponent(ctx workflow.Context, name string) {
	waits := a.waitsFor[name]
	if err := workflow.Await(ctx, func() bool {
		for _, w := range waits {
			if a.outcome[w] == "" {
				return false
			}
		}
		return true
	}); err != nil {
		return // canceled
	}
	for _, w := range waits {
		if a.outcome[w] != contract.ComponentSucceeded {
			a.outcome[name] = contract.ComponentSkipped
			a.why[name] = fmt.Sprintf("waited for %s, which %s", w, a.outcome[w])
			step := a.pr.step(a.step(name))
			step.State, step.Detail = contract.StepSkipped, a.why[name]
			return
		}
	}
	c := a.byName[name]
	ref := contract.ComponentRef{Tenant: a.in.Tenant, App: a.in.App, Component: name}
	workflowID := contract.OperationWorkflowID(a.in.Kind, ref, c.OperationID)
	var ended activities.AwaitOperationResult
	err := a.pr.run(a.step(name), func() error {
		short := workflow.WithActivityOptions(ctx, shortCall)
		var enq contract.EnqueueResult
		err := workflow.ExecuteActivity(short, operationActs.EnqueueOperation, activities.EnqueueOperationInput{
			Ref: ref, Operation: contract.QueuedOperation{OperationID: c.OperationID, Kind: a.in.Kind, Workflow: c.Workflow,
				Input: c.Input, RequestedBy: a.in.RequestedBy},
		}).Get(ctx, &enq)
		if err != nil {
			return err
		}
		a.queued[name] = true
		a.pr.detail(a.step(name), "operation "+c.OperationID+" ("+workflowID+")")
		follow := workflow.WithActivityOptions(ctx, followOperation)
		if err := workflow.ExecuteActivity(follow, operationActs.AwaitOperation,
			activities.AwaitOperationInput{WorkflowID: workflowID}).Get(ctx, &ended); err != nil {
			return err
		}
		if ended.Outcome != contract.ComponentSucceeded {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("operation %s %s: %s", c.OperationID, ended.Outcome, ended.Error),
				ErrTypeAppOperation, nil)
		}
		return nil
	})
	switch {
	case err == nil:
		a.outcome[name] = contract.ComponentSucceeded
	case ctx.Err() != nil:
		a.outcome[name], a.why[name] = contract.ComponentCanceled, "canceled"
	case ended.Outcome != "":
		a.outcome[name], a.why[name] = ended.Outcome, ended.Error
	default:
		a.outcome[name], a.why[name] = contract.ComponentFailed, message(err)
	}
}

// cancelQueued cancels, on a context that outlives the app operation's cancellation, every component
// operation it queued that has not ended.
func (a *appRun) cancelQueued() {
	ctx, _ := workflow.NewDisconnectedContext(a.ctx)
	ctx = workflow.WithActivityOptions(ctx, shortCall)
	var futures []workflow.Future
	for _, name := range slices.Sorted(maps.Keys(a.queued)) {
		if o := a.outcome[name]; o != "" && o != contract.ComponentCanceled {
			continue
		}
		c := a.byName[name]
		ref := contract.ComponentRef{Tenant: a.in.Tenant, App: a.in.App, Component: name}
		futures = append(futures, workflow.ExecuteActivity(ctx, operationActs.CancelOperation, activities.CancelOperationInput{
			Ref: ref, OperationID: c.OperationID, WorkflowID: contract.OperationWorkflowID(a.in.Kind, ref, c.OperationID),
		}))
	}
	for _, f := range futures {
		if err := f.Get(ctx, nil); err != nil {
			workflow.GetLogger(a.ctx).Warn("cancel component operation", "error", err)
		}
	}
}

func (a *appRun) result() (contract.AppOperationResult, error) {
	res := contract.AppOperationResult{Components: a.outcome}
	var bad []string
	for _, name := range slices.Sorted(maps.Keys(a.outcome)) {
		if a.outcome[name] != contract.ComponentSucceeded {
			bad = append(bad, fmt.Sprintf("%s %s (%s)", name, a.outcome[name], a.why[name]))
		}
	}
	if len(bad) == 0 {
		return res, nil
	}
	return res, temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("%d of %d components did not %s: %s", len(bad), len(a.outcome), a.in.Kind, strings.Join(bad, "; ")),
		ErrTypeAppOperation, nil, res)
}
