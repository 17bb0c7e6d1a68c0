package contract

// WorkflowRollback names the Rollback workflow.
const WorkflowRollback = "Rollback"

// OperationRollback is the kind of a rollback operation.
const OperationRollback OperationKind = "rollback"

// RollbackInput starts a Rollback workflow: run the component at release ToReleaseID again, its whole
// snapshot (image by digest and spec), not only its image. Deploy.Spec is that release's spec with
// Image pinned to the release's digest; the API fills it from the release.
type RollbackInput struct {
	Deploy      DeployInput `json:"deploy"`
	ToReleaseID string      `json:"toReleaseId"`
}
