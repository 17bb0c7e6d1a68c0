package activities

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/contract"
)

// workload answers the component's Deployment. A component without one (never deployed, or deleted)
// fails for good: no retry makes it appear.
func (k *Kube) workload(ctx context.Context, ref contract.ComponentRef) (*appsv1.Deployment, error) {
	if ref.Tenant == "" || ref.App == "" || ref.Component == "" {
		return nil, permanent(ErrTypeInvalidSpec, fmt.Errorf("component %q/%q/%q: tenant, app and component are required",
			ref.Tenant, ref.App, ref.Component))
	}
	ns, name := render.Namespace(ref.Tenant), render.Name(ref)
	dep, err := k.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, permanent(ErrTypeWorkloadNotFound, fmt.Errorf(
			"component %s/%s/%s has no workload (deployment %s/%s not found): deploy it first",
			ref.Tenant, ref.App, ref.Component, ns, name))
	}
	if err != nil {
		return nil, classify(fmt.Errorf("get deployment %s/%s: %w", ns, name, err))
	}
	return dep, nil
}

// serviceOf answers the component's Service name, or "" when it has none (a component without ports).
func (k *Kube) serviceOf(ctx context.Context, ref contract.ComponentRef) (string, error) {
	ns, name := render.Namespace(ref.Tenant), render.Name(ref)
	svc, err := k.Client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", classify(fmt.Errorf("get service %s/%s: %w", ns, name, err))
	}
	return svc.Name, nil
}

// replicasOf answers the Deployment's desired replicas (Kubernetes' default is 1).
func replicasOf(dep *appsv1.Deployment) int32 {
	if dep.Spec.Replicas == nil {
		return 1
	}
	return *dep.Spec.Replicas
}
