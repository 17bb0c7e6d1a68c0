package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/opqueue"
)

// Operations queues component operations and follows them to their end, for the app-level
// operations: through the components' queues, like the API, so that one operation per component holds.
type Operations struct {
	Client client.Client
	// PollInterval is how often AwaitOperation looks at the operation; 0 means a second.
	PollInterval time.Duration
}

// EnqueueOperationInput names the component and its operation.
type EnqueueOperationInput struct {
	Ref       contract.ComponentRef    `json:"ref"`
	Operation contract.QueuedOperation `json:"operation"`
}

// EnqueueOperation puts the operation into its component's queue; a retry finds it there (the queue
// knows an operation by its id).
func (o *Operations) EnqueueOperation(ctx context.Context, in EnqueueOperationInput) (contract.EnqueueResult, error) {
	res, _, err := opqueue.Enqueue(ctx, o.Client, in.Ref, in.Operation, opqueue.DefaultAnswerWait)
	if errors.Is(err, opqueue.ErrInvalidOperation) {
		return res, permanent(ErrTypeInvalidSpec, err)
	}
	return res, err // a full queue is retried: it drains
}

// AwaitOperationInput names the operation's workflow.
type AwaitOperationInput struct {
	WorkflowID string `json:"workflowId"`
}

// AwaitOperationResult is how the operation ended: a contract.Component* outcome, and why when it
// did not succeed.
type AwaitOperationResult struct {
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
}

// AwaitOperation waits until the operation's workflow closed, heartbeating meanwhile; an operation still
// waiting in its queue (no workflow yet) is waited for too.
func (o *Operations) AwaitOperation(ctx context.Context, in AwaitOperationInput) (AwaitOperationResult, error) {
	every := o.PollInterval
	if every <= 0 {
		every = time.Second
	}
	for {
		resp, err := o.Client.DescribeWorkflowExecution(ctx, in.WorkflowID, "")
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			activity.RecordHeartbeat(ctx, "queued")
		case err != nil:
			return AwaitOperationResult{}, fmt.Errorf("describe operation %s: %w", in.WorkflowID, err)
		default:
			status := resp.GetWorkflowExecutionInfo().GetStatus()
			if status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				activity.RecordHeartbeat(ctx, "running")
				break
			}
			return o.outcome(ctx, in.WorkflowID, status), nil
		}
		select {
		case <-ctx.Done():
			return AwaitOperationResult{}, ctx.Err()
		case <-time.After(every):
		}
	}
}

func (o *Operations) outcome(ctx context.Context, workflowID string, status enumspb.WorkflowExecutionStatus) AwaitOperationResult {
	switch status {
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return AwaitOperationResult{Outcome: contract.ComponentSucceeded}
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return AwaitOperationResult{Outcome: contract.ComponentCanceled, Error: "canceled"}
	}
	res := AwaitOperationResult{Outcome: contract.ComponentFailed, Error: status.String()}
	if err := o.Client.GetWorkflow(ctx, workflowID, "").Get(ctx, nil); err != nil {
		res.Error = err.Error()
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			res.Error = app.Message()
		}
	}
	return res
}

// CancelOperationInput names a component operation to cancel.
type CancelOperationInput struct {
	Ref         contract.ComponentRef `json:"ref"`
	OperationID string                `json:"operationId"`
	WorkflowID  string                `json:"workflowId"`
}

// CancelOperation cancels a component operation: taken out of its queue while it waits, its workflow
// asked to cancel once it runs. An operation that already ended is left as it is.
func (o *Operations) CancelOperation(ctx context.Context, in CancelOperationInput) error {
	res, err := opqueue.Dequeue(ctx, o.Client, in.Ref, in.OperationID)
	if err != nil {
		return err
	}
	if res.Removed {
		return nil
	}
	err = o.Client.CancelWorkflow(ctx, in.WorkflowID, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil
	}
	return err
}
