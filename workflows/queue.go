package workflows

import (
	"errors"
	"fmt"
	"slices"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/opqueue"
)

// Bounds of one run of a component's queue: after this many operations (or when Temporal suggests it)
// the queue continues as new with what still waits, so that its history stays short.
const (
	queueOperationsPerRun = 100
	queueDoneRemembered   = 50
)

// ComponentQueue runs a component's operations one at a time, in the order they were enqueued (see
// contract/queue.go): wait for an operation, run it as a child workflow, note how it ended, and go on
// until the queue is empty. An operation's failure is its own and never stops the queue.
func ComponentQueue(ctx workflow.Context, in contract.QueueInput) error {
	q := &queue{ref: in.Ref, waiting: in.Waiting, done: in.Done}
	if err := q.register(ctx); err != nil {
		return err
	}
	logger := workflow.GetLogger(ctx)
	signals := workflow.GetSignalChannel(ctx, contract.SignalEnqueue)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var op contract.QueuedOperation
			signals.Receive(ctx, &op)
			q.signaled(ctx, op)
		}
	})
	// settle lets every Update accepted so far finish its handler and takes every signal received, so
	// that nothing enqueued is left behind when the run ends or continues as new.
	settle := func() error {
		if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
			return err
		}
		for {
			var op contract.QueuedOperation
			if !signals.ReceiveAsync(&op) {
				return nil
			}
			q.signaled(ctx, op)
		}
	}
	for ran := 0; ; ran++ {
		if len(q.waiting) == 0 {
			if err := settle(); err != nil || len(q.waiting) == 0 {
				return err // an operation enqueued after this starts a new run
			}
		}
		if ran >= queueOperationsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			if err := settle(); err != nil {
				return err
			}
			logger.Info("queue continues as new", "waiting", len(q.waiting))
			return workflow.NewContinueAsNewError(ctx, ComponentQueue, contract.QueueInput{Ref: q.ref, Waiting: q.waiting, Done: q.done})
		}
		op := q.waiting[0]
		q.waiting = q.waiting[1:]
		q.running = &op
		err := q.run(ctx, op)
		q.running = nil
		q.remember(op.OperationID)
		if ctx.Err() != nil {
			// The queue itself was canceled (by an operator): its running operation was canceled with it
			// and the waiting ones will not run.
			logger.Warn("queue canceled", "dropped", len(q.waiting))
			return temporal.NewCanceledError()
		}
		if err != nil {
			logger.Info("operation ended without success", "operation", op.OperationID, "kind", op.Kind, "error", err)
		}
	}
}

type queue struct {
	ref     contract.ComponentRef
	running *contract.QueuedOperation
	waiting []contract.QueuedOperation
	done    []string // the latest operations run, oldest first
}

func (q *queue) register(ctx workflow.Context) error {
	if err := workflow.SetUpdateHandlerWithOptions(ctx, contract.UpdateEnqueue, q.enqueue,
		workflow.UpdateHandlerOptions{Validator: q.validateEnqueue}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandler(ctx, contract.UpdateDequeue, q.dequeue); err != nil {
		return err
	}
	return workflow.SetQueryHandler(ctx, contract.QueryQueue, q.state)
}

// validateEnqueue refuses an operation the queue cannot run, and one more than it holds; a retried
// enqueue of an operation it knows is always accepted (the handler answers where it is).
func (q *queue) validateEnqueue(op contract.QueuedOperation) error {
	switch {
	case op.OperationID == "" || op.Kind == "" || op.Workflow == "":
		return temporal.NewApplicationError("an operation needs an id, a kind and a workflow", contract.ErrTypeInvalidOperation)
	case len(op.Input) == 0 || string(op.Input) == "null":
		return temporal.NewApplicationError(fmt.Sprintf("operation %s has no input", op.OperationID), contract.ErrTypeInvalidOperation)
	case q.knows(op.OperationID):
		return nil
	case len(q.waiting) >= contract.MaxQueuedOperations:
		return temporal.NewApplicationError(fmt.Sprintf("%d operations already wait for component %s/%s/%s; wait for some to finish",
			len(q.waiting), q.ref.Tenant, q.ref.App, q.ref.Component), contract.ErrTypeQueueFull)
	}
	return nil
}

func (q *queue) enqueue(ctx workflow.Context, op contract.QueuedOperation) (contract.EnqueueResult, error) {
	st := q.state0()
	if slices.Contains(q.done, op.OperationID) {
		return contract.EnqueueResult{OperationID: op.OperationID, WorkflowID: q.workflowID(op), Done: true}, nil
	}
	if pos := st.Position(op.OperationID); pos >= 0 {
		return contract.EnqueueResult{OperationID: op.OperationID, WorkflowID: q.workflowID(op), Position: pos}, nil
	}
	if op.MergeKey != "" {
		for _, w := range q.waiting {
			if w.MergeKey == op.MergeKey && w.Kind == op.Kind {
				return contract.EnqueueResult{OperationID: w.OperationID, WorkflowID: q.workflowID(w), Merged: true,
					Position: st.Position(w.OperationID)}, nil
			}
		}
	}
	q.waiting = append(q.waiting, op)
	workflow.GetLogger(ctx).Info("operation enqueued", "operation", op.OperationID, "kind", op.Kind, "waiting", len(q.waiting))
	return contract.EnqueueResult{OperationID: op.OperationID, WorkflowID: q.workflowID(op), Position: q.state0().Position(op.OperationID)}, nil
}

// signaled takes an operation sent as a signal: queued like an Update's, but never refused for being
// one too many (a signal has no answer to refuse with); a malformed one is logged and dropped.
func (q *queue) signaled(ctx workflow.Context, op contract.QueuedOperation) {
	logger := workflow.GetLogger(ctx)
	if err := q.validateEnqueue(op); err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.Type() == contract.ErrTypeInvalidOperation {
			logger.Error("dropped a malformed operation", "operation", op.OperationID, "error", err)
			return
		}
		logger.Warn("queue over its bound: taking a signaled operation anyway", "operation", op.OperationID, "waiting", len(q.waiting))
	}
	_, _ = q.enqueue(ctx, op)
}

func (q *queue) dequeue(ctx workflow.Context, req contract.DequeueRequest) (contract.DequeueResult, error) {
	if q.running != nil && q.running.OperationID == req.OperationID {
		return contract.DequeueResult{Running: true}, nil
	}
	for i, w := range q.waiting {
		if w.OperationID == req.OperationID {
			q.waiting = slices.Delete(q.waiting, i, i+1)
			q.remember(w.OperationID)
			workflow.GetLogger(ctx).Info("operation dequeued", "operation", w.OperationID, "kind", w.Kind)
			return contract.DequeueResult{Removed: true}, nil
		}
	}
	return contract.DequeueResult{}, nil
}

func (q *queue) state() (contract.QueueState, error) { return q.state0(), nil }

func (q *queue) state0() contract.QueueState {
	st := contract.QueueState{Waiting: make([]contract.QueueEntry, 0, len(q.waiting))}
	if q.running != nil {
		e := q.entry(*q.running)
		st.Running = &e
	}
	for _, w := range q.waiting {
		st.Waiting = append(st.Waiting, q.entry(w))
	}
	return st
}

func (q *queue) entry(op contract.QueuedOperation) contract.QueueEntry {
	return contract.QueueEntry{OperationID: op.OperationID, Kind: op.Kind, WorkflowID: q.workflowID(op), RequestedBy: op.RequestedBy}
}

func (q *queue) workflowID(op contract.QueuedOperation) string {
	return contract.OperationWorkflowID(op.Kind, q.ref, op.OperationID)
}

func (q *queue) knows(id string) bool {
	return slices.Contains(q.done, id) || q.state0().Position(id) >= 0
}

func (q *queue) remember(id string) {
	q.done = append(q.done, id)
	if len(q.done) > queueDoneRemembered {
		q.done = q.done[len(q.done)-queueDoneRemembered:]
	}
}

// run runs one operation as a child workflow and waits for it to end. The child is abandoned, never
// terminated, when the queue closes: an operation, once started, always finishes its own way. A child
// whose id already ran (an enqueue retried after its operation ran in an earlier queue) is not run again.
func (q *queue) run(ctx workflow.Context, op contract.QueuedOperation) error {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            q.workflowID(op),
		TaskQueue:             contract.TaskQueueOperations,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WaitForCancellation:   true,
		Memo: map[string]any{
			contract.MemoOperationID: op.OperationID, contract.MemoKind: string(op.Kind), contract.MemoRequestedBy: op.RequestedBy,
			contract.MemoRequest: op.Input,
		},
		TypedSearchAttributes: opqueue.OperationSearchAttributes(q.ref, op.Kind, op.RequestedBy),
		StaticSummary: fmt.Sprintf("%s %s/%s/%s (operation %s, by %s)", op.Kind, q.ref.Tenant, q.ref.App, q.ref.Component,
			op.OperationID, opqueue.Initiator(op.RequestedBy)),
	})
	child := workflow.ExecuteChildWorkflow(cctx, op.Workflow, op.Input)
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		var already *temporal.ChildWorkflowExecutionAlreadyStartedError
		if errors.As(err, &already) {
			workflow.GetLogger(ctx).Info("operation already ran", "operation", op.OperationID)
			return nil
		}
		return err
	}
	return child.Get(ctx, nil)
}
