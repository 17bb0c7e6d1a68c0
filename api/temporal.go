package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/rainflow/rainflow/contract"
)

// Memo fields every operation's workflow carries, so that a run names its operation.
const (
	memoOperationID = "operationId"
	memoKind        = "kind"
)

// defaultQueryTimeout bounds the progress query: a closed run is queried by replaying it on a worker,
// and with no worker polling the query would wait for one.
const defaultQueryTimeout = 5 * time.Second

// TemporalWorkflows runs operations as Temporal workflows.
type TemporalWorkflows struct {
	client       client.Client
	logger       *slog.Logger
	queryTimeout time.Duration
}

// NewTemporalWorkflows answers Workflows over a connected Temporal client.
func NewTemporalWorkflows(c client.Client, logger *slog.Logger) *TemporalWorkflows {
	return &TemporalWorkflows{client: c, logger: logger, queryTimeout: defaultQueryTimeout}
}

var _ Workflows = (*TemporalWorkflows)(nil)

// Start starts the operation's workflow under the component's workflow id, with the operation in its
// memo and search attributes. The id allows one running run: a second start fails (conflict policy
// FAIL, error when already started) and answers a *BusyError naming the running operation; after the
// run closed, a new run may start (reuse policy ALLOW_DUPLICATE).
func (t *TemporalWorkflows) Start(ctx context.Context, w WorkflowStart) (string, error) {
	id := contract.ComponentWorkflowID(w.Ref)
	kind := string(w.Kind)
	opts := client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                contract.TaskQueueOperations,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		Memo:                                     map[string]any{memoOperationID: w.OperationID, memoKind: kind},
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporal.NewSearchAttributeKeyKeyword(contract.SearchAttributeTenant).ValueSet(w.Ref.Tenant),
			temporal.NewSearchAttributeKeyKeyword(contract.SearchAttributeApp).ValueSet(w.Ref.App),
			temporal.NewSearchAttributeKeyKeyword(contract.SearchAttributeComponent).ValueSet(w.Ref.Component),
			temporal.NewSearchAttributeKeyKeyword(contract.SearchAttributeOperation).ValueSet(kind),
		),
		StaticSummary: fmt.Sprintf("%s %s/%s/%s (operation %s)", kind, w.Ref.Tenant, w.Ref.App, w.Ref.Component, w.OperationID),
	}
	run, err := t.client.ExecuteWorkflow(ctx, opts, w.Workflow, w.Input)
	if err != nil {
		var already *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &already) {
			return "", t.busy(ctx, id, already.RunId)
		}
		return "", fmt.Errorf("start workflow %s: %w", id, err)
	}
	t.logger.InfoContext(ctx, "started workflow", "workflow_id", id, "run_id", run.GetRunID(),
		"operation_id", w.OperationID, "kind", kind, "workflow_type", w.Workflow,
		"tenant", w.Ref.Tenant, "app", w.Ref.App, "component", w.Ref.Component)
	return run.GetRunID(), nil
}

// busy answers the BusyError for the running run, with its operation read from the run's memo.
func (t *TemporalWorkflows) busy(ctx context.Context, workflowID, runID string) error {
	busy := &BusyError{WorkflowID: workflowID, RunID: runID}
	resp, err := t.client.DescribeWorkflowExecution(ctx, workflowID, runID)
	if err != nil {
		t.logger.WarnContext(ctx, "describe running workflow", "workflow_id", workflowID, "run_id", runID, "error", err)
		return busy
	}
	info := resp.GetWorkflowExecutionInfo()
	busy.RunID = info.GetExecution().GetRunId()
	busy.OperationID = memoString(info.GetMemo().GetFields()[memoOperationID])
	busy.Kind = memoString(info.GetMemo().GetFields()[memoKind])
	return busy
}

// Describe answers the run's state from Temporal: its status and times, its steps from the progress
// query (which a closed run also answers), and its failure or result once closed.
func (t *TemporalWorkflows) Describe(ctx context.Context, workflowID, runID string) (OperationStatus, error) {
	resp, err := t.client.DescribeWorkflowExecution(ctx, workflowID, runID)
	if err != nil {
		return OperationStatus{}, fmt.Errorf("describe workflow %s run %s: %w", workflowID, runID, notFoundAs(err))
	}
	st := statusFromDescribe(resp)
	if runID == "" {
		runID = resp.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	}

	st.Progress, st.ProgressError = t.progress(ctx, workflowID, runID)

	switch st.State {
	case StateRunning, StateContinuedAsNew: // no result of this run to read
	case StateSucceeded:
		var result json.RawMessage
		if err := t.client.GetWorkflow(ctx, workflowID, runID).Get(ctx, &result); err != nil {
			t.logger.WarnContext(ctx, "read workflow result", "workflow_id", workflowID, "run_id", runID, "error", err)
		} else {
			st.Result = result
		}
	default:
		if err := t.client.GetWorkflow(ctx, workflowID, runID).Get(ctx, nil); err != nil {
			st.Error = failureMessage(err)
		}
	}
	return st, nil
}

// Cancel asks the run to cancel.
func (t *TemporalWorkflows) Cancel(ctx context.Context, workflowID, runID string) error {
	if err := t.client.CancelWorkflow(ctx, workflowID, runID); err != nil {
		return fmt.Errorf("cancel workflow %s run %s: %w", workflowID, runID, notFoundAs(err))
	}
	t.logger.InfoContext(ctx, "requested workflow cancellation", "workflow_id", workflowID, "run_id", runID)
	return nil
}

// CheckHealth answers whether the Temporal frontend answers; /readyz asks it.
func (t *TemporalWorkflows) CheckHealth(ctx context.Context) error {
	if _, err := t.client.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("check temporal health: %w", err)
	}
	return nil
}

func (t *TemporalWorkflows) progress(ctx context.Context, workflowID, runID string) (*contract.OperationProgress, string) {
	qctx, cancel := context.WithTimeout(ctx, t.queryTimeout)
	defer cancel()
	v, err := t.client.QueryWorkflow(qctx, workflowID, runID, contract.QueryProgress)
	if err != nil {
		return nil, fmt.Sprintf("query %s: %v", contract.QueryProgress, err)
	}
	var p contract.OperationProgress
	if err := v.Get(&p); err != nil {
		return nil, fmt.Sprintf("decode %s answer: %v", contract.QueryProgress, err)
	}
	return &p, ""
}

func statusFromDescribe(resp *workflowservice.DescribeWorkflowExecutionResponse) OperationStatus {
	info := resp.GetWorkflowExecutionInfo()
	st := OperationStatus{
		State:       stateOf(info.GetStatus()),
		OperationID: memoString(info.GetMemo().GetFields()[memoOperationID]),
	}
	if info.GetStartTime() != nil {
		st.Started = info.GetStartTime().AsTime()
	}
	if info.GetCloseTime() != nil && st.State != StateRunning {
		closed := info.GetCloseTime().AsTime()
		st.Closed = &closed
	}
	return st
}

func stateOf(s enumspb.WorkflowExecutionStatus) string {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return StateRunning
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return StateSucceeded
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return StateFailed
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return StateCanceled
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return StateTerminated
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return StateTimedOut
	case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return StateContinuedAsNew
	default:
		return "unknown"
	}
}

// failureMessage answers why a run ended without success: the application error's own message (with
// the activity it came from), or what ended the run.
func failureMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		var act *temporal.ActivityError
		if errors.As(err, &act) && act.ActivityType().GetName() != "" {
			return fmt.Sprintf("activity %s: %s", act.ActivityType().GetName(), app.Message())
		}
		return app.Message()
	}
	var canceled *temporal.CanceledError
	var terminated *temporal.TerminatedError
	var timeout *temporal.TimeoutError
	switch {
	case errors.As(err, &canceled):
		return "canceled"
	case errors.As(err, &terminated):
		return "terminated"
	case errors.As(err, &timeout):
		return "timed out (" + timeout.TimeoutType().String() + ")"
	default:
		return err.Error()
	}
}

// memoString decodes a memo field written as a string; "" when absent or not a string.
func memoString(p *commonpb.Payload) string {
	var s string
	if p == nil || converter.GetDefaultDataConverter().FromPayload(p, &s) != nil {
		return ""
	}
	return s
}

// notFoundAs maps Temporal's "not found" to ErrExecutionNotFound, keeping the cause in the message.
func notFoundAs(err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return fmt.Errorf("%w: %s", ErrExecutionNotFound, nf.Message)
	}
	return err
}
