package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rainflow/rainflow/contract"
)

// Workflows starts, reads and cancels operations' workflows. TemporalWorkflows is the implementation
// over a Temporal client.
type Workflows interface {
	// Start starts an operation's workflow under its component's workflow id and answers its run id.
	// A component that already runs an operation answers a *BusyError.
	Start(ctx context.Context, w WorkflowStart) (runID string, err error)
	// Describe answers the state of one run of a workflow. A run Temporal does not know (never
	// started, or past the namespace's retention) answers ErrExecutionNotFound.
	Describe(ctx context.Context, workflowID, runID string) (OperationStatus, error)
	// Cancel asks the run to cancel; the workflow compensates and ends as canceled.
	Cancel(ctx context.Context, workflowID, runID string) error
}

// WorkflowStart is one operation's workflow to start.
type WorkflowStart struct {
	Workflow    string // the workflow type, a contract.Workflow* name
	Kind        contract.OperationKind
	OperationID string
	Ref         contract.ComponentRef
	Input       any // the workflow's input: the contract.*Input of Workflow
}

// ErrExecutionNotFound: Temporal does not know the workflow run.
var ErrExecutionNotFound = errors.New("workflow execution not found")

// BusyError says the component already runs an operation, which the new one would race.
type BusyError struct {
	WorkflowID  string
	RunID       string // the running run
	OperationID string // the running operation, from the run's memo; "" when it could not be read
	Kind        string // the running operation's kind, from the memo
}

func (e *BusyError) Error() string {
	op := e.OperationID
	if op == "" {
		op = "(unknown)"
	}
	return fmt.Sprintf("workflow %s is running operation %s (run %s)", e.WorkflowID, op, e.RunID)
}

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
