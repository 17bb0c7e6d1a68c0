package activities

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

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
	Namespace  string `json:"namespace"`
	Deployment string `json:"deployment"`
	Service    string `json:"service,omitempty"` // "" when the component has no Service
	Replicas   int32  `json:"replicas"`
	Generation int64  `json:"generation"` // the Deployment's generation after the change
}

// RestartWorkload sets contract.AnnotationRestartedAt on the pod template of the component's
// Deployment, which replaces its pods by a rolling update (the rendered strategy never takes a ready
// replica away before its replacement is available). The annotation is applied with server-side apply
// under its own field manager, contract.FieldManagerRestart, and nothing else: the release's fields
// stay owned by contract.FieldManager, and the next deploy neither removes the annotation nor
// restarts the pods again. Applying the same time again changes nothing.
func (k *Kube) RestartWorkload(ctx context.Context, in RestartWorkloadInput) (RestartWorkloadResult, error) {
	if _, err := time.Parse(time.RFC3339Nano, in.RestartedAt); err != nil {
		return RestartWorkloadResult{}, permanent(ErrTypeInvalidSpec, fmt.Errorf(
			"restart component %s/%s/%s: restartedAt %q is not an RFC 3339 time", in.Ref.Tenant, in.Ref.App, in.Ref.Component, in.RestartedAt))
	}
	// Apply would create a missing Deployment from the annotation alone: look first, and say why.
	dep, err := k.workload(ctx, in.Ref)
	if err != nil {
		return RestartWorkloadResult{}, err
	}
	cfg := appsv1ac.Deployment(dep.Name, dep.Namespace).
		WithSpec(appsv1ac.DeploymentSpec().
			WithTemplate(corev1ac.PodTemplateSpec().
				WithAnnotations(map[string]string{contract.AnnotationRestartedAt: in.RestartedAt})))
	applied, err := k.Client.AppsV1().Deployments(dep.Namespace).Apply(ctx, cfg,
		metav1.ApplyOptions{FieldManager: contract.FieldManagerRestart, Force: true})
	if err != nil {
		return RestartWorkloadResult{}, classify(fmt.Errorf("annotate pod template of deployment %s/%s: %w", dep.Namespace, dep.Name, err))
	}
	out := RestartWorkloadResult{
		Namespace: applied.Namespace, Deployment: applied.Name, Replicas: replicasOf(applied), Generation: applied.Generation,
	}
	if out.Service, err = k.serviceOf(ctx, in.Ref); err != nil {
		return RestartWorkloadResult{}, err
	}
	return out, nil
}
