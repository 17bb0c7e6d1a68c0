package contract

// Lifecycle operations on a deployed component: start, stop, restart and (horizontal) scale. Each
// runs under ComponentWorkflowID like a deploy, so one operation runs per component at a time.

// Workflow type names of the lifecycle operations.
const (
	WorkflowStart   = "Start"
	WorkflowStop    = "Stop"
	WorkflowRestart = "Restart"
	WorkflowScale   = "Scale"
)

// Operation kinds of the lifecycle operations.
const (
	OperationStart   OperationKind = "start"
	OperationStop    OperationKind = "stop"
	OperationRestart OperationKind = "restart"
	OperationScale   OperationKind = "scale"
)

// MaxReplicas is the most replicas a component may run.
const MaxReplicas = 100

// Field managers of the lifecycle operations' writes. They are apart from FieldManager on purpose: a
// server-side apply under FieldManager with a partial object would delete the fields it leaves out,
// and a scale or a restart must leave the release's fields (and their ownership) untouched.
const (
	// FieldManagerRestart owns only AnnotationRestartedAt on the pod template.
	FieldManagerRestart = "rainflow-restart"
	// FieldManagerScale owns only spec.replicas, written through the scale subresource.
	FieldManagerScale = "rainflow-scale"
)

// AnnotationRestartedAt is the pod-template annotation a restart sets (RFC 3339 time): changing the
// template makes the Deployment replace its pods by a rolling update, without downtime.
const AnnotationRestartedAt = "rainflow.io/restartedAt"

// StartInput starts a Start workflow: scale the component's workload back to Replicas, the replicas
// its stored spec asks for, and wait until they are ready.
type StartInput struct {
	OperationID string       `json:"operationId"`
	Ref         ComponentRef `json:"ref"`
	ComponentID string       `json:"componentId"`
	Replicas    int32        `json:"replicas"`
	RequestedBy string       `json:"requestedBy,omitempty"`
}

// StartResult is what a finished Start reports.
type StartResult struct {
	Workload       string `json:"workload"` // Deployment name
	Replicas       int32  `json:"replicas"`
	ReadyEndpoints int32  `json:"readyEndpoints"`
}

// StopInput starts a Stop workflow: scale the component's workload to zero and wait until no pod
// remains; its Service, configuration and every other object stay.
type StopInput struct {
	OperationID string       `json:"operationId"`
	Ref         ComponentRef `json:"ref"`
	ComponentID string       `json:"componentId"`
	RequestedBy string       `json:"requestedBy,omitempty"`
}

// StopResult is what a finished Stop reports.
type StopResult struct {
	Workload         string `json:"workload"`
	PreviousReplicas int32  `json:"previousReplicas"`
}

// RestartInput starts a Restart workflow: replace every pod of the component by a rolling update, so
// that some replicas are ready at every moment.
type RestartInput struct {
	OperationID string       `json:"operationId"`
	Ref         ComponentRef `json:"ref"`
	ComponentID string       `json:"componentId"`
	RequestedBy string       `json:"requestedBy,omitempty"`
}

// RestartResult is what a finished Restart reports.
type RestartResult struct {
	Workload    string `json:"workload"`
	RestartedAt string `json:"restartedAt"` // the AnnotationRestartedAt value
	Replicas    int32  `json:"replicas"`
}

// ScaleInput starts a Scale workflow: set the workload's replicas (0 to MaxReplicas) and wait until
// they are ready. The API stores Replicas in the component's spec first, so the next deploy keeps them.
type ScaleInput struct {
	OperationID string       `json:"operationId"`
	Ref         ComponentRef `json:"ref"`
	ComponentID string       `json:"componentId"`
	Replicas    int32        `json:"replicas"`
	RequestedBy string       `json:"requestedBy,omitempty"`
}

// ScaleResult is what a finished Scale reports.
type ScaleResult struct {
	Workload         string `json:"workload"`
	PreviousReplicas int32  `json:"previousReplicas"`
	Replicas         int32  `json:"replicas"`
	ReadyEndpoints   int32  `json:"readyEndpoints"`
}
