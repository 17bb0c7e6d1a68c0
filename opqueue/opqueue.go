// Package opqueue puts operations into a component's queue (the ComponentQueue workflow, see
// contract/queue.go), takes waiting ones out, and reads the queue, over a Temporal client. The API
// and the app-level operations' activities both start component operations through it, so that every
// operation on a component goes through its one queue.
package opqueue

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/rainflow/rainflow/contract"
)

// OperationQueue is the kind the queue workflow carries in its RainflowOperation search attribute.
const OperationQueue contract.OperationKind = "queue"

// ErrQueueFull: the component's queue holds contract.MaxQueuedOperations waiting operations.
var ErrQueueFull = errors.New("the component's queue is full")

// ErrInvalidOperation: the queue refused the operation as malformed (a bug of the caller).
var ErrInvalidOperation = errors.New("the queue refused the operation")

// DefaultAnswerWait is how long Enqueue waits for a worker to answer before it sends the operation
// as a signal instead.
const DefaultAnswerWait = 5 * time.Second

// Enqueue puts op into the component's queue, starting the queue when none runs (update-with-start,
// conflict policy USE_EXISTING), and answers where it is, plus the id of the queue run that took it.
// The Update's id is the operation's, so a retried Enqueue of the same operation answers the same.
//
// An Update needs a worker to answer it. When none answers within wait (no worker runs, or all are
// busy), the operation is sent as a signal with start instead, which Temporal keeps until a worker
// runs the queue: the answer is then Pending, and the operation is queued all the same.
func Enqueue(ctx context.Context, c client.Client, ref contract.ComponentRef, op contract.QueuedOperation, wait time.Duration) (contract.EnqueueResult, string, error) {
	id := contract.ComponentWorkflowID(ref)
	res, runID, err := enqueueUpdate(ctx, c, ref, op, wait)
	if err == nil || errors.Is(err, ErrQueueFull) || errors.Is(err, ErrInvalidOperation) || ctx.Err() != nil {
		return res, runID, err
	}
	var timeout *serviceerror.DeadlineExceeded
	if !errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &timeout) {
		return res, runID, err
	}
	run, serr := c.SignalWithStartWorkflow(ctx, id, contract.SignalEnqueue, op, queueStartOptions(ref), contract.WorkflowComponentQueue, contract.QueueInput{Ref: ref})
	if serr != nil {
		return contract.EnqueueResult{}, "", fmt.Errorf("enqueue %s operation %s on %s: no worker answered within %s (%v), and signaling failed: %w",
			op.Kind, op.OperationID, id, wait, err, serr)
	}
	return contract.EnqueueResult{OperationID: op.OperationID, WorkflowID: contract.OperationWorkflowID(op.Kind, ref, op.OperationID), Pending: true},
		run.GetRunID(), nil
}

func queueStartOptions(ref contract.ComponentRef) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       contract.ComponentWorkflowID(ref),
		TaskQueue:                contract.TaskQueueOperations,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes:    OperationSearchAttributes(ref, OperationQueue, ""),
		StaticSummary:            fmt.Sprintf("operation queue of %s/%s/%s", ref.Tenant, ref.App, ref.Component),
	}
}

func enqueueUpdate(ctx context.Context, c client.Client, ref contract.ComponentRef, op contract.QueuedOperation, wait time.Duration) (contract.EnqueueResult, string, error) {
	id := contract.ComponentWorkflowID(ref)
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	start := c.NewWithStartWorkflowOperation(queueStartOptions(ref), contract.WorkflowComponentQueue, contract.QueueInput{Ref: ref})
	handle, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateID:     "enqueue-" + op.OperationID,
			UpdateName:   contract.UpdateEnqueue,
			Args:         []any{op},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if err != nil {
		return contract.EnqueueResult{}, "", fmt.Errorf("enqueue %s operation %s on %s: %w", op.Kind, op.OperationID, id, refused(err))
	}
	var res contract.EnqueueResult
	if err := handle.Get(ctx, &res); err != nil {
		return contract.EnqueueResult{}, "", fmt.Errorf("enqueue %s operation %s on %s: %w", op.Kind, op.OperationID, id, refused(err))
	}
	return res, handle.RunID(), nil
}

// Dequeue takes a waiting operation out of the component's queue. With no queue running, the
// operation is not waiting: the zero DequeueResult.
func Dequeue(ctx context.Context, c client.Client, ref contract.ComponentRef, operationID string) (contract.DequeueResult, error) {
	id := contract.ComponentWorkflowID(ref)
	handle, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateName:   contract.UpdateDequeue,
		Args:         []any{contract.DequeueRequest{OperationID: operationID}},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var res contract.DequeueResult
	if err == nil {
		err = handle.Get(ctx, &res)
	}
	if isGone(err) {
		return contract.DequeueResult{}, nil
	}
	if err != nil {
		return contract.DequeueResult{}, fmt.Errorf("dequeue operation %s from %s: %w", operationID, id, err)
	}
	return res, nil
}

// State answers the component's queue: its running and waiting operations; an empty state when no
// queue runs.
func State(ctx context.Context, c client.Client, ref contract.ComponentRef) (contract.QueueState, error) {
	id := contract.ComponentWorkflowID(ref)
	resp, err := c.QueryWorkflowWithOptions(ctx, &client.QueryWorkflowWithOptionsRequest{
		WorkflowID:           id,
		QueryType:            contract.QueryQueue,
		QueryRejectCondition: enumspb.QUERY_REJECT_CONDITION_NOT_OPEN,
	})
	if isGone(err) {
		return contract.QueueState{}, nil
	}
	if err != nil {
		return contract.QueueState{}, fmt.Errorf("query %s: %w", id, err)
	}
	if resp.QueryRejected != nil {
		return contract.QueueState{}, nil // the queue closed: nothing waits
	}
	var st contract.QueueState
	if err := resp.QueryResult.Get(&st); err != nil {
		return contract.QueueState{}, fmt.Errorf("decode %s answer of %s: %w", contract.QueryQueue, id, err)
	}
	return st, nil
}

// OperationSearchAttributes are the search attributes of an operation's workflow (and of a queue,
// with kind OperationQueue), upserted when it starts. An app-level operation's ref has no component:
// it carries no RainflowComponent.
func OperationSearchAttributes(ref contract.ComponentRef, kind contract.OperationKind, initiator string) temporal.SearchAttributes {
	updates := []temporal.SearchAttributeUpdate{
		temporal.NewSearchAttributeKeyKeyword(contract.SearchAttributeTenant).ValueSet(ref.Tenant),
		temporal.NewSearchAttributeKeyKeyword(contract.SearchAttributeApp).ValueSet(ref.App),
		temporal.NewSearchAttributeKeyKeyword(contract.SearchAttributeOperation).ValueSet(string(kind)),
		temporal.NewSearchAttributeKeyKeyword(contract.SearchAttributeInitiator).ValueSet(Initiator(initiator)),
	}
	if ref.Component != "" {
		updates = append(updates, temporal.NewSearchAttributeKeyKeyword(contract.SearchAttributeComponent).ValueSet(ref.Component))
	}
	return temporal.NewSearchAttributes(updates...)
}

// Initiator is who asked for an operation, as the Web UI shows it; "system" when nobody did.
func Initiator(requestedBy string) string {
	if requestedBy == "" {
		return "system"
	}
	return requestedBy
}

// refused maps the queue's refusals to ErrQueueFull and ErrInvalidOperation, keeping their message.
func refused(err error) error {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		switch app.Type() {
		case contract.ErrTypeQueueFull:
			return fmt.Errorf("%w: %s", ErrQueueFull, app.Message())
		case contract.ErrTypeInvalidOperation:
			return fmt.Errorf("%w: %s", ErrInvalidOperation, app.Message())
		}
	}
	return err
}

// isGone: the queue workflow is not running (never started, or closed).
func isGone(err error) bool {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return true
	}
	var closed *serviceerror.FailedPrecondition
	return errors.As(err, &closed)
}
