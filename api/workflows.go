package api

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/opqueue"
)

// Workflows queues, reads and cancels operations' workflows. TemporalWorkflows is the implementation
// over a Temporal client.
//
// Every operation on a component goes through the component's queue (contract/queue.go): one runs at a
// time, the others wait in order, and a request equal to one still waiting is merged into it.
type Workflows interface {
	// Enqueue puts the operation into its component's queue, starting the queue when none runs, and
	// answers where it is. A full queue answers ErrQueueFull.
	Enqueue(ctx context.Context, w WorkflowStart) (Enqueued, error)
	// Describe answers the state of one run of an operation's workflow; runID "" is its latest run. A
	// run Temporal does not know (not started yet, or past the namespace's retention) answers
	// ErrExecutionNotFound.
	Describe(ctx context.Context, workflowID, runID string) (OperationStatus, error)
	// Queue answers the component's queue: the running and the waiting operations.
	Queue(ctx context.Context, ref contract.ComponentRef) (contract.QueueState, error)
	// Dequeue takes a waiting operation out of its component's queue: its cancellation before it ran.
	Dequeue(ctx context.Context, ref contract.ComponentRef, operationID string) (contract.DequeueResult, error)
	// Cancel asks the run to cancel; the workflow compensates and ends as canceled.
	Cancel(ctx context.Context, workflowID, runID string) error
	// StartApp starts an app-level operation's workflow and answers its run id.
	StartApp(ctx context.Context, in contract.AppOperationInput) (runID string, err error)
	// StartTenant starts an operation on a tenant (workflow contract.WorkflowTenantSetup or
	// contract.WorkflowTenantDelete) and answers its run id.
	StartTenant(ctx context.Context, workflow string, kind contract.OperationKind, in contract.TenantOperationInput) (runID string, err error)
	// StartBuild starts a build on the builds task queue and answers its run id.
	StartBuild(ctx context.Context, in contract.BuildInput) (runID string, err error)
}

// WorkflowStart is one operation to run.
type WorkflowStart struct {
	Workflow    string // the workflow type, a contract.Workflow* name
	Kind        contract.OperationKind
	OperationID string
	Ref         contract.ComponentRef
	Input       any // the workflow's input: the contract.*Input of Workflow
	RequestedBy string
	// MergeKey is equal for requests that do the same (see mergeKey); "" never merges.
	MergeKey string
}

// Enqueued is where an enqueued operation is, and which queue run took it.
type Enqueued struct {
	contract.EnqueueResult
	QueueRunID string
}

// ErrExecutionNotFound: Temporal does not know the workflow run.
var ErrExecutionNotFound = errors.New("workflow execution not found")

// ErrQueueFull: the component's queue holds contract.MaxQueuedOperations waiting operations.
var ErrQueueFull = opqueue.ErrQueueFull

// Operation states, as Temporal reports a run's status.
const (
	StateRunning        = "running"
	StateSucceeded      = "succeeded"
	StateFailed         = "failed"
	StateCanceled       = "canceled"
	StateTerminated     = "terminated"
	StateTimedOut       = "timed-out"
	StateContinuedAsNew = "continued-as-new"
)

// OperationStatus is what Temporal says about one run of an operation's workflow.
type OperationStatus struct {
	State       string
	RunID       string // the run described
	OperationID string // from the run's memo
	Started     time.Time
	Closed      *time.Time
	// Progress is the answer of the run's progress query; nil when it could not be asked, and then
	// ProgressError says why (no worker polling, the workflow has not registered its query yet, ...).
	Progress      *contract.OperationProgress
	ProgressError string
	// Error is why a run that did not succeed ended: the failure's message for a failed run.
	Error string
	// Result is the run's result as JSON (a contract.DeployResult for a deploy) when it succeeded.
	Result json.RawMessage
}
