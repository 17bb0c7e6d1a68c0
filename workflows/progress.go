// Package workflows holds Rainflow's durable operations. Each workflow reads as a list of steps; each step
// is an activity, and every step's state is answered by the progress query.
package workflows

import (
	"errors"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/contract"
)

// progress tracks an operation's steps for the progress query.
type progress struct {
	ctx workflow.Context
	p   contract.OperationProgress
}

// newProgress lists the operation's steps up front (all pending) and answers the progress query.
func newProgress(ctx workflow.Context, kind contract.OperationKind, steps ...string) (*progress, error) {
	pr := &progress{ctx: ctx, p: contract.OperationProgress{Kind: kind}}
	for _, s := range steps {
		pr.p.Steps = append(pr.p.Steps, contract.Step{Name: s, State: contract.StepPending})
	}
	err := workflow.SetQueryHandler(ctx, contract.QueryProgress, func() (contract.OperationProgress, error) {
		return pr.p, nil
	})
	return pr, err
}

// run runs one step: it marks it running, calls fn, and marks it succeeded or failed with fn's error.
func (pr *progress) run(name string, fn func() error) error {
	step := pr.step(name)
	now := workflow.Now(pr.ctx)
	step.State, step.Started = contract.StepRunning, &now
	err := fn()
	end := workflow.Now(pr.ctx)
	step.Finished = &end
	if err != nil {
		step.State, step.Error = contract.StepFailed, message(err)
		return err
	}
	step.State = contract.StepSucceeded
	return nil
}

// detail sets a step's detail line (for example the digest an image resolved to).
func (pr *progress) detail(name, detail string) { pr.step(name).Detail = detail }

func (pr *progress) step(name string) *contract.Step {
	for i := range pr.p.Steps {
		if pr.p.Steps[i].Name == name {
			return &pr.p.Steps[i]
		}
	}
	pr.p.Steps = append(pr.p.Steps, contract.Step{Name: name, State: contract.StepPending})
	return &pr.p.Steps[len(pr.p.Steps)-1]
}

// message is the innermost useful message of an activity's failure, without the SDK's wrapping.
func message(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return timeout.Error()
	}
	return err.Error()
}
