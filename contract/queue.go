package contract

import (
	"encoding/json"
	"strings"
)

// One operation at a time per component, queued: every component has one queue, a ComponentQueue
// workflow under ComponentWorkflowID. A request enqueues its operation there with the UpdateEnqueue
// Update (started with the queue when none runs: update-with-start); the queue runs its operations one
// after the other, each as a child workflow under OperationWorkflowID, and ends when it is empty. A
// request equal to one still waiting in the queue (same MergeKey) is merged into it instead of queued
// twice; the answer says whether the operation runs now, waits, or was merged.

// WorkflowComponentQueue names the per-component queue workflow.
const WorkflowComponentQueue = "ComponentQueue"

// Update and query names of the queue.
const (
	// UpdateEnqueue takes a QueuedOperation and answers an EnqueueResult.
	UpdateEnqueue = "enqueue"
	// UpdateDequeue takes a DequeueRequest and answers a DequeueResult: it takes a waiting operation
	// out of the queue (its cancellation before it ran).
	UpdateDequeue = "dequeue"
	// QueryQueue answers a QueueState.
	QueryQueue = "queue"
	// SignalEnqueue carries a QueuedOperation, like UpdateEnqueue but without an answer: a signal is
	// stored by Temporal even when no worker runs, so a request that no worker took in time is still
	// queued (the queue knows an operation by its id, so one sent both ways is queued once).
	SignalEnqueue = "enqueue"
)

// MaxQueuedOperations is how many operations may wait in one component's queue; one more is refused
// (the API answers 429) rather than queued without bound.
const MaxQueuedOperations = 20

// Error types of the queue's refusals, as the Update's application error carries them.
const (
	ErrTypeQueueFull        = "QueueFull"
	ErrTypeInvalidOperation = "InvalidOperation"
)

// Memo fields of an operation's workflow, which the API reads to name a run's operation.
const (
	MemoOperationID = "operationId"
	MemoKind        = "kind"
	MemoRequestedBy = "requestedBy"
	MemoRequest     = "request"
)

// SearchAttributeInitiator names who asked for an operation, so that the Web UI finds "my" operations.
const SearchAttributeInitiator = "RainflowInitiator"

// OperationWorkflowID is the workflow id an operation runs under: "<kind>/<tenant>/<app>/<component>/<id>",
// which reads well in the Temporal Web UI and is unique per operation.
func OperationWorkflowID(kind OperationKind, ref ComponentRef, operationID string) string {
	return string(kind) + "/" + ref.Tenant + "/" + ref.App + "/" + ref.Component + "/" + operationID
}

// QueuedOperation is one operation in a component's queue.
type QueuedOperation struct {
	OperationID string        `json:"operationId"`
	Kind        OperationKind `json:"kind"`
	Workflow    string        `json:"workflow"` // the Workflow* type the operation runs
	// Input is the workflow's input (a DeployInput for a deploy, ...), as JSON.
	Input       json.RawMessage `json:"input"`
	RequestedBy string          `json:"requestedBy,omitempty"`
	// MergeKey is equal for two requests that do the same; "" never merges.
	MergeKey string `json:"mergeKey,omitempty"`
}

// QueueInput starts (or continues as new) a component's queue with the operations still waiting.
type QueueInput struct {
	Ref     ComponentRef      `json:"ref"`
	Waiting []QueuedOperation `json:"waiting,omitempty"`
	// Done are the latest operations the queue ran, so that an enqueue retried after its operation
	// ran is recognized instead of run twice.
	Done []string `json:"done,omitempty"`
}

// EnqueueResult answers UpdateEnqueue.
type EnqueueResult struct {
	// OperationID is the operation that carries out the request: the enqueued one, or the waiting one
	// it was merged into.
	OperationID string `json:"operationId"`
	WorkflowID  string `json:"workflowId"` // OperationWorkflowID of OperationID
	Merged      bool   `json:"merged,omitempty"`
	// Position is 0 when the operation runs now, n when n operations run before it.
	Position int `json:"position"`
	// Done is true when the operation already ran (an enqueue retried after it finished).
	Done bool `json:"done,omitempty"`
	// Pending is true when no worker answered in time and the operation was sent as SignalEnqueue:
	// it is queued, and its place is known once a worker runs the queue.
	Pending bool `json:"pending,omitempty"`
}

// DequeueRequest asks the queue to drop a waiting operation.
type DequeueRequest struct {
	OperationID string `json:"operationId"`
}

// DequeueResult answers UpdateDequeue: Removed when the operation was waiting and will not run;
// Running when it already runs (cancel its workflow instead); neither when the queue does not know it.
type DequeueResult struct {
	Removed bool `json:"removed,omitempty"`
	Running bool `json:"running,omitempty"`
}

// QueueEntry is an operation as the queue query shows it (without its input).
type QueueEntry struct {
	OperationID string        `json:"operationId"`
	Kind        OperationKind `json:"kind"`
	WorkflowID  string        `json:"workflowId"`
	RequestedBy string        `json:"requestedBy,omitempty"`
}

// QueueState answers QueryQueue: the running operation (nil between two) and the waiting ones, in order.
type QueueState struct {
	Running *QueueEntry  `json:"running,omitempty"`
	Waiting []QueueEntry `json:"waiting"`
}

// Position answers where the operation is: 0 running, n>0 waiting behind n operations, -1 unknown.
func (s QueueState) Position(operationID string) int {
	n := 0
	if s.Running != nil {
		if s.Running.OperationID == operationID {
			return 0
		}
		n = 1
	}
	for i, e := range s.Waiting {
		if e.OperationID == operationID {
			return n + i
		}
	}
	return -1
}

// OperationName is what an operation's workflow id says: the operation's kind, where it acts and its id.
type OperationName struct {
	Kind      OperationKind
	Tenant    string
	App       string
	Component string // "" for an app-level operation
	ID        string
}

// ParseOperationWorkflowID reads a component operation's workflow id (OperationWorkflowID) or an
// app-level one (AppOperationWorkflowID); it reports false for any other workflow id (a queue's, a
// tenant operation's).
func ParseOperationWorkflowID(id string) (OperationName, bool) {
	parts := strings.Split(id, "/")
	for _, p := range parts {
		if p == "" {
			return OperationName{}, false
		}
	}
	switch {
	case len(parts) == 5 && !strings.HasPrefix(parts[0], "app-") && parts[0] != "rainflow":
		return OperationName{Kind: OperationKind(parts[0]), Tenant: parts[1], App: parts[2], Component: parts[3], ID: parts[4]}, true
	case len(parts) == 4 && strings.HasPrefix(parts[0], "app-"):
		return OperationName{Kind: OperationKind(strings.TrimPrefix(parts[0], "app-")), Tenant: parts[1], App: parts[2], ID: parts[3]}, true
	}
	return OperationName{}, false
}
