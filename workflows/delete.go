package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
)

// Step names of the delete, as the progress query reports them.
const (
	StepDeleteObjects   = "delete objects"
	StepForgetComponent = "forget component"
)

// Delete removes a component: every Kubernetes object it made, found by its labels (its volumes only
// when asked), deleted with foreground propagation and waited for until none of them and none of its
// pods remains; then its record and its releases, so that the API answers 404 for it from then on.
// Nothing can be put back, so there is no compensation: a delete canceled (or failed) midway keeps the
// record, and the objects whose deletion began go on going; DELETE again finishes the job.
func Delete(ctx workflow.Context, in contract.DeleteInput) (contract.DeleteResult, error) {
	var kube *activities.Kube
	var st *activities.Store
	pr, err := newProgress(ctx, contract.OperationDelete, StepDeleteObjects, StepForgetComponent)
	if err != nil {
		return contract.DeleteResult{}, err
	}
	workflow.GetLogger(ctx).Info("delete started", "tenant", in.Ref.Tenant, "app", in.Ref.App, "component", in.Ref.Component,
		"operation", in.OperationID, "deleteVolumes", in.DeleteVolumes)

	var deleted activities.DeleteComponentResult
	if err := pr.run(StepDeleteObjects, func() error {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, longWait), kube.DeleteComponent,
			activities.DeleteComponentInput{Ref: in.Ref, DeleteVolumes: in.DeleteVolumes}).Get(ctx, &deleted)
	}); err != nil {
		return contract.DeleteResult{}, err
	}
	pr.detail(StepDeleteObjects, deletedDetail(deleted))

	var forgot activities.ForgetComponentResult
	if err := pr.run(StepForgetComponent, func() error {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortCall), st.ForgetComponent,
			activities.ForgetComponentInput{ComponentID: in.ComponentID}).Get(ctx, &forgot)
	}); err != nil {
		return contract.DeleteResult{}, err
	}
	pr.detail(StepForgetComponent, forgotDetail(forgot))
	return contract.DeleteResult{Namespace: deleted.Namespace, Deleted: deleted.Deleted, KeptVolumes: deleted.KeptVolumes,
		Forgotten: forgot.Forgotten}, nil
}

func deletedDetail(d activities.DeleteComponentResult) string {
	s := "nothing was left to delete"
	if len(d.Deleted) > 0 {
		s = fmt.Sprintf("deleted %d object(s): %s", len(d.Deleted), strings.Join(d.Deleted, ", "))
	}
	if len(d.KeptVolumes) > 0 {
		s += fmt.Sprintf("; kept %d volume claim(s): %s", len(d.KeptVolumes), strings.Join(d.KeptVolumes, ", "))
	}
	return s
}

func forgotDetail(f activities.ForgetComponentResult) string {
	if f.Forgotten {
		return "record and releases deleted"
	}
	return "the record was gone already"
}
