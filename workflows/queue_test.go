package workflows

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/contract"
)

// queueRun is one ComponentQueue run in the SDK's test environment, with a fake operation workflow
// ("FakeOp") that takes fakeOpDuration and fails when its input says so, and a log of what ran.
type queueRun struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	mu  sync.Mutex
	ran []string // operation ids, in the order their workflows ran
}

const fakeOpDuration = time.Minute

type fakeOpInput struct {
	OperationID string `json:"operationId"`
	Fail        bool   `json:"fail,omitempty"`
}

func newQueueRun(t *testing.T) *queueRun {
	var suite testsuite.WorkflowTestSuite
	q := &queueRun{t: t, env: suite.NewTestWorkflowEnvironment()}
	q.env.RegisterWorkflowWithOptions(ComponentQueue, workflow.RegisterOptions{Name: contract.WorkflowComponentQueue})
	q.env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in fakeOpInput) error {
		q.mu.Lock()
		q.ran = append(q.ran, in.OperationID)
		q.mu.Unlock()
		if err := workflow.Sleep(ctx, fakeOpDuration); err != nil {
			return err
		}
		if in.Fail {
			return temporal.NewNonRetryableApplicationError("rollout failed", "RolloutFailed", nil)
		}
		return nil
	}, workflow.RegisterOptions{Name: "FakeOp"})
	return q
}

func queuedOp(id string, kind contract.OperationKind, mergeKey string, fail bool) contract.QueuedOperation {
	input, _ := json.Marshal(fakeOpInput{OperationID: id, Fail: fail})
	return contract.QueuedOperation{OperationID: id, Kind: kind, Workflow: "FakeOp", Input: input, RequestedBy: "alice", MergeKey: mergeKey}
}

// enqueue sends the Update after delay and records its answer or rejection under the operation id.
func (q *queueRun) enqueue(delay time.Duration, op contract.QueuedOperation, results map[string]contract.EnqueueResult, errs map[string]error) {
	q.env.RegisterDelayedCallback(func() {
		q.env.UpdateWorkflow(contract.UpdateEnqueue, "enqueue-"+op.OperationID+"-"+delay.String(), &testsuite.TestUpdateCallback{
			OnReject: func(err error) {
				q.mu.Lock()
				defer q.mu.Unlock()
				errs[op.OperationID] = err
			},
			OnAccept: func() {},
			OnComplete: func(v any, err error) {
				q.mu.Lock()
				defer q.mu.Unlock()
				if err != nil {
					errs[op.OperationID] = err
					return
				}
				results[op.OperationID] = v.(contract.EnqueueResult)
			},
		}, op)
	}, delay)
}

func (q *queueRun) state(delay time.Duration, into *contract.QueueState) {
	q.env.RegisterDelayedCallback(func() {
		v, err := q.env.QueryWorkflow(contract.QueryQueue)
		require.NoError(q.t, err)
		require.NoError(q.t, v.Get(into))
	}, delay)
}

func TestComponentQueueRunsInOrderAndMerges(t *testing.T) {
	t.Parallel()
	q := newQueueRun(t)
	results, errs := map[string]contract.EnqueueResult{}, map[string]error{}
	first := queuedOp("op1", contract.OperationDeploy, "deploy:a", false)
	q.enqueue(time.Second, queuedOp("op2", contract.OperationRestart, "restart:x", true), results, errs)
	q.enqueue(2*time.Second, queuedOp("op3", contract.OperationDeploy, "deploy:b", false), results, errs)
	q.enqueue(3*time.Second, queuedOp("op4", contract.OperationRestart, "restart:x", false), results, errs) // merges into op2
	q.enqueue(4*time.Second, queuedOp("op3", contract.OperationDeploy, "deploy:b", false), results, errs)   // a retried enqueue
	q.enqueue(5*time.Second, queuedOp("op5", contract.OperationDeploy, "deploy:a", false), results, errs)   // op1 runs: not merged
	var mid contract.QueueState
	q.state(6*time.Second, &mid)
	q.env.ExecuteWorkflow(contract.WorkflowComponentQueue, contract.QueueInput{Ref: webRef, Waiting: []contract.QueuedOperation{first}})

	require.True(t, q.env.IsWorkflowCompleted())
	require.NoError(t, q.env.GetWorkflowError(), "a failed operation never fails the queue")
	require.Empty(t, errs)
	require.Equal(t, []string{"op1", "op2", "op3", "op5"}, q.ran, "in order, the merged request not run twice")
	require.Equal(t, contract.EnqueueResult{OperationID: "op2", WorkflowID: "restart/acme/shop/web/op2", Position: 1}, results["op2"])
	require.Equal(t, contract.EnqueueResult{OperationID: "op2", WorkflowID: "restart/acme/shop/web/op2", Merged: true, Position: 1}, results["op4"])
	require.Equal(t, contract.EnqueueResult{OperationID: "op3", WorkflowID: "deploy/acme/shop/web/op3", Position: 2}, results["op3"])
	require.Equal(t, 3, results["op5"].Position)
	require.False(t, results["op5"].Merged)

	require.Equal(t, &contract.QueueEntry{OperationID: "op1", Kind: contract.OperationDeploy, WorkflowID: "deploy/acme/shop/web/op1", RequestedBy: "alice"}, mid.Running)
	require.Len(t, mid.Waiting, 3)
	require.Equal(t, 2, mid.Position("op3"))
	require.Equal(t, -1, mid.Position("op4"))
}

func TestComponentQueueDequeue(t *testing.T) {
	t.Parallel()
	q := newQueueRun(t)
	results, errs := map[string]contract.EnqueueResult{}, map[string]error{}
	q.enqueue(time.Second, queuedOp("op2", contract.OperationStop, "", false), results, errs)
	q.enqueue(time.Second, queuedOp("op3", contract.OperationStart, "", false), results, errs)
	dequeued := map[string]contract.DequeueResult{}
	dequeue := func(delay time.Duration, id string) {
		q.env.RegisterDelayedCallback(func() {
			q.env.UpdateWorkflow(contract.UpdateDequeue, "dequeue-"+id, &testsuite.TestUpdateCallback{
				OnReject: func(err error) { require.NoError(t, err) }, OnAccept: func() {},
				OnComplete: func(v any, err error) {
					require.NoError(t, err)
					dequeued[id] = v.(contract.DequeueResult)
				},
			}, contract.DequeueRequest{OperationID: id})
		}, delay)
	}
	dequeue(2*time.Second, "op2")
	dequeue(3*time.Second, "op1")
	dequeue(4*time.Second, "nope")
	// a dequeued operation enqueued again (a retry of its request) is known as done, never run
	q.enqueue(5*time.Second, queuedOp("op2", contract.OperationStop, "", false), results, errs)
	q.env.ExecuteWorkflow(contract.WorkflowComponentQueue, contract.QueueInput{Ref: webRef,
		Waiting: []contract.QueuedOperation{queuedOp("op1", contract.OperationDeploy, "", false)}})

	require.NoError(t, q.env.GetWorkflowError())
	require.Empty(t, errs)
	require.Equal(t, []string{"op1", "op3"}, q.ran)
	require.Equal(t, contract.DequeueResult{Removed: true}, dequeued["op2"])
	require.Equal(t, contract.DequeueResult{Running: true}, dequeued["op1"])
	require.Equal(t, contract.DequeueResult{}, dequeued["nope"])
	require.True(t, results["op2"].Done)
}

func TestComponentQueueRefuses(t *testing.T) {
	t.Parallel()
	q := newQueueRun(t)
	results, errs := map[string]contract.EnqueueResult{}, map[string]error{}
	for i := range contract.MaxQueuedOperations {
		q.enqueue(time.Second, queuedOp("wait-"+string(rune('a'+i)), contract.OperationRestart, "", false), results, errs)
	}
	q.enqueue(2*time.Second, queuedOp("one-too-many", contract.OperationRestart, "", false), results, errs)
	q.enqueue(2*time.Second, queuedOp("wait-a", contract.OperationRestart, "", false), results, errs) // known: accepted
	bad := queuedOp("no-workflow", contract.OperationRestart, "", false)
	bad.Workflow = ""
	q.enqueue(2*time.Second, bad, results, errs)
	noInput := queuedOp("no-input", contract.OperationRestart, "", false)
	noInput.Input = nil
	q.enqueue(2*time.Second, noInput, results, errs)
	q.env.ExecuteWorkflow(contract.WorkflowComponentQueue, contract.QueueInput{Ref: webRef,
		Waiting: []contract.QueuedOperation{queuedOp("op1", contract.OperationDeploy, "", false)}})

	require.NoError(t, q.env.GetWorkflowError())
	var app *temporal.ApplicationError
	require.True(t, errors.As(errs["one-too-many"], &app), "%v", errs["one-too-many"])
	require.Equal(t, contract.ErrTypeQueueFull, app.Type())
	require.Contains(t, app.Message(), "20 operations already wait for component acme/shop/web")
	require.True(t, errors.As(errs["no-workflow"], &app))
	require.Equal(t, contract.ErrTypeInvalidOperation, app.Type())
	require.True(t, errors.As(errs["no-input"], &app))
	require.Equal(t, contract.ErrTypeInvalidOperation, app.Type())
	require.NotContains(t, errs, "wait-a")
	require.Len(t, q.ran, 1+contract.MaxQueuedOperations)
}

func TestComponentQueueContinuesAsNew(t *testing.T) {
	t.Parallel()
	q := newQueueRun(t)
	var waiting []contract.QueuedOperation
	for i := range queueOperationsPerRun + 2 {
		waiting = append(waiting, queuedOp(string(rune('A'+i%26))+string(rune('a'+i/26)), contract.OperationRestart, "", false))
	}
	q.env.ExecuteWorkflow(contract.WorkflowComponentQueue, contract.QueueInput{Ref: webRef, Waiting: waiting})

	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(q.env.GetWorkflowError(), &can), "%v", q.env.GetWorkflowError())
	require.Len(t, q.ran, queueOperationsPerRun)
	var next contract.QueueInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, webRef, next.Ref)
	require.Equal(t, waiting[queueOperationsPerRun:], next.Waiting, "what still waits goes on in the next run")
	require.Len(t, next.Done, queueDoneRemembered)
	require.Equal(t, waiting[queueOperationsPerRun-1].OperationID, next.Done[len(next.Done)-1])
}

func TestComponentQueueCanceled(t *testing.T) {
	t.Parallel()
	q := newQueueRun(t)
	q.env.RegisterDelayedCallback(q.env.CancelWorkflow, fakeOpDuration/2)
	q.env.ExecuteWorkflow(contract.WorkflowComponentQueue, contract.QueueInput{Ref: webRef, Waiting: []contract.QueuedOperation{
		queuedOp("op1", contract.OperationDeploy, "", false), queuedOp("op2", contract.OperationDeploy, "", false),
	}})
	var canceled *temporal.CanceledError
	require.True(t, errors.As(q.env.GetWorkflowError(), &canceled), "%v", q.env.GetWorkflowError())
	require.Equal(t, []string{"op1"}, q.ran, "the running operation was canceled with the queue, the waiting one never ran")
}

// TestComponentQueueSignaled: an operation sent as a signal (no worker answered the Update in time) is
// queued like an enqueued one, once; a signal received just as the queue empties still runs; a
// malformed one is dropped without failing the queue.
func TestComponentQueueSignaled(t *testing.T) {
	t.Parallel()
	q := newQueueRun(t)
	results, errs := map[string]contract.EnqueueResult{}, map[string]error{}
	signal := func(delay time.Duration, op contract.QueuedOperation) {
		q.env.RegisterDelayedCallback(func() { q.env.SignalWorkflow(contract.SignalEnqueue, op) }, delay)
	}
	signal(time.Second, queuedOp("op2", contract.OperationRestart, "", false))
	q.enqueue(2*time.Second, queuedOp("op2", contract.OperationRestart, "", false), results, errs) // the Update arrives too
	bad := queuedOp("bad", contract.OperationRestart, "", false)
	bad.Workflow = ""
	signal(3*time.Second, bad)
	signal(2*fakeOpDuration, queuedOp("op3", contract.OperationStop, "", false))
	q.env.ExecuteWorkflow(contract.WorkflowComponentQueue, contract.QueueInput{Ref: webRef,
		Waiting: []contract.QueuedOperation{queuedOp("op1", contract.OperationDeploy, "", false)}})

	require.NoError(t, q.env.GetWorkflowError())
	require.Empty(t, errs)
	require.Equal(t, []string{"op1", "op2", "op3"}, q.ran)
	require.Equal(t, 1, results["op2"].Position, "the Update finds the signaled operation")
}
