package contract

// Delete removes a component: every Kubernetes object it made (its volumes only when asked), then its
// record and its releases. It runs under ComponentWorkflowID's queue like every other operation, so it
// waits for the one running and nothing of the component runs after it.

// WorkflowDelete names the Delete workflow.
const WorkflowDelete = "Delete"

// OperationDelete is the kind of a delete operation.
const OperationDelete OperationKind = "delete"

// DeleteInput starts a Delete workflow: delete every object of the component found by its labels (its
// PersistentVolumeClaims only with DeleteVolumes), wait until they and its pods are gone, then forget
// the component's record and its releases. The operations' records stay, without their component.
type DeleteInput struct {
	OperationID string       `json:"operationId"`
	Ref         ComponentRef `json:"ref"`
	ComponentID string       `json:"componentId"` // the store's id, for forgetting the record
	// DeleteVolumes deletes the component's PersistentVolumeClaims too, and with them (under the usual
	// reclaim policy) its data; without it they stay, and a component of the same name deployed later
	// mounts them again.
	DeleteVolumes bool   `json:"deleteVolumes,omitempty"`
	RequestedBy   string `json:"requestedBy,omitempty"`
}

// DeleteResult is what a finished Delete reports.
type DeleteResult struct {
	Namespace string `json:"namespace"`
	// Deleted are the objects this delete removed, as Kind/name; empty when nothing was left.
	Deleted []string `json:"deleted,omitempty"`
	// KeptVolumes are the PersistentVolumeClaims left in place (none with DeleteVolumes).
	KeptVolumes []string `json:"keptVolumes,omitempty"`
	// Forgotten is true when this delete removed the component's record; false when it was gone already.
	Forgotten bool `json:"forgotten"`
}
