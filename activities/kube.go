package activities

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/contract"
)

// Kube holds the activities that talk to the Kubernetes API.
type Kube struct {
	Client kubernetes.Interface
	// PollInterval is how often WaitRollout looks at the rollout; default 500 ms.
	PollInterval time.Duration
	// StuckAfter is how long a pod may stay in an image-pull or crash-loop state before the rollout
	// fails; default 20 s.
	StuckAfter time.Duration
}

// EnsureNamespaceInput names a tenant.
type EnsureNamespaceInput struct {
	Tenant string `json:"tenant"`
}

// EnsureNamespaceResult names the tenant's namespace.
type EnsureNamespaceResult struct {
	Namespace string `json:"namespace"`
}

// EnsureNamespace applies the tenant's namespace.
func (k *Kube) EnsureNamespace(ctx context.Context, in EnsureNamespaceInput) (EnsureNamespaceResult, error) {
	ns := render.Namespace(in.Tenant)
	cfg := corev1ac.Namespace(ns).WithLabels(map[string]string{
		contract.LabelTenant:           in.Tenant,
		"app.kubernetes.io/managed-by": "rainflow",
	})
	if _, err := k.Client.CoreV1().Namespaces().Apply(ctx, cfg, applyOptions()); err != nil {
		return EnsureNamespaceResult{}, classify(fmt.Errorf("apply namespace %s: %w", ns, err))
	}
	return EnsureNamespaceResult{Namespace: ns}, nil
}

// ApplyInput is one release to apply.
type ApplyInput struct {
	Ref       contract.ComponentRef  `json:"ref"`
	ReleaseID string                 `json:"releaseId"`
	Image     string                 `json:"image"` // by digest
	Spec      contract.ComponentSpec `json:"spec"`
}

// ApplyResult says what was applied.
type ApplyResult struct {
	Namespace  string `json:"namespace"`
	Deployment string `json:"deployment"`
	Service    string `json:"service,omitempty"`
	Generation int64  `json:"generation"` // the Deployment's generation after the apply
}

// Apply renders the release and applies its objects with server-side apply, services before the
// workload. Applying the same release again changes nothing.
func (k *Kube) Apply(ctx context.Context, in ApplyInput) (ApplyResult, error) {
	objs, err := render.Render(render.Release{Ref: in.Ref, ReleaseID: in.ReleaseID, Image: in.Image, Spec: in.Spec})
	if err != nil {
		return ApplyResult{}, permanent(ErrTypeInvalidSpec, err)
	}
	ns := render.Namespace(in.Ref.Tenant)
	out := ApplyResult{Namespace: ns}
	if objs.Service != nil {
		svc, err := k.Client.CoreV1().Services(ns).Apply(ctx, objs.Service, applyOptions())
		if err != nil {
			return ApplyResult{}, classify(fmt.Errorf("apply service %s/%s: %w", ns, *objs.Service.Name, err))
		}
		out.Service = svc.Name
	}
	dep, err := k.Client.AppsV1().Deployments(ns).Apply(ctx, objs.Deployment, applyOptions())
	if err != nil {
		return ApplyResult{}, classify(fmt.Errorf("apply deployment %s/%s: %w", ns, *objs.Deployment.Name, err))
	}
	out.Deployment, out.Generation = dep.Name, dep.Generation
	return out, nil
}

func applyOptions() metav1.ApplyOptions {
	return metav1.ApplyOptions{FieldManager: contract.FieldManager, Force: true}
}

// classify marks errors that retrying cannot fix as non-retryable: an object Kubernetes refuses as
// invalid, or a request it forbids. Everything else (API server down, conflicts, timeouts) is retried.
func classify(err error) error {
	switch {
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return permanent(ErrTypeInvalidSpec, err)
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return permanent(ErrTypeForbidden, err)
	}
	return err
}
