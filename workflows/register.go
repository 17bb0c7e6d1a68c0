package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/contract"
)

// Registry is what workflows are registered on; a worker.Worker is one.
type Registry interface {
	RegisterWorkflowWithOptions(w interface{}, options workflow.RegisterOptions)
}

// Register registers every workflow under its contract name.
func Register(r Registry) {
	r.RegisterWorkflowWithOptions(Deploy, workflowOptions(contract.WorkflowDeploy))
	r.RegisterWorkflowWithOptions(Start, workflowOptions(contract.WorkflowStart))
	r.RegisterWorkflowWithOptions(Stop, workflowOptions(contract.WorkflowStop))
	r.RegisterWorkflowWithOptions(Restart, workflowOptions(contract.WorkflowRestart))
	r.RegisterWorkflowWithOptions(Scale, workflowOptions(contract.WorkflowScale))
	r.RegisterWorkflowWithOptions(Rollback, workflowOptions(contract.WorkflowRollback))
	r.RegisterWorkflowWithOptions(Delete, workflowOptions(contract.WorkflowDelete))
	r.RegisterWorkflowWithOptions(TenantSetup, workflowOptions(contract.WorkflowTenantSetup))
	r.RegisterWorkflowWithOptions(TenantDelete, workflowOptions(contract.WorkflowTenantDelete))
	r.RegisterWorkflowWithOptions(Routes, workflowOptions(contract.WorkflowRoutes))
	r.RegisterWorkflowWithOptions(ComponentQueue, workflowOptions(contract.WorkflowComponentQueue))
	r.RegisterWorkflowWithOptions(AppOperation, workflowOptions(contract.WorkflowAppOperation))
}

func workflowOptions(name string) workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: name}
}

// RegisterBuilds registers the workflows of the builds task queue.
func RegisterBuilds(r Registry) {
	r.RegisterWorkflowWithOptions(Build, workflowOptions(contract.WorkflowBuild))
}
