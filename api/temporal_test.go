package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rainflow/rainflow/api"
	"github.com/rainflow/rainflow/contract"
)

var deployInput = contract.DeployInput{
	OperationID: "op-1",
	Ref:         contract.ComponentRef{Tenant: "acme", App: "shop", Component: "web"},
	ComponentID: "c-1",
	Spec:        contract.ComponentSpec{Image: "registry.example/web:1", Replicas: 1},
	RequestedBy: "alice",
}

var deployStart = api.WorkflowStart{
	Workflow: contract.WorkflowDeploy, Kind: contract.OperationDeploy, OperationID: deployInput.OperationID,
	Ref: deployInput.Ref, Input: deployInput,
}

func newTemporal(t *testing.T) (*mocks.Client, *api.TemporalWorkflows) {
	c := mocks.NewClient(t)
	return c, api.NewTemporalWorkflows(c, slog.New(slog.DiscardHandler))
}

// describeResponse is what Temporal answers about one run, with the operation id in its memo.
func describeResponse(t *testing.T, status enumspb.WorkflowExecutionStatus, start time.Time, closed *time.Time) *workflowservice.DescribeWorkflowExecutionResponse {
	t.Helper()
	dc := converter.GetDefaultDataConverter()
	op, err := dc.ToPayload("op-0")
	require.NoError(t, err)
	kind, err := dc.ToPayload("deploy")
	require.NoError(t, err)
	info := &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: "rainflow/acme/shop/web", RunId: "run-0"},
		Status:    status,
		StartTime: timestamppb.New(start),
		Memo:      &commonpb.Memo{Fields: map[string]*commonpb.Payload{"operationId": op, "kind": kind}},
	}
	if closed != nil {
		info.CloseTime = timestamppb.New(*closed)
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: info}
}

func TestTemporalEnqueue(t *testing.T) {
	t.Parallel()
	scaleInput := contract.ScaleInput{OperationID: "op-2", Ref: deployInput.Ref, ComponentID: "c-1", Replicas: 3}
	tests := []struct {
		name  string
		start api.WorkflowStart
	}{
		{name: "deploy", start: deployStart},
		{name: "scale", start: api.WorkflowStart{Workflow: contract.WorkflowScale, Kind: contract.OperationScale,
			OperationID: "op-2", Ref: deployInput.Ref, Input: scaleInput, RequestedBy: "alice", MergeKey: "scale:x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, wf := newTemporal(t)
			var startOpts client.StartWorkflowOptions
			c.On("NewWithStartWorkflowOperation", mock.Anything, contract.WorkflowComponentQueue, contract.QueueInput{Ref: deployInput.Ref}).
				Run(func(args mock.Arguments) { startOpts = args.Get(0).(client.StartWorkflowOptions) }).
				Return(nil)
			var updateOpts client.UpdateWorkflowOptions
			handle := mocks.NewWorkflowUpdateHandle(t)
			handle.On("Get", mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
				*args.Get(1).(*contract.EnqueueResult) = contract.EnqueueResult{OperationID: tt.start.OperationID, WorkflowID: "w", Position: 2}
			}).Return(nil)
			handle.On("RunID").Return("queue-run-1")
			c.On("UpdateWithStartWorkflow", mock.Anything, mock.Anything).
				Run(func(args mock.Arguments) {
					updateOpts = args.Get(1).(client.UpdateWithStartWorkflowOptions).UpdateOptions
				}).
				Return(handle, nil)

			enq, err := wf.Enqueue(t.Context(), tt.start)
			require.NoError(t, err)
			require.Equal(t, api.Enqueued{QueueRunID: "queue-run-1", EnqueueResult: contract.EnqueueResult{
				OperationID: tt.start.OperationID, WorkflowID: "w", Position: 2}}, enq)

			require.Equal(t, "rainflow/acme/shop/web", startOpts.ID, "every operation on the component goes through its queue")
			require.Equal(t, contract.TaskQueueOperations, startOpts.TaskQueue)
			require.Equal(t, enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING, startOpts.WorkflowIDConflictPolicy)
			require.Equal(t, enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, startOpts.WorkflowIDReusePolicy)
			require.Equal(t, contract.UpdateEnqueue, updateOpts.UpdateName)
			require.Equal(t, "enqueue-"+tt.start.OperationID, updateOpts.UpdateID, "a retried enqueue is the same Update")
			require.Equal(t, client.WorkflowUpdateStageCompleted, updateOpts.WaitForStage)
			require.Len(t, updateOpts.Args, 1)
			op := updateOpts.Args[0].(contract.QueuedOperation)
			input, err := json.Marshal(tt.start.Input)
			require.NoError(t, err)
			require.Equal(t, contract.QueuedOperation{OperationID: tt.start.OperationID, Kind: tt.start.Kind,
				Workflow: tt.start.Workflow, Input: input, RequestedBy: tt.start.RequestedBy, MergeKey: tt.start.MergeKey}, op)
			attrs := map[string]string{
				contract.SearchAttributeTenant: "acme", contract.SearchAttributeApp: "shop",
				contract.SearchAttributeComponent: "web", contract.SearchAttributeOperation: "queue",
				contract.SearchAttributeInitiator: "system",
			}
			require.Equal(t, len(attrs), startOpts.TypedSearchAttributes.Size())
			for name, want := range attrs {
				got, ok := startOpts.TypedSearchAttributes.GetKeyword(temporal.NewSearchAttributeKeyKeyword(name))
				require.True(t, ok, name)
				require.Equal(t, want, got, name)
			}
		})
	}
}

func TestTemporalEnqueueRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		updateErr error
		getErr    error
		wantIs    error
		wantMsg   string
	}{
		{name: "queue full", getErr: temporal.NewApplicationError("20 operations already wait", contract.ErrTypeQueueFull),
			wantIs: api.ErrQueueFull, wantMsg: "20 operations already wait"},
		{name: "temporal down", updateErr: serviceerror.NewUnavailable("connection refused"), wantMsg: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, wf := newTemporal(t)
			c.On("NewWithStartWorkflowOperation", mock.Anything, mock.Anything, mock.Anything).Return(nil)
			if tt.updateErr != nil {
				c.On("UpdateWithStartWorkflow", mock.Anything, mock.Anything).Return(nil, tt.updateErr)
			} else {
				handle := mocks.NewWorkflowUpdateHandle(t)
				handle.On("Get", mock.Anything, mock.Anything).Return(tt.getErr)
				c.On("UpdateWithStartWorkflow", mock.Anything, mock.Anything).Return(handle, nil)
			}
			_, err := wf.Enqueue(t.Context(), deployStart)
			require.ErrorContains(t, err, "enqueue deploy operation op-1 on rainflow/acme/shop/web: ")
			require.ErrorContains(t, err, tt.wantMsg)
			if tt.wantIs != nil {
				require.ErrorIs(t, err, tt.wantIs)
			} else {
				require.NotErrorIs(t, err, api.ErrQueueFull)
			}
		})
	}
}

func progressValue(t *testing.T, p contract.OperationProgress) *mocks.Value {
	v := mocks.NewEncodedValue(t)
	v.On("Get", mock.Anything).Run(func(args mock.Arguments) {
		*args.Get(0).(*contract.OperationProgress) = p
	}).Return(nil)
	return v
}

func TestTemporalDescribe(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	closed := start.Add(90 * time.Second)
	progress := contract.OperationProgress{Kind: contract.OperationDeploy, Steps: []contract.Step{{Name: "apply", State: contract.StepRunning}}}
	applyFailed := temporal.GetDefaultFailureConverter().FailureToError(&failurepb.Failure{
		Message: "activity error",
		FailureInfo: &failurepb.Failure_ActivityFailureInfo{ActivityFailureInfo: &failurepb.ActivityFailureInfo{
			ActivityType: &commonpb.ActivityType{Name: "Apply"},
		}},
		Cause: &failurepb.Failure{
			Message:     "apply deployment web: forbidden",
			FailureInfo: &failurepb.Failure_ApplicationFailureInfo{ApplicationFailureInfo: &failurepb.ApplicationFailureInfo{Type: "Forbidden"}},
		},
	})

	tests := []struct {
		name     string
		status   enumspb.WorkflowExecutionStatus
		closed   *time.Time
		query    func(c *mocks.Client)
		result   func(c *mocks.Client)
		want     api.OperationStatus
		wantProg string
	}{
		{
			name: "running", status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
			query: func(c *mocks.Client) {
				c.On("QueryWorkflow", mock.Anything, "wf", "run-0", contract.QueryProgress).Return(progressValue(t, progress), nil)
			},
			want: api.OperationStatus{RunID: "run-0", State: api.StateRunning, OperationID: "op-0", Started: start, Progress: &progress},
		},
		{
			name: "succeeded", status: enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, closed: &closed,
			query: func(c *mocks.Client) {
				c.On("QueryWorkflow", mock.Anything, "wf", "run-0", contract.QueryProgress).Return(progressValue(t, progress), nil)
			},
			result: func(c *mocks.Client) {
				run := mocks.NewWorkflowRun(t)
				run.On("Get", mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
					*args.Get(1).(*json.RawMessage) = json.RawMessage(`{"releaseId":"rel-1"}`)
				}).Return(nil)
				c.On("GetWorkflow", mock.Anything, "wf", "run-0").Return(run)
			},
			want: api.OperationStatus{RunID: "run-0", State: api.StateSucceeded, OperationID: "op-0", Started: start, Closed: &closed,
				Progress: &progress, Result: json.RawMessage(`{"releaseId":"rel-1"}`)},
		},
		{
			name: "failed in an activity", status: enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, closed: &closed,
			query: func(c *mocks.Client) {
				c.On("QueryWorkflow", mock.Anything, "wf", "run-0", contract.QueryProgress).Return(progressValue(t, progress), nil)
			},
			result: func(c *mocks.Client) {
				run := mocks.NewWorkflowRun(t)
				run.On("Get", mock.Anything, nil).Return(applyFailed)
				c.On("GetWorkflow", mock.Anything, "wf", "run-0").Return(run)
			},
			want: api.OperationStatus{RunID: "run-0", State: api.StateFailed, OperationID: "op-0", Started: start, Closed: &closed,
				Progress: &progress, Error: "activity Apply: apply deployment web: forbidden"},
		},
		{
			name: "canceled, no worker to answer the query", status: enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, closed: &closed,
			query: func(c *mocks.Client) {
				c.On("QueryWorkflow", mock.Anything, "wf", "run-0", contract.QueryProgress).Return(nil, context.DeadlineExceeded)
			},
			result: func(c *mocks.Client) {
				run := mocks.NewWorkflowRun(t)
				run.On("Get", mock.Anything, nil).Return(temporal.NewCanceledError())
				c.On("GetWorkflow", mock.Anything, "wf", "run-0").Return(run)
			},
			want: api.OperationStatus{RunID: "run-0", State: api.StateCanceled, OperationID: "op-0", Started: start, Closed: &closed,
				ProgressError: "query progress: context deadline exceeded", Error: "canceled"},
		},
		{
			name: "terminated", status: enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, closed: &closed,
			query: func(c *mocks.Client) {
				c.On("QueryWorkflow", mock.Anything, "wf", "run-0", contract.QueryProgress).Return(progressValue(t, progress), nil)
			},
			result: func(c *mocks.Client) {
				run := mocks.NewWorkflowRun(t)
				run.On("Get", mock.Anything, nil).Return(errors.New("workflow terminated by operator"))
				c.On("GetWorkflow", mock.Anything, "wf", "run-0").Return(run)
			},
			want: api.OperationStatus{RunID: "run-0", State: api.StateTerminated, OperationID: "op-0", Started: start, Closed: &closed,
				Progress: &progress, Error: "workflow terminated by operator"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, wf := newTemporal(t)
			c.On("DescribeWorkflowExecution", mock.Anything, "wf", "run-0").Return(describeResponse(t, tt.status, start, tt.closed), nil)
			tt.query(c)
			if tt.result != nil {
				tt.result(c)
			}
			got, err := wf.Describe(t.Context(), "wf", "run-0")
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestTemporalNotFound(t *testing.T) {
	t.Parallel()
	c, wf := newTemporal(t)
	c.On("DescribeWorkflowExecution", mock.Anything, "wf", "gone").Return(nil, serviceerror.NewNotFound("workflow execution not found"))
	c.On("CancelWorkflow", mock.Anything, "wf", "gone").Return(serviceerror.NewNotFound("workflow execution already completed"))
	c.On("CancelWorkflow", mock.Anything, "wf", "run-0").Return(nil)

	_, err := wf.Describe(t.Context(), "wf", "gone")
	require.ErrorIs(t, err, api.ErrExecutionNotFound)
	err = wf.Cancel(t.Context(), "wf", "gone")
	require.ErrorIs(t, err, api.ErrExecutionNotFound)
	require.ErrorContains(t, err, "already completed")
	require.NoError(t, wf.Cancel(t.Context(), "wf", "run-0"))
}
