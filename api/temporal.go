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
	"github.com/rainflow/rainflow/opqueue"
)

// defaultQueryTimeout bounds the progress query: a closed run is queried by replaying it on a worker,
// and with no worker polling the query would wait for one.
const defaultQueryTimeout = 5 * time.Second

// TemporalWorkflows runs operations as Temporal workflows.
type TemporalWorkflows struct {
	client       client.Client
	logger       *slog.Logger
	queryTimeout time.Duration
	// answerWait is how long Enqueue waits for a worker to take an operation before sending it as a
	// signal (see opqueue.Enqueue).
	answerWait time.Duration
}

// NewTemporalWorkflows answers Workflows over a connected Temporal client.
func NewTemporalWorkflows(c client.Client, logger *slog.Logger) *TemporalWorkflows {
	return &TemporalWorkflows{client: c, logger: logger, queryTimeout: defaultQueryTimeout, answerWait: opqueue.DefaultAnswerWait}
}

var _ Workflows = (*TemporalWorkflows)(nil)

// Enqueue puts the operation into its component's queue (see opqueue.Enqueue).
func (t *TemporalWorkflows) Enqueue(ctx context.Context, w WorkflowStart) (Enqueued, error) {
	input, err := json.Marshal(w.Input)
	if err != nil {
		return Enqueued{}, fmt.Errorf("encode the input of operation %s: %w", w.OperationID, err)
	}
	res, runID, err := opqueue.Enqueue(ctx, t.client, w.Ref, contract.QueuedOperation{
		OperationID: w.OperationID, Kind: w.Kind, Workflow: w.Workflow, Input: input,
		RequestedBy: w.RequestedBy, MergeKey: w.MergeKey,
	}, t.answerWait)
	if err != nil {
		return Enqueued{}, err
	}
	t.logger.InfoContext(ctx, "enqueued operation", "queue_workflow_id", contract.ComponentWorkflowID(w.Ref),
		"queue_run_id", runID, "operation_id", res.OperationID, "requested_operation_id", w.OperationID,
		"kind", w.Kind, "workflow_type", w.Workflow, "position", res.Position, "merged", res.Merged, "pending", res.Pending,
		"tenant", w.Ref.Tenant, "app", w.Ref.App, "component", w.Ref.Component)
	return Enqueued{EnqueueResult: res, QueueRunID: runID}, nil
}

// StartApp starts the app-level operation's workflow under its own id, with the operation in its
// memo and search attributes (without a component: it acts on all of them).
func (t *TemporalWorkflows) StartApp(ctx context.Context, in contract.AppOperationInput) (string, error) {
	kind := contract.AppOperationKind(in.Kind)
	id := contract.AppOperationWorkflowID(in.Kind, in.Tenant, in.App, in.OperationID)
	run, err := t.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                contract.TaskQueueOperations,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		Memo: map[string]any{contract.MemoOperationID: in.OperationID, contract.MemoKind: string(kind),
			contract.MemoRequestedBy: in.RequestedBy},
		TypedSearchAttributes: opqueue.OperationSearchAttributes(contract.ComponentRef{Tenant: in.Tenant, App: in.App}, kind, in.RequestedBy),
		StaticSummary: fmt.Sprintf("%s %s/%s: %d components (operation %s, by %s)", kind, in.Tenant, in.App,
			len(in.Components), in.OperationID, opqueue.Initiator(in.RequestedBy)),
	}, contract.WorkflowAppOperation, in)
	if err != nil {
		return "", fmt.Errorf("start workflow %s: %w", id, err)
	}
	t.logger.InfoContext(ctx, "started app workflow", "workflow_id", id, "run_id", run.GetRunID(),
		"operation_id", in.OperationID, "kind", kind, "tenant", in.Tenant, "app", in.App)
	return run.GetRunID(), nil
}

// StartBuild starts a build under its own id on the builds task queue: builds never wait in the
// component's queue, and several may run at once.
func (t *TemporalWorkflows) StartBuild(ctx context.Context, in contract.BuildInput) (string, error) {
	id := contract.BuildWorkflowID(in.Ref, in.OperationID)
	timeout := in.Timeout
	if timeout <= 0 {
		timeout = contract.DefaultBuildTimeout
	}
	run, err := t.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                contract.TaskQueueBuilds,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		// the build's own limit, plus room for the deploy it may run after
		WorkflowExecutionTimeout: timeout + 2*time.Hour,
		Memo: map[string]any{contract.MemoOperationID: in.OperationID, contract.MemoKind: string(contract.OperationBuild),
			contract.MemoRequestedBy: in.RequestedBy},
		TypedSearchAttributes: opqueue.OperationSearchAttributes(in.Ref, contract.OperationBuild, in.RequestedBy),
		StaticSummary: fmt.Sprintf("build %s/%s/%s from %s (operation %s, by %s)", in.Ref.Tenant, in.Ref.App, in.Ref.Component,
			in.Source.Kind, in.OperationID, opqueue.Initiator(in.RequestedBy)),
	}, contract.WorkflowBuild, in)
	if err != nil {
		return "", fmt.Errorf("start workflow %s: %w", id, err)
	}
	t.logger.InfoContext(ctx, "started build workflow", "workflow_id", id, "run_id", run.GetRunID(), "operation_id", in.OperationID)
	return run.GetRunID(), nil
}

// StartTenant starts an operation on a tenant; its workflow id is its own, so it never waits behind
// another (a setup reads the tenant's latest settings when it runs).
func (t *TemporalWorkflows) StartTenant(ctx context.Context, workflow string, kind contract.OperationKind, in contract.TenantOperationInput) (string, error) {
	id := contract.TenantOperationWorkflowID(kind, in.Tenant, in.OperationID)
	run, err := t.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                contract.TaskQueueOperations,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		Memo: map[string]any{contract.MemoOperationID: in.OperationID, contract.MemoKind: string(kind),
			contract.MemoRequestedBy: in.RequestedBy},
		TypedSearchAttributes: opqueue.OperationSearchAttributes(contract.ComponentRef{Tenant: in.Tenant}, kind, in.RequestedBy),
		StaticSummary:         fmt.Sprintf("%s %s (operation %s, by %s)", kind, in.Tenant, in.OperationID, opqueue.Initiator(in.RequestedBy)),
	}, workflow, in)
	if err != nil {
		return "", fmt.Errorf("start workflow %s: %w", id, err)
	}
	t.logger.InfoContext(ctx, "started tenant workflow", "workflow_id", id, "run_id", run.GetRunID(),
		"operation_id", in.OperationID, "kind", kind, "tenant", in.Tenant)
	return run.GetRunID(), nil
}

// Queue answers the component's queue.
func (t *TemporalWorkflows) Queue(ctx context.Context, ref contract.ComponentRef) (contract.QueueState, error) {
	qctx, cancel := context.WithTimeout(ctx, t.queryTimeout)
	defer cancel()
	return opqueue.State(qctx, t.client, ref)
}

// Dequeue takes a waiting operation out of its component's queue.
func (t *TemporalWorkflows) Dequeue(ctx context.Context, ref contract.ComponentRef, operationID string) (contract.DequeueResult, error) {
	return opqueue.Dequeue(ctx, t.client, ref, operationID)
}

// Describe answers the run's state from Temporal: its status and times, its steps from the progress
// query (which a closed run also answers), and its failure or result once closed.
func (t *TemporalWorkflows) Describe(ctx context.Context, workflowID, runID string) (OperationStatus, error) {
	resp, err := t.client.DescribeWorkflowExecution(ctx, workflowID, runID)
	if err != nil {
		return OperationStatus{}, fmt.Errorf("describe workflow %s run %s: %w", workflowID, runID, notFoundAs(err))
	}
	st := statusFromDescribe(resp)
	runID = st.RunID

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
		RunID:       info.GetExecution().GetRunId(),
		OperationID: memoString(info.GetMemo().GetFields()[contract.MemoOperationID]),
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
