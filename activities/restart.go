package activities

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/contract"
)

// RestartWorkloadInput names the component to restart and the restart's time, chosen by the workflow
// so that a retried call writes the same value.
type RestartWorkloadInput struct {
	Ref         contract.ComponentRef `json:"ref"`
	RestartedAt string                `json:"restartedAt"` // RFC 3339
}

// RestartWorkloadResult says what was restarted, and what to wait for.
type RestartWorkloadResult struct {
	Namespace string `json:"namespace"`
	Kind      string `json:"kind"`     // Deployment or StatefulSet
	Workload  string `json:"workload"` // the workload's name
	// Deployment is the workload's name too, whatever its kind, for workflows written before
	// StatefulSets.
	Deployment string `json:"deployment"`
	Service    string `json:"service,omitempty"` // "" when the component has no Service
	Replicas   int32  `json:"replicas"`
	Generation int64  `json:"generation"` // the workload's generation after the change
}

// RestartWorkload sets contract.AnnotationRestartedAt on the pod template of the component's workload,
// which replaces its pods by a rolling update (a Deployment's rendered strategy never takes a ready
// replica away before its replacement is available; a StatefulSet replaces one pod at a time). The
// annotation is applied with server-side apply under its own field manager,
// contract.FieldManagerRestart, and nothing else: the release's fields stay owned by
// contract.FieldManager, and the next deploy neither removes the annotation nor restarts the pods
// again. Applying the same time again changes nothing.
func (k *Kube) RestartWorkload(ctx context.Context, in RestartWorkloadInput) (RestartWorkloadResult, error) {
	if _, err := time.Parse(time.RFC3339Nano, in.RestartedAt); err != nil {
		return RestartWorkloadResult{}, permanent(ErrTypeInvalidSpec, fmt.Errorf(
			"restart component %s/%s/%s: restartedAt %q is not an RFC 3339 time", in.Ref.Tenant, in.Ref.App, in.Ref.Component, in.RestartedAt))
	}
	// Apply would create a missing workload from the annotation alone: look first, and say why.
	w, err := k.workload(ctx, in.Ref)
	if err != nil {
		return RestartWorkloadResult{}, err
	}
	tmpl := corev1ac.PodTemplateSpec().WithAnnotations(map[string]string{contract.AnnotationRestartedAt: in.RestartedAt})
	opts := metav1.ApplyOptions{FieldManager: contract.FieldManagerRestart, Force: true}
	var applied *workloadState
	if w.Kind == render.KindStatefulSet {
		sts, aerr := k.Client.AppsV1().StatefulSets(w.Namespace).Apply(ctx,
			appsv1ac.StatefulSet(w.Name, w.Namespace).WithSpec(appsv1ac.StatefulSetSpec().WithTemplate(tmpl)), opts)
		if err = aerr; err == nil {
			applied = fromStatefulSet(sts)
		}
	} else {
		dep, aerr := k.Client.AppsV1().Deployments(w.Namespace).Apply(ctx,
			appsv1ac.Deployment(w.Name, w.Namespace).WithSpec(appsv1ac.DeploymentSpec().WithTemplate(tmpl)), opts)
		if err = aerr; err == nil {
			applied = fromDeployment(dep)
		}
	}
	if err != nil {
		return RestartWorkloadResult{}, classify(fmt.Errorf("annotate pod template of %s %s/%s: %w", w.Kind, w.Namespace, w.Name, err))
	}
	out := RestartWorkloadResult{
		Namespace: applied.Namespace, Kind: applied.Kind, Workload: applied.Name, Deployment: applied.Name,
		Replicas: applied.Replicas, Generation: applied.Generation,
	}
	if out.Service, err = k.serviceOf(ctx, in.Ref); err != nil {
		return RestartWorkloadResult{}, err
	}
	return out, nil
}
