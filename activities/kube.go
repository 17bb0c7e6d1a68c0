package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/contract"
)

// Kube holds the activities that talk to the Kubernetes API.
type Kube struct {
	Client kubernetes.Interface
	// PollInterval is how often WaitRollout, WaitNoPods and DeleteComponent look; default 500 ms.
	PollInterval time.Duration
	// StuckAfter is how long a pod may stay in an image-pull or crash-loop state before the rollout
	// fails; default 20 s.
	StuckAfter time.Duration
	// SecretEnv opens the secret env version an Apply runs (secret_env.go); *store.Store is one. Nil:
	// an Apply with secret env fails for good.
	SecretEnv SecretEnvOpener
	// Cache, when set and synced, is read instead of the API where a read may lag by a watch event
	// (pruning, waiting for rollouts) and skips applies that cannot change anything (kubecache.go).
	// Nil: every read and apply goes to the API.
	Cache *KubeCache
}

// EnsureNamespaceInput names a tenant, and what its namespace allows.
type EnsureNamespaceInput struct {
	Tenant string `json:"tenant"`
	// ContainerDefaults are the requests and limits of a container that sets none (the namespace's
	// LimitRange); an empty field takes its render.Default* constant.
	ContainerDefaults contract.Resources `json:"containerDefaults,omitzero"`
	// Quota, when set, bounds what the namespace uses in total (a ResourceQuota). When nil, a quota
	// applied before is left as it is: a deploy ensures the namespace without knowing the quota.
	Quota *contract.TenantQuota `json:"quota,omitempty"`
}

// EnsureNamespaceResult names the tenant's namespace and its objects.
type EnsureNamespaceResult struct {
	Namespace     string `json:"namespace"`
	LimitRange    string `json:"limitRange,omitempty"`
	ResourceQuota string `json:"resourceQuota,omitempty"` // when the input had a quota
}

// EnsureNamespace applies the tenant's namespace, its LimitRange (defaults for containers that set no
// resources, so that a quota can count them) and, when the input has one, its ResourceQuota.
func (k *Kube) EnsureNamespace(ctx context.Context, in EnsureNamespaceInput) (EnsureNamespaceResult, error) {
	ns := render.Namespace(in.Tenant)
	if in.Tenant == "" {
		return EnsureNamespaceResult{}, permanent(ErrTypeInvalidSpec, fmt.Errorf("ensure namespace: no tenant"))
	}
	labels := map[string]string{contract.LabelTenant: in.Tenant, "app.kubernetes.io/managed-by": "rainflow"}
	limits, quota, err := render.TenantObjects(ns, labels, in.ContainerDefaults, in.Quota)
	if err != nil {
		return EnsureNamespaceResult{}, permanent(ErrTypeInvalidSpec, fmt.Errorf("ensure namespace %s: %w", ns, err))
	}
	nsApply := corev1ac.Namespace(ns).WithLabels(labels)
	if _, _, err := applyOnce(k.Cache, kindNamespace, "", ns, nsApply, func() (*corev1.Namespace, error) {
		return k.Client.CoreV1().Namespaces().Apply(ctx, nsApply, applyOptions())
	}); err != nil {
		return EnsureNamespaceResult{}, classify(fmt.Errorf("apply namespace %s: %w", ns, err))
	}
	out := EnsureNamespaceResult{Namespace: ns, LimitRange: render.LimitRangeName}
	if _, _, err := applyOnce(k.Cache, kindLimitRange, ns, render.LimitRangeName, limits, func() (*corev1.LimitRange, error) {
		return k.Client.CoreV1().LimitRanges(ns).Apply(ctx, limits, applyOptions())
	}); err != nil {
		return EnsureNamespaceResult{}, classify(fmt.Errorf("apply limitrange %s/%s: %w", ns, render.LimitRangeName, err))
	}
	if quota != nil {
		if _, err := k.Client.CoreV1().ResourceQuotas(ns).Apply(ctx, quota, applyOptions()); err != nil {
			return EnsureNamespaceResult{}, classify(fmt.Errorf("apply resourcequota %s/%s: %w", ns, render.ResourceQuotaName, err))
		}
		out.ResourceQuota = render.ResourceQuotaName
	}
	return out, nil
}

// ApplyInput is one release to apply.
type ApplyInput struct {
	Ref       contract.ComponentRef  `json:"ref"`
	ReleaseID string                 `json:"releaseId"`
	Image     string                 `json:"image"` // by digest
	Spec      contract.ComponentSpec `json:"spec"`
	// Dependencies are the components of Spec.DependsOn with their ports (see render.Release).
	Dependencies []contract.Dependency `json:"dependencies,omitempty"`
	// SecretEnvVersion is the version of the component's secret env to run (0: none), which Apply
	// opens from the store by ComponentID: the values are never in the input.
	SecretEnvVersion int64  `json:"secretEnvVersion,omitempty"`
	ComponentID      string `json:"componentId,omitempty"`
}

// ApplyResult says what was applied.
type ApplyResult struct {
	Namespace string `json:"namespace"`
	Kind      string `json:"kind"`     // the workload's kind: Deployment or StatefulSet
	Workload  string `json:"workload"` // the workload's name
	// Deployment is the workload's name too, whatever its kind, for workflows written before
	// StatefulSets (WaitRollout and WaitNoPods find the kind by the name).
	Deployment string `json:"deployment"`
	Service    string `json:"service,omitempty"`
	Autoscaler string `json:"autoscaler,omitempty"` // the HorizontalPodAutoscaler, when the spec has autoscaling
	Generation int64  `json:"generation"`           // the workload's generation after the apply
	// Pruned are the objects of an earlier release this one no longer has, deleted, as Kind/name.
	Pruned []string `json:"pruned,omitempty"`
	// Rollout is the workload's state as the apply answered it, and Complete whether that shows the
	// rollout done already: the apply changed nothing the workload runs (its controller observed this
	// generation) and every replica is updated, ready and available. A deploy then has nothing to wait
	// for.
	Rollout  *RolloutProgress `json:"rollout,omitempty"`
	Complete bool             `json:"complete,omitempty"`
}

// Apply renders the release and applies its objects with server-side apply, in order: Secret of the
// secret env (opened from the store here), ConfigMap, PersistentVolumeClaims, headless Service,
// Service, workload, HorizontalPodAutoscaler. Then it
// deletes what an earlier release made and this one does not render (the autoscaler first, before the
// workload takes its replicas back), but never a PersistentVolumeClaim: volumes go only with an
// explicit delete. Applying the same release again changes nothing.
func (k *Kube) Apply(ctx context.Context, in ApplyInput) (ApplyResult, error) {
	secretEnv, err := k.openSecretEnv(ctx, in)
	if err != nil {
		return ApplyResult{}, err
	}
	objs, err := render.Render(render.Release{Ref: in.Ref, ReleaseID: in.ReleaseID, Image: in.Image, Spec: in.Spec,
		Dependencies: in.Dependencies, SecretEnv: secretEnv})
	if err != nil {
		return ApplyResult{}, permanent(ErrTypeInvalidSpec, err)
	}
	ns, name := render.Namespace(in.Ref.Tenant), render.Name(in.Ref)
	out := ApplyResult{Namespace: ns, Kind: objs.Kind(), Workload: name, Deployment: name}
	staleAutoscaler, stale := staleObjects(in.Ref, objs)
	if out.Pruned, err = k.prune(ctx, in.Ref, staleAutoscaler); err != nil {
		return ApplyResult{}, err
	}
	if s := objs.Secret; s != nil {
		if err := k.applySecretEnv(ctx, s); err != nil {
			return ApplyResult{}, err
		}
	}
	if cm := objs.ConfigMap; cm != nil {
		if _, _, err := applyOnce(k.Cache, kindConfigMap, ns, *cm.Name, cm, func() (*corev1.ConfigMap, error) {
			return k.Client.CoreV1().ConfigMaps(ns).Apply(ctx, cm, applyOptions())
		}); err != nil {
			return ApplyResult{}, classify(fmt.Errorf("apply configmap %s/%s: %w", ns, *cm.Name, err))
		}
	}
	for _, pvc := range objs.Volumes {
		if _, err := k.Client.CoreV1().PersistentVolumeClaims(ns).Apply(ctx, pvc, applyOptions()); err != nil {
			return ApplyResult{}, classify(fmt.Errorf("apply persistentvolumeclaim %s/%s: %w", ns, *pvc.Name, err))
		}
	}
	for _, svc := range []*corev1ac.ServiceApplyConfiguration{objs.HeadlessService, objs.Service} {
		if svc == nil {
			continue
		}
		if _, _, err := applyOnce(k.Cache, kindService, ns, *svc.Name, svc, func() (*corev1.Service, error) {
			return k.Client.CoreV1().Services(ns).Apply(ctx, svc, applyOptions())
		}); err != nil {
			return ApplyResult{}, classify(fmt.Errorf("apply service %s/%s: %w", ns, *svc.Name, err))
		}
	}
	if objs.Service != nil {
		out.Service = *objs.Service.Name
	}
	w, err := k.applyWorkload(ctx, objs, in.Spec.Autoscaling != nil)
	if err != nil {
		return ApplyResult{}, err
	}
	out.Generation, out.Complete = w.Generation, w.completeAtApply()
	out.Rollout = &RolloutProgress{Desired: w.Replicas, Updated: w.Updated, Ready: w.Ready, Available: w.Available, Total: w.Total}
	if hpa := objs.Autoscaler; hpa != nil {
		if _, _, err := applyOnce(k.Cache, kindAutoscaler, ns, *hpa.Name, hpa, func() (*autoscalingv2.HorizontalPodAutoscaler, error) {
			return k.Client.AutoscalingV2().HorizontalPodAutoscalers(ns).Apply(ctx, hpa, applyOptions())
		}); err != nil {
			return ApplyResult{}, classify(fmt.Errorf("apply horizontalpodautoscaler %s/%s: %w", ns, *hpa.Name, err))
		}
		out.Autoscaler = *hpa.Name
	}
	pruned, err := k.prune(ctx, in.Ref, stale)
	if err != nil {
		return ApplyResult{}, err
	}
	out.Pruned = append(out.Pruned, pruned...)
	return out, nil
}

// applyWorkload applies the Deployment or the StatefulSet and answers it as the apply left it. Before an
// autoscaled workload leaves spec.replicas out, the replicas are handed over (see handOverReplicas).
func (k *Kube) applyWorkload(ctx context.Context, objs render.Objects, autoscaled bool) (*workloadState, error) {
	if d := objs.Deployment; d != nil {
		ns, name := *d.Namespace, *d.Name
		cached, pending := k.Cache.unchanged(kindDeployment, ns, name, d)
		if dep, ok := cached.(*appsv1.Deployment); ok {
			return fromDeployment(dep), nil
		}
		client := k.Client.AppsV1().Deployments(ns)
		if autoscaled {
			cur, err := client.Get(ctx, name, metav1.GetOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return nil, classify(fmt.Errorf("get deployment %s/%s: %w", ns, name, err))
			}
			if err == nil && cur.Spec.Replicas != nil && ownsReplicas(cur.ManagedFields) {
				hand := appsv1ac.Deployment(name, ns).WithSpec(appsv1ac.DeploymentSpec().WithReplicas(*cur.Spec.Replicas))
				if _, err := client.Apply(ctx, hand, metav1.ApplyOptions{FieldManager: fieldManagerHandover, Force: true}); err != nil {
					return nil, classify(fmt.Errorf("hand the replicas of deployment %s/%s over to its autoscaler: %w", ns, name, err))
				}
			}
		}
		dep, err := client.Apply(ctx, d, applyOptions())
		if err != nil {
			return nil, classify(fmt.Errorf("apply deployment %s/%s: %w", ns, name, err))
		}
		k.Cache.applied(pending, dep)
		return fromDeployment(dep), nil
	}
	s := objs.StatefulSet
	ns, name := *s.Namespace, *s.Name
	cached, pending := k.Cache.unchanged(kindStatefulSet, ns, name, s)
	if sts, ok := cached.(*appsv1.StatefulSet); ok {
		return fromStatefulSet(sts), nil
	}
	client := k.Client.AppsV1().StatefulSets(ns)
	cur, err := client.Get(ctx, name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, classify(fmt.Errorf("get statefulset %s/%s: %w", ns, name, err))
	}
	if err == nil {
		if err := sameClaims(cur, s); err != nil {
			return nil, permanent(ErrTypeInvalidSpec, fmt.Errorf("apply statefulset %s/%s: %w", ns, name, err))
		}
		if autoscaled && cur.Spec.Replicas != nil && ownsReplicas(cur.ManagedFields) {
			hand := appsv1ac.StatefulSet(name, ns).WithSpec(appsv1ac.StatefulSetSpec().WithReplicas(*cur.Spec.Replicas))
			if _, err := client.Apply(ctx, hand, metav1.ApplyOptions{FieldManager: fieldManagerHandover, Force: true}); err != nil {
				return nil, classify(fmt.Errorf("hand the replicas of statefulset %s/%s over to its autoscaler: %w", ns, name, err))
			}
		}
	}
	sts, err := client.Apply(ctx, s, applyOptions())
	if err != nil {
		return nil, classify(fmt.Errorf("apply statefulset %s/%s: %w", ns, name, err))
	}
	k.Cache.applied(pending, sts)
	return fromStatefulSet(sts), nil
}

// fieldManagerHandover co-owns spec.replicas when a workload gets an autoscaler. Server-side apply
// resets a field its only manager leaves out to its default (one replica): so before the release
// stops setting the replicas, this manager applies the current value, keeping it until the
// autoscaler writes its own.
const fieldManagerHandover = "rainflow-handover"

// ownsReplicas tells whether contract.FieldManager's apply owns spec.replicas.
func ownsReplicas(fields []metav1.ManagedFieldsEntry) bool {
	for _, f := range fields {
		if f.Manager != contract.FieldManager || f.Operation != metav1.ManagedFieldsOperationApply || f.FieldsV1 == nil {
			continue
		}
		var set struct {
			Spec map[string]json.RawMessage `json:"f:spec"`
		}
		if json.Unmarshal(f.FieldsV1.Raw, &set) == nil {
			if _, ok := set.Spec["f:replicas"]; ok {
				return true
			}
		}
	}
	return false
}

// sameClaims refuses a StatefulSet whose volumes changed: Kubernetes forbids changing
// volumeClaimTemplates, and says so in terms a user of Rainflow would not recognize.
func sameClaims(cur *appsv1.StatefulSet, want *appsv1ac.StatefulSetApplyConfiguration) error {
	type claim struct{ name, mode, size, class string }
	var had, wants []claim
	for _, c := range cur.Spec.VolumeClaimTemplates {
		cl := claim{name: c.Name, size: c.Spec.Resources.Requests.Storage().String()}
		if len(c.Spec.AccessModes) > 0 {
			cl.mode = string(c.Spec.AccessModes[0])
		}
		if c.Spec.StorageClassName != nil {
			cl.class = *c.Spec.StorageClassName
		}
		had = append(had, cl)
	}
	for _, c := range want.Spec.VolumeClaimTemplates {
		cl := claim{name: *c.Name, mode: string(c.Spec.AccessModes[0]), size: c.Spec.Resources.Requests.Storage().String()}
		if c.Spec.StorageClassName != nil {
			cl.class = *c.Spec.StorageClassName
		}
		wants = append(wants, cl)
	}
	if !slices.Equal(had, wants) {
		return fmt.Errorf("the volumes of a stateful component cannot change once it runs (had %v, want %v): "+
			"keep them, or delete the component (its volumes stay unless asked) and deploy it again", had, wants)
	}
	return nil
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
