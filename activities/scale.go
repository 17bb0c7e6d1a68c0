package activities

import (
	"context"
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rainflow/rainflow/contract"
)

// ScaleWorkloadInput names the component and the replicas its workload should run.
type ScaleWorkloadInput struct {
	Ref      contract.ComponentRef `json:"ref"`
	Replicas int32                 `json:"replicas"` // 0 to contract.MaxReplicas
}

// ScaleWorkloadResult says what was scaled, and what to wait for.
type ScaleWorkloadResult struct {
	Namespace  string `json:"namespace"`
	Deployment string `json:"deployment"`
	Service    string `json:"service,omitempty"` // "" when the component has no Service
	Previous   int32  `json:"previous"`          // the replicas this call found
	Replicas   int32  `json:"replicas"`
	Generation int64  `json:"generation"` // the Deployment's generation after the change
}

// ScaleWorkload sets the replicas of the component's Deployment through its scale subresource, under
// contract.FieldManagerScale: only spec.replicas changes, and the release's fields keep their owner
// (an apply under contract.FieldManager with a partial object would delete the fields it leaves out).
// A workload already at the replicas is left as it is, so a retry changes nothing. Replicas out of
// range and a component never deployed fail for good; a conflict with a concurrent write is retried.
func (k *Kube) ScaleWorkload(ctx context.Context, in ScaleWorkloadInput) (ScaleWorkloadResult, error) {
	if in.Replicas < 0 || in.Replicas > contract.MaxReplicas {
		return ScaleWorkloadResult{}, permanent(ErrTypeInvalidSpec, fmt.Errorf(
			"scale component %s/%s/%s: replicas %d: must be between 0 and %d",
			in.Ref.Tenant, in.Ref.App, in.Ref.Component, in.Replicas, contract.MaxReplicas))
	}
	dep, err := k.workload(ctx, in.Ref)
	if err != nil {
		return ScaleWorkloadResult{}, err
	}
	out := ScaleWorkloadResult{
		Namespace: dep.Namespace, Deployment: dep.Name, Previous: replicasOf(dep), Replicas: in.Replicas,
		Generation: dep.Generation,
	}
	if out.Previous != in.Replicas {
		scale := &autoscalingv1.Scale{
			ObjectMeta: metav1.ObjectMeta{Name: dep.Name, Namespace: dep.Namespace, ResourceVersion: dep.ResourceVersion},
			Spec:       autoscalingv1.ScaleSpec{Replicas: in.Replicas},
		}
		if _, err := k.Client.AppsV1().Deployments(dep.Namespace).UpdateScale(ctx, dep.Name, scale,
			metav1.UpdateOptions{FieldManager: contract.FieldManagerScale}); err != nil {
			return ScaleWorkloadResult{}, classify(fmt.Errorf("scale deployment %s/%s to %d: %w", dep.Namespace, dep.Name, in.Replicas, err))
		}
		// the scale subresource does not carry the generation the change produced: read it back
		if dep, err = k.workload(ctx, in.Ref); err != nil {
			return ScaleWorkloadResult{}, err
		}
		out.Generation = dep.Generation
	}
	if out.Service, err = k.serviceOf(ctx, in.Ref); err != nil {
		return ScaleWorkloadResult{}, err
	}
	return out, nil
}
