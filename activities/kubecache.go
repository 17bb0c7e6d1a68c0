package activities

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// KubeCache is the worker's shared informer cache of the objects Rainflow manages (those labeled
// app.kubernetes.io/managed-by=rainflow, so that its memory is bounded by what Rainflow made): the
// Kube activities read it instead of the API where a read may lag the API by a watch event, skip
// applies that cannot change anything (kubecache_memo.go), and wait for rollouts on its events instead
// of polling. A nil or unsynced cache is no cache: every read goes to the API, as before.
type KubeCache struct {
	cfg       KubeCacheConfig
	factory   informers.SharedInformerFactory
	informers map[string]cache.SharedIndexInformer // by kind
	memo      *applyMemo
	waiters   *waiters
	logger    *slog.Logger
	// sent and skipped count the applies the memo let through and those it skipped.
	sent, skipped atomic.Int64
}

// KubeCacheConfig tunes a KubeCache.
type KubeCacheConfig struct {
	// SyncTimeout bounds how long Start waits for the first lists; default 30 s. A cache not synced by
	// then is not used (direct reads) until it is.
	SyncTimeout time.Duration
	// KeepReleaseLabels: an apply whose objects differ from this worker's last apply of them only by
	// the release label (contract.LabelRelease) is skipped too, so that an unchanged object keeps the
	// release label of the release that last changed it instead of being rewritten by every deploy.
	KeepReleaseLabels bool
	// MaxMemo bounds the apply memo (entries, one per object applied); default 100,000.
	MaxMemo int
}

// Kinds the cache holds besides those of delete.go.
const (
	kindNamespace     = "Namespace"
	kindLimitRange    = "LimitRange"
	kindEndpointSlice = "EndpointSlice"
)

// labelManagedBy marks the objects Rainflow made; the cache holds only those.
const labelManagedBy = "app.kubernetes.io/managed-by"

// labelInstance is the label of a component's objects and pods that holds its objects' name.
const labelInstance = "app.kubernetes.io/instance"

// NewKubeCache sets up the informers; Start runs them.
func NewKubeCache(client kubernetes.Interface, cfg KubeCacheConfig, logger *slog.Logger) *KubeCache {
	if cfg.SyncTimeout <= 0 {
		cfg.SyncTimeout = 30 * time.Second
	}
	if cfg.MaxMemo <= 0 {
		cfg.MaxMemo = 100_000
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = labelManagedBy + "=rainflow" }),
		informers.WithTransform(stripManagedFields))
	c := &KubeCache{cfg: cfg, factory: f, memo: newApplyMemo(cfg.MaxMemo), waiters: newWaiters(), logger: logger,
		informers: map[string]cache.SharedIndexInformer{
			kindNamespace:     f.Core().V1().Namespaces().Informer(),
			kindLimitRange:    f.Core().V1().LimitRanges().Informer(),
			kindConfigMap:     f.Core().V1().ConfigMaps().Informer(),
			kindSecret:        f.Core().V1().Secrets().Informer(),
			kindService:       f.Core().V1().Services().Informer(),
			kindDeployment:    f.Apps().V1().Deployments().Informer(),
			kindStatefulSet:   f.Apps().V1().StatefulSets().Informer(),
			kindAutoscaler:    f.Autoscaling().V2().HorizontalPodAutoscalers().Informer(),
			kindPod:           f.Core().V1().Pods().Informer(),
			kindEndpointSlice: f.Discovery().V1().EndpointSlices().Informer(),
		}}
	// a component's pods by its objects' name, a Service's endpoint slices by its name
	_ = c.informers[kindPod].AddIndexers(cache.Indexers{indexOwner: labelIndex(labelInstance)})
	_ = c.informers[kindEndpointSlice].AddIndexers(cache.Indexers{indexOwner: labelIndex(discoveryv1.LabelServiceName)})
	for kind, inf := range c.informers {
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.changed(kind, obj, false) },
			UpdateFunc: func(_, obj any) { c.changed(kind, obj, false) },
			DeleteFunc: func(obj any) { c.changed(kind, obj, true) },
		})
	}
	return c
}

// Start runs the informers until ctx ends and waits, at most SyncTimeout, for their first lists. It
// answers whether they synced; when they did not, the activities read the API until they do.
func (c *KubeCache) Start(ctx context.Context) bool {
	c.factory.Start(ctx.Done())
	syncCtx, cancel := context.WithTimeout(ctx, c.cfg.SyncTimeout)
	defer cancel()
	synced := cache.WaitForCacheSync(syncCtx.Done(), c.hasSynced()...)
	if synced {
		c.logger.Info("kube cache synced")
	} else {
		c.logger.Warn("kube cache not synced: the activities read the Kubernetes API directly until it is",
			"waited", c.cfg.SyncTimeout)
	}
	return synced
}

func (c *KubeCache) hasSynced() []cache.InformerSynced {
	out := make([]cache.InformerSynced, 0, len(c.informers))
	for _, inf := range c.informers {
		out = append(out, inf.HasSynced)
	}
	return out
}

// Synced tells whether the cache can be read: every informer listed once. A nil cache never is.
func (c *KubeCache) Synced() bool {
	if c == nil {
		return false
	}
	for _, inf := range c.informers {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}

// ApplyCounts answers how many applies the cache let through and how many it skipped so far.
func (c *KubeCache) ApplyCounts() (sent, skipped int64) {
	return c.sent.Load(), c.skipped.Load()
}

// get answers the cached object of a kind (nil when the cache has none). The object is shared: never
// change it.
func (c *KubeCache) get(kind, ns, name string) metav1.Object {
	if c == nil {
		return nil
	}
	inf, ok := c.informers[kind]
	if !ok {
		return nil
	}
	key := name
	if ns != "" {
		key = ns + "/" + name
	}
	obj, exists, err := inf.GetIndexer().GetByKey(key)
	if err != nil || !exists {
		return nil
	}
	o, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	return o
}

// indexOwner indexes pods and endpoint slices by namespace/name of what they belong to.
const indexOwner = "owner"

// labelIndex indexes an object by namespace/the value of its label.
func labelIndex(label string) cache.IndexFunc {
	return func(obj any) ([]string, error) {
		o, err := meta.Accessor(obj)
		if err != nil {
			return nil, nil
		}
		v, ok := o.GetLabels()[label]
		if !ok {
			return nil, nil
		}
		return []string{o.GetNamespace() + "/" + v}, nil
	}
}

// pods answers the cached pods of a component (its objects' name) in ns.
func (c *KubeCache) pods(ns, instance string) []*corev1.Pod {
	return byOwner[*corev1.Pod](c.informers[kindPod], ns+"/"+instance)
}

// endpointSlices answers the cached endpoint slices of a Service (they carry its labels).
func (c *KubeCache) endpointSlices(ns, service string) []*discoveryv1.EndpointSlice {
	return byOwner[*discoveryv1.EndpointSlice](c.informers[kindEndpointSlice], ns+"/"+service)
}

func byOwner[T any](inf cache.SharedIndexInformer, key string) []T {
	objs, _ := inf.GetIndexer().ByIndex(indexOwner, key)
	out := make([]T, 0, len(objs))
	for _, obj := range objs {
		if o, ok := obj.(T); ok {
			out = append(out, o)
		}
	}
	return out
}

// changed is every informer event: a deleted object leaves the apply memo, and the rollout waits of
// its component wake up.
func (c *KubeCache) changed(kind string, obj any, deleted bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	o, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	if deleted {
		c.memo.forget(memoKey{kind: kind, ns: o.GetNamespace(), name: o.GetName()})
	}
	switch kind {
	case kindDeployment, kindStatefulSet:
		c.waiters.wake(o.GetNamespace() + "/" + o.GetName())
	case kindPod:
		c.waiters.wake(o.GetNamespace() + "/" + o.GetLabels()[labelInstance])
	case kindEndpointSlice:
		c.waiters.wake(o.GetNamespace() + "/" + o.GetLabels()[discoveryv1.LabelServiceName])
	}
}

// stripManagedFields drops what the activities never read from the cache, to keep it small.
func stripManagedFields(obj any) (any, error) {
	if o, err := meta.Accessor(obj); err == nil {
		o.SetManagedFields(nil)
	}
	return obj, nil
}

// waiters are the rollout waits, by namespace/name of what they wait for; an event wakes them.
type waiters struct {
	mu  sync.Mutex
	chs map[string]map[chan struct{}]struct{}
}

func newWaiters() *waiters { return &waiters{chs: map[string]map[chan struct{}]struct{}{}} }

// watch answers a channel that receives (coalesced) when something of the keys changes, and the
// function that stops it.
func (w *waiters) watch(keys ...string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, k := range keys {
		if w.chs[k] == nil {
			w.chs[k] = map[chan struct{}]struct{}{}
		}
		w.chs[k][ch] = struct{}{}
	}
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, k := range keys {
			delete(w.chs[k], ch)
			if len(w.chs[k]) == 0 {
				delete(w.chs, k)
			}
		}
	}
}

func (w *waiters) wake(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.chs[key] {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
}

// cachedWorkload reads the workload as getWorkload does, from the cache; nil when the cache has none.
func (c *KubeCache) cachedWorkload(ns, kind, name string) *workloadState {
	var found []*workloadState
	if kind == "" || kind == kindDeployment {
		if d, ok := c.get(kindDeployment, ns, name).(*appsv1.Deployment); ok {
			found = append(found, fromDeployment(d))
		}
	}
	if kind == "" && len(found) == 1 && !found[0].Terminating {
		return found[0] // a live Deployment is the workload, as getWorkload reads it
	}
	if kind == "" || kind == kindStatefulSet {
		if s, ok := c.get(kindStatefulSet, ns, name).(*appsv1.StatefulSet); ok {
			found = append(found, fromStatefulSet(s))
		}
	}
	return pickWorkload(found)
}
