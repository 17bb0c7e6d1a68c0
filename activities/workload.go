package activities

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/contract"
)

// workloadState is a component's workload, a Deployment or a StatefulSet, as the activities read it.
type workloadState struct {
	Kind, Namespace, Name string
	ResourceVersion       string
	Generation, Observed  int64
	Replicas              int32 // desired (Kubernetes' default is 1)
	Updated, Ready        int32
	Available, Total      int32 // Total counts old and new pods
	Selector              *metav1.LabelSelector
	// RevisionsMatch: a StatefulSet's current revision is its update revision (always true of a
	// Deployment, whose counts say the same).
	RevisionsMatch bool
	Stalled        string // a Deployment past its progress deadline: why
	Failure        string // a Deployment that cannot create pods (quota, admission): why
	Created        time.Time
	Terminating    bool
}

func fromDeployment(d *appsv1.Deployment) *workloadState {
	w := &workloadState{
		Kind: render.KindDeployment, Namespace: d.Namespace, Name: d.Name, ResourceVersion: d.ResourceVersion,
		Generation: d.Generation, Observed: d.Status.ObservedGeneration, Replicas: 1,
		Updated: d.Status.UpdatedReplicas, Ready: d.Status.ReadyReplicas, Available: d.Status.AvailableReplicas,
		Total: d.Status.Replicas, Selector: d.Spec.Selector, RevisionsMatch: true,
		Created: d.CreationTimestamp.Time, Terminating: d.DeletionTimestamp != nil,
	}
	if d.Spec.Replicas != nil {
		w.Replicas = *d.Spec.Replicas
	}
	for _, c := range d.Status.Conditions {
		switch {
		case c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded":
			w.Stalled = c.Message
		case c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue:
			w.Failure = c.Message
		}
	}
	return w
}

func fromStatefulSet(s *appsv1.StatefulSet) *workloadState {
	w := &workloadState{
		Kind: render.KindStatefulSet, Namespace: s.Namespace, Name: s.Name, ResourceVersion: s.ResourceVersion,
		Generation: s.Generation, Observed: s.Status.ObservedGeneration, Replicas: 1,
		Updated: s.Status.UpdatedReplicas, Ready: s.Status.ReadyReplicas, Available: s.Status.AvailableReplicas,
		Total: s.Status.Replicas, Selector: s.Spec.Selector, RevisionsMatch: s.Status.CurrentRevision == s.Status.UpdateRevision,
		Created: s.CreationTimestamp.Time, Terminating: s.DeletionTimestamp != nil,
	}
	if s.Spec.Replicas != nil {
		w.Replicas = *s.Spec.Replicas
	}
	return w
}

// complete tells whether the workload runs the generation everywhere: for a Deployment every replica
// updated and available with no old pod left; for a StatefulSet every replica updated and ready and
// its revisions the same.
func (w *workloadState) complete(generation int64) bool {
	if w.Observed < generation || w.Updated != w.Replicas || w.Total != w.Replicas {
		return false
	}
	if w.Kind == render.KindStatefulSet {
		return w.Ready == w.Replicas && w.RevisionsMatch
	}
	return w.Available == w.Replicas
}

// completeAtApply tells whether the workload, as an apply answered it, needs no rollout: its
// controller observed its generation (so the apply changed nothing it runs), and every replica is
// updated, ready and available with no old pod left. A workload being deleted never is.
func (w *workloadState) completeAtApply() bool {
	return !w.Terminating && w.Observed == w.Generation && w.Ready == w.Replicas && w.complete(w.Generation)
}

// getWorkload reads the workload named name: of the kind when one is given, else the Deployment or
// the StatefulSet of that name (a component that changed kind may briefly have both: a live Deployment,
// else the one not being deleted, then the newest, wins). It answers nil when there is none.
func (k *Kube) getWorkload(ctx context.Context, ns, kind, name string) (*workloadState, error) {
	if kind != "" && kind != render.KindDeployment && kind != render.KindStatefulSet {
		return nil, permanent(ErrTypeInvalidSpec, fmt.Errorf("workload %s/%s: unknown kind %q", ns, name, kind))
	}
	var found []*workloadState
	if kind == "" || kind == render.KindDeployment {
		dep, err := k.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil:
			found = append(found, fromDeployment(dep))
		case !apierrors.IsNotFound(err):
			return nil, classify(fmt.Errorf("get deployment %s/%s: %w", ns, name, err))
		}
	}
	// a live Deployment found by name is the workload: the StatefulSet is looked for only when the
	// kind says so, or when the Deployment is missing or going (a component that turned stateful)
	liveDeployment := kind == "" && len(found) == 1 && !found[0].Terminating
	if (kind == "" && !liveDeployment) || kind == render.KindStatefulSet {
		sts, err := k.Client.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil:
			found = append(found, fromStatefulSet(sts))
		case !apierrors.IsNotFound(err):
			return nil, classify(fmt.Errorf("get statefulset %s/%s: %w", ns, name, err))
		}
	}
	return pickWorkload(found), nil
}

// pickWorkload chooses among the workloads of one name: the one not being deleted, then the newest;
// nil when there is none.
func pickWorkload(found []*workloadState) *workloadState {
	var best *workloadState
	for _, w := range found {
		if best == nil || (best.Terminating && !w.Terminating) ||
			(best.Terminating == w.Terminating && w.Created.After(best.Created)) {
			best = w
		}
	}
	return best
}

// workload answers the component's workload. A component without one (never deployed, or deleted)
// fails for good: no retry makes it appear.
func (k *Kube) workload(ctx context.Context, ref contract.ComponentRef) (*workloadState, error) {
	if ref.Tenant == "" || ref.App == "" || ref.Component == "" {
		return nil, permanent(ErrTypeInvalidSpec, fmt.Errorf("component %q/%q/%q: tenant, app and component are required",
			ref.Tenant, ref.App, ref.Component))
	}
	ns, name := render.Namespace(ref.Tenant), render.Name(ref)
	w, err := k.getWorkload(ctx, ns, "", name)
	if err != nil {
		return nil, err
	}
	if w == nil {
		return nil, permanent(ErrTypeWorkloadNotFound, fmt.Errorf(
			"component %s/%s/%s has no workload (no deployment or statefulset %s/%s): deploy it first",
			ref.Tenant, ref.App, ref.Component, ns, name))
	}
	return w, nil
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

// workloadName is the workload an input names: Workload, or Deployment, the field of inputs written
// before components could be StatefulSets.
func workloadName(workload, deployment string) string {
	if workload != "" {
		return workload
	}
	return deployment
}
