package activities

import (
	"context"
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/contract"
)

// ScaleWorkloadInput names the component and the replicas its workload should run.
type ScaleWorkloadInput struct {
	Ref      contract.ComponentRef `json:"ref"`
	Replicas int32                 `json:"replicas"` // 0 to contract.MaxReplicas
}

// ScaleWorkloadResult says what was scaled, and what to wait for.
type ScaleWorkloadResult struct {
	Namespace string `json:"namespace"`
	Kind      string `json:"kind"`     // Deployment or StatefulSet
	Workload  string `json:"workload"` // the workload's name
	// Deployment is the workload's name too, whatever its kind, for workflows written before
	// StatefulSets.
	Deployment string `json:"deployment"`
	Service    string `json:"service,omitempty"` // "" when the component has no Service
	Previous   int32  `json:"previous"`          // the replicas this call found
	Replicas   int32  `json:"replicas"`          // the replicas set (within the autoscaler's bounds, when it has one)
	Generation int64  `json:"generation"`        // the workload's generation after the change
	// Autoscaled: a HorizontalPodAutoscaler owns the replicas, and keeps them within its bounds.
	Autoscaled bool `json:"autoscaled,omitempty"`
}

// ScaleWorkload sets the replicas of the component's workload (Deployment or StatefulSet) through its
// scale subresource, under contract.FieldManagerScale: only spec.replicas changes, and the release's
// fields keep their owner (an apply under contract.FieldManager with a partial object would delete
// the fields it leaves out). A workload already at the replicas is left as it is, so a retry changes
// nothing. When the component has an autoscaler, replicas above zero are brought within its bounds
// (it would move them there anyway), and zero stops it (an autoscaler leaves a workload at zero alone).
// Replicas out of range and a component never deployed fail for good; a conflict with a concurrent
// write is retried.
func (k *Kube) ScaleWorkload(ctx context.Context, in ScaleWorkloadInput) (ScaleWorkloadResult, error) {
	if in.Replicas < 0 || in.Replicas > contract.MaxReplicas {
		return ScaleWorkloadResult{}, permanent(ErrTypeInvalidSpec, fmt.Errorf(
			"scale component %s/%s/%s: replicas %d: must be between 0 and %d",
			in.Ref.Tenant, in.Ref.App, in.Ref.Component, in.Replicas, contract.MaxReplicas))
	}
	w, err := k.workload(ctx, in.Ref)
	if err != nil {
		return ScaleWorkloadResult{}, err
	}
	out := ScaleWorkloadResult{
		Namespace: w.Namespace, Kind: w.Kind, Workload: w.Name, Deployment: w.Name,
		Previous: w.Replicas, Replicas: in.Replicas, Generation: w.Generation,
	}
	lo, hi, found, err := k.autoscalerBounds(ctx, w)
	if err != nil {
		return ScaleWorkloadResult{}, err
	}
	if found {
		out.Autoscaled = true
		if in.Replicas > 0 {
			out.Replicas = min(max(in.Replicas, lo), hi)
		}
	}
	if out.Previous != out.Replicas {
		scale := &autoscalingv1.Scale{
			ObjectMeta: metav1.ObjectMeta{Name: w.Name, Namespace: w.Namespace, ResourceVersion: w.ResourceVersion},
			Spec:       autoscalingv1.ScaleSpec{Replicas: out.Replicas},
		}
		opts := metav1.UpdateOptions{FieldManager: contract.FieldManagerScale}
		if w.Kind == render.KindStatefulSet {
			_, err = k.Client.AppsV1().StatefulSets(w.Namespace).UpdateScale(ctx, w.Name, scale, opts)
		} else {
			_, err = k.Client.AppsV1().Deployments(w.Namespace).UpdateScale(ctx, w.Name, scale, opts)
		}
		if err != nil {
			return ScaleWorkloadResult{}, classify(fmt.Errorf("scale %s %s/%s to %d: %w", w.Kind, w.Namespace, w.Name, out.Replicas, err))
		}
		// the scale subresource does not carry the generation the change produced: read it back
		if w, err = k.workload(ctx, in.Ref); err != nil {
			return ScaleWorkloadResult{}, err
		}
		out.Generation = w.Generation
	}
	if out.Service, err = k.serviceOf(ctx, in.Ref); err != nil {
		return ScaleWorkloadResult{}, err
	}
	return out, nil
}

// autoscalerBounds answers the replicas bounds of the HorizontalPodAutoscaler of the workload, if it
// has one.
func (k *Kube) autoscalerBounds(ctx context.Context, w *workloadState) (lo, hi int32, found bool, err error) {
	hpa, err := k.Client.AutoscalingV2().HorizontalPodAutoscalers(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, classify(fmt.Errorf("get horizontalpodautoscaler %s/%s: %w", w.Namespace, w.Name, err))
	}
	if hpa.DeletionTimestamp != nil || hpa.Spec.ScaleTargetRef.Kind != w.Kind || hpa.Spec.ScaleTargetRef.Name != w.Name {
		return 0, 0, false, nil
	}
	lo = 1
	if hpa.Spec.MinReplicas != nil {
		lo = *hpa.Spec.MinReplicas
	}
	return lo, hpa.Spec.MaxReplicas, true, nil
}
