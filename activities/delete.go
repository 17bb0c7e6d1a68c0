package activities

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"go.temporal.io/sdk/activity"

	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/contract"
)

// Kinds of the objects a component may have.
const (
	kindAutoscaler  = "HorizontalPodAutoscaler"
	kindDeployment  = render.KindDeployment
	kindStatefulSet = render.KindStatefulSet
	kindService     = "Service"
	kindConfigMap   = "ConfigMap"
	kindSecret      = "Secret"
	kindVolume      = "PersistentVolumeClaim"
	kindPod         = "Pod"
	kindIngress     = "Ingress" // a route's (routes.go)
)

// DeleteComponentInput names the component to delete, and whether its volumes go too.
type DeleteComponentInput struct {
	Ref contract.ComponentRef `json:"ref"`
	// DeleteVolumes deletes the component's PersistentVolumeClaims (a StatefulSet's too), and with
	// them, under the usual reclaim policy, its data. Without it they are kept for a later deploy.
	DeleteVolumes bool `json:"deleteVolumes,omitempty"`
}

// DeleteComponentResult says what the delete removed and what it kept.
type DeleteComponentResult struct {
	Namespace   string   `json:"namespace"`
	Deleted     []string `json:"deleted,omitempty"`     // Kind/name, the objects this delete removed
	KeptVolumes []string `json:"keptVolumes,omitempty"` // the PersistentVolumeClaims left in place
}

// DeleteProgress is what a delete has done and what remains; it is the heartbeat detail too.
type DeleteProgress struct {
	Deleted   []string `json:"deleted,omitempty"`
	Remaining int32    `json:"remaining"`
	Left      []string `json:"left,omitempty"` // the first few objects and pods that remain, Kind/name
}

// EventMessage is the progress as the operation's event log shows it.
func (p DeleteProgress) EventMessage() string {
	if p.Remaining == 0 {
		return fmt.Sprintf("%d objects deleted, none left", len(p.Deleted))
	}
	return fmt.Sprintf("%d objects left: %s", p.Remaining, strings.Join(p.Left, ", "))
}

// DeleteComponent deletes every object of the component, found by its tenant, app and component
// labels in its namespace: Ingresses, autoscaler, workload, Services, ConfigMaps, Secrets, and its volumes only
// when asked, with foreground propagation. Then it waits until none of them, and none of the
// component's pods, remains, heartbeating what is left. A component already gone is deleted at once:
// the activity is idempotent, and resumes from its heartbeat on retry.
func (k *Kube) DeleteComponent(ctx context.Context, in DeleteComponentInput) (DeleteComponentResult, error) {
	ref := in.Ref
	if ref.Tenant == "" || ref.App == "" || ref.Component == "" {
		return DeleteComponentResult{}, permanent(ErrTypeInvalidSpec, fmt.Errorf("delete component %q/%q/%q: tenant, app and component are required",
			ref.Tenant, ref.App, ref.Component))
	}
	var p DeleteProgress
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p)
	}
	ns := render.Namespace(ref.Tenant)
	sel := labels.SelectorFromSet(render.ComponentLabels(ref)).String()
	kinds := []string{kindIngress, kindAutoscaler, kindDeployment, kindStatefulSet, kindService, kindConfigMap, kindSecret}
	if in.DeleteVolumes {
		kinds = append(kinds, kindVolume)
	}
	tick := time.NewTicker(orDuration(k.PollInterval, 500*time.Millisecond))
	defer tick.Stop()
	for {
		left, err := k.deleteRound(ctx, ns, sel, kinds, &p)
		if err != nil {
			return DeleteComponentResult{}, err
		}
		p.Remaining = int32(len(left))
		p.Left = left[:min(len(left), maxPodsReported)]
		activity.RecordHeartbeat(ctx, p)
		if len(left) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return DeleteComponentResult{}, fmt.Errorf("wait for component %s/%s/%s to be deleted (%d left: %v): %w",
				ref.Tenant, ref.App, ref.Component, p.Remaining, p.Left, ctx.Err())
		case <-tick.C:
		}
	}
	out := DeleteComponentResult{Namespace: ns, Deleted: p.Deleted}
	if !in.DeleteVolumes {
		kept, err := k.list(ctx, kindVolume, ns, sel)
		if err != nil {
			return DeleteComponentResult{}, classify(fmt.Errorf("list volumes of %s/%s/%s: %w", ref.Tenant, ref.App, ref.Component, err))
		}
		for _, o := range kept {
			out.KeptVolumes = append(out.KeptVolumes, o.GetName())
		}
		sort.Strings(out.KeptVolumes)
	}
	return out, nil
}

// deleteRound deletes every object of the kinds that is not being deleted yet, and the component's
// pods that no controller owns (the others go with their controller), and answers what remains.
func (k *Kube) deleteRound(ctx context.Context, ns, sel string, kinds []string, p *DeleteProgress) ([]string, error) {
	var left []string
	foreground := metav1.DeletePropagationForeground
	for _, kind := range append(kinds, kindPod) {
		objs, err := k.list(ctx, kind, ns, sel)
		if err != nil {
			return nil, classify(fmt.Errorf("list %ss in %s: %w", kind, ns, err))
		}
		for _, o := range objs {
			id := kind + "/" + o.GetName()
			left = append(left, id)
			if o.GetDeletionTimestamp() != nil || (kind == kindPod && metav1.GetControllerOf(o) != nil) {
				continue
			}
			uid := o.GetUID()
			err := k.remove(ctx, kind, ns, o.GetName(), metav1.DeleteOptions{
				PropagationPolicy: &foreground, Preconditions: &metav1.Preconditions{UID: &uid}})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				return nil, classify(fmt.Errorf("delete %s %s/%s: %w", kind, ns, o.GetName(), err))
			}
			if !slices.Contains(p.Deleted, id) {
				p.Deleted = append(p.Deleted, id)
				sort.Strings(p.Deleted)
			}
		}
	}
	sort.Strings(left)
	return left, nil
}

// staleObjects are the objects an earlier release of the component may have made that objs does not
// have: the autoscaler apart, as it must go before the workload takes its replicas back. Volumes are
// never stale.
func staleObjects(ref contract.ComponentRef, objs render.Objects) (autoscaler, rest []objectRef) {
	name := render.Name(ref)
	if objs.Autoscaler == nil {
		autoscaler = []objectRef{{kindAutoscaler, name}}
	}
	if objs.ConfigMap == nil {
		rest = append(rest, objectRef{kindConfigMap, render.ConfigMapName(ref)})
	}
	if objs.Secret == nil {
		rest = append(rest, objectRef{kindSecret, render.SecretEnvName(ref)})
	}
	if objs.HeadlessService == nil {
		rest = append(rest, objectRef{kindService, render.HeadlessServiceName(ref)})
	}
	if objs.Service == nil {
		rest = append(rest, objectRef{kindService, name})
	}
	if objs.Deployment == nil {
		rest = append(rest, objectRef{kindDeployment, name})
	}
	if objs.StatefulSet == nil {
		rest = append(rest, objectRef{kindStatefulSet, name})
	}
	return autoscaler, rest
}

// objectRef names an object of the component's namespace.
type objectRef struct{ kind, name string }

// prune deletes the objects that exist and belong to the component (by its labels, made by Rainflow),
// in the background, and answers them as Kind/name.
func (k *Kube) prune(ctx context.Context, ref contract.ComponentRef, objs []objectRef) ([]string, error) {
	ns := render.Namespace(ref.Tenant)
	var pruned []string
	background := metav1.DeletePropagationBackground
	fromCache := k.Cache.Synced()
	for _, o := range objs {
		obj, err := k.candidate(ctx, fromCache, o.kind, ns, o.name)
		if err != nil {
			return nil, err
		}
		if obj == nil || !ownedBy(obj, ref) || obj.GetDeletionTimestamp() != nil {
			continue
		}
		uid := obj.GetUID()
		err = k.remove(ctx, o.kind, ns, o.name, metav1.DeleteOptions{PropagationPolicy: &background, Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return nil, classify(fmt.Errorf("delete %s %s/%s of an earlier release: %w", o.kind, ns, o.name, err))
		}
		pruned = append(pruned, o.kind+"/"+o.name)
	}
	return pruned, nil
}

// candidate reads an object prune may delete: from the synced cache, where an object absent is
// absent (the delete's UID precondition guards against a cache that lags), else from the API. It
// answers nil when there is none.
func (k *Kube) candidate(ctx context.Context, fromCache bool, kind, ns, name string) (metav1.Object, error) {
	if fromCache {
		return k.Cache.get(kind, ns, name), nil
	}
	obj, err := k.get(ctx, kind, ns, name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, classify(fmt.Errorf("get %s %s/%s: %w", kind, ns, name, err))
	}
	return obj, nil
}

// ownedBy tells whether Rainflow made obj for the component.
func ownedBy(obj metav1.Object, ref contract.ComponentRef) bool {
	l := obj.GetLabels()
	for key, v := range render.ComponentLabels(ref) {
		if l[key] != v {
			return false
		}
	}
	return l["app.kubernetes.io/managed-by"] == "rainflow"
}

// list lists the objects of a kind that match the label selector.
func (k *Kube) list(ctx context.Context, kind, ns, sel string) ([]metav1.Object, error) {
	opts := metav1.ListOptions{LabelSelector: sel}
	c := k.Client
	switch kind {
	case kindAutoscaler:
		l, err := c.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		return metaOf(l.Items), nil
	case kindDeployment:
		l, err := c.AppsV1().Deployments(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		return metaOf(l.Items), nil
	case kindStatefulSet:
		l, err := c.AppsV1().StatefulSets(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		return metaOf(l.Items), nil
	case kindService:
		l, err := c.CoreV1().Services(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		return metaOf(l.Items), nil
	case kindConfigMap:
		l, err := c.CoreV1().ConfigMaps(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		return metaOf(l.Items), nil
	case kindSecret:
		l, err := c.CoreV1().Secrets(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		return metaOf(l.Items), nil
	case kindVolume:
		l, err := c.CoreV1().PersistentVolumeClaims(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		return metaOf(l.Items), nil
	case kindIngress:
		l, err := c.NetworkingV1().Ingresses(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		return metaOf(l.Items), nil
	case kindPod:
		l, err := c.CoreV1().Pods(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		return metaOf(l.Items), nil
	}
	return nil, fmt.Errorf("list %s: unknown kind", kind)
}

func metaOf[T any, P interface {
	*T
	metav1.Object
}](in []T) []metav1.Object {
	out := make([]metav1.Object, len(in))
	for i := range in {
		out[i] = P(&in[i])
	}
	return out
}

// get reads one object of a kind a release renders.
func (k *Kube) get(ctx context.Context, kind, ns, name string) (metav1.Object, error) {
	opts := metav1.GetOptions{}
	c := k.Client
	switch kind {
	case kindAutoscaler:
		return c.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, name, opts)
	case kindDeployment:
		return c.AppsV1().Deployments(ns).Get(ctx, name, opts)
	case kindStatefulSet:
		return c.AppsV1().StatefulSets(ns).Get(ctx, name, opts)
	case kindService:
		return c.CoreV1().Services(ns).Get(ctx, name, opts)
	case kindConfigMap:
		return c.CoreV1().ConfigMaps(ns).Get(ctx, name, opts)
	case kindSecret:
		return c.CoreV1().Secrets(ns).Get(ctx, name, opts)
	}
	return nil, fmt.Errorf("get %s: unknown kind", kind)
}

// remove deletes one object.
func (k *Kube) remove(ctx context.Context, kind, ns, name string, opts metav1.DeleteOptions) error {
	c := k.Client
	switch kind {
	case kindAutoscaler:
		return c.AutoscalingV2().HorizontalPodAutoscalers(ns).Delete(ctx, name, opts)
	case kindDeployment:
		return c.AppsV1().Deployments(ns).Delete(ctx, name, opts)
	case kindStatefulSet:
		return c.AppsV1().StatefulSets(ns).Delete(ctx, name, opts)
	case kindService:
		return c.CoreV1().Services(ns).Delete(ctx, name, opts)
	case kindConfigMap:
		return c.CoreV1().ConfigMaps(ns).Delete(ctx, name, opts)
	case kindSecret:
		return c.CoreV1().Secrets(ns).Delete(ctx, name, opts)
	case kindVolume:
		return c.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, name, opts)
	case kindIngress:
		return c.NetworkingV1().Ingresses(ns).Delete(ctx, name, opts)
	case kindPod:
		return c.CoreV1().Pods(ns).Delete(ctx, name, opts)
	}
	return fmt.Errorf("delete %s: unknown kind", kind)
}
