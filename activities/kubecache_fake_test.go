package activities

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"
)

// rvTracker is the fake clientset's tracker with resourceVersions, as the API server keeps them (the
// fake alone leaves them empty): every write that changes an object gives it a new one; an apply that
// changes nothing keeps it.
type rvTracker struct {
	k8stesting.ObjectTracker
	mu sync.Mutex // one write at a time, so that an apply's before and after are its own
	rv atomic.Int64
}

func (t *rvTracker) next(obj runtime.Object) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetResourceVersion(strconv.FormatInt(t.rv.Add(1), 10))
	}
}

func (t *rvTracker) Add(obj runtime.Object) error {
	t.next(obj)
	return t.ObjectTracker.Add(obj)
}

func (t *rvTracker) Create(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.CreateOptions) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next(obj)
	return t.ObjectTracker.Create(gvr, obj, ns, opts...)
}

func (t *rvTracker) Update(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.UpdateOptions) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next(obj)
	return t.ObjectTracker.Update(gvr, obj, ns, opts...)
}

func (t *rvTracker) Patch(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next(obj)
	return t.ObjectTracker.Patch(gvr, obj, ns, opts...)
}

func (t *rvTracker) Apply(gvr schema.GroupVersionResource, cfg runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	name := ""
	if m, err := meta.Accessor(cfg); err == nil {
		name = m.GetName()
	}
	before, _ := t.ObjectTracker.Get(gvr, ns, name)
	if err := t.ObjectTracker.Apply(gvr, cfg, ns, opts...); err != nil {
		return err
	}
	after, err := t.ObjectTracker.Get(gvr, ns, name)
	if err != nil {
		return err
	}
	if before != nil && equality.Semantic.DeepEqual(withoutManagedFields(before), withoutManagedFields(after)) {
		return nil // a no-op apply: no new resourceVersion
	}
	t.next(after)
	return t.ObjectTracker.Update(gvr, after, ns, metav1.UpdateOptions{FieldManager: "rv"})
}

func withoutManagedFields(obj runtime.Object) runtime.Object {
	c := obj.DeepCopyObject()
	if m, err := meta.Accessor(c); err == nil {
		m.SetManagedFields(nil)
	}
	return c
}

// rvFake is a fake clientset with resourceVersions, and its tracker.
type rvFake struct {
	*fake.Clientset
	tracker *rvTracker
}

// rvClientset is fake.NewClientset with resourceVersions (rvTracker).
func rvClientset(objects ...runtime.Object) rvFake {
	base := k8stesting.NewFieldManagedObjectTracker(scheme.Scheme, scheme.Codecs.UniversalDecoder(),
		applyconfigurations.NewTypeConverter(scheme.Scheme))
	o := &rvTracker{ObjectTracker: base}
	for _, obj := range objects {
		if err := o.Add(obj); err != nil {
			panic(err)
		}
	}
	cs := &fake.Clientset{}
	cs.AddReactor("*", "*", k8stesting.ObjectReaction(o))
	cs.AddWatchReactor("*", func(action k8stesting.Action) (bool, watch.Interface, error) {
		var opts metav1.ListOptions
		if w, ok := action.(k8stesting.WatchActionImpl); ok {
			opts = w.ListOptions
		}
		w, err := o.Watch(action.GetResource(), action.GetNamespace(), opts)
		if err != nil {
			return false, nil, err
		}
		return true, w, nil
	})
	return rvFake{Clientset: cs, tracker: o}
}

// startedCache runs a KubeCache on cs until the test ends, synced.
func startedCache(t *testing.T, cs kubernetes.Interface, cfg KubeCacheConfig) *KubeCache {
	t.Helper()
	c := NewKubeCache(cs, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if !c.Start(ctx) {
		t.Fatal("cache not synced")
	}
	return c
}

// eventually fails the test unless cond holds within 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5 s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cachedAt waits until the cache holds the object at the API's resourceVersion, or, when the API has
// none, holds none.
func cachedAt(t *testing.T, c *KubeCache, cs rvFake, kind string, gvr schema.GroupVersionResource, ns, name string) {
	t.Helper()
	eventually(t, "the cache catches up with "+kind+" "+ns+"/"+name, func() bool {
		live, err := cs.tracker.Get(gvr, ns, name)
		cached := c.get(kind, ns, name)
		if err != nil {
			return cached == nil
		}
		m, _ := meta.Accessor(live)
		return cached != nil && cached.GetResourceVersion() == m.GetResourceVersion()
	})
}

// applyCounter counts the server-side applies the fake served, by resource.
type applyCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func countApplies(cs rvFake) *applyCounter {
	a := &applyCounter{n: map[string]int{}}
	cs.PrependReactor("patch", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if p, ok := action.(k8stesting.PatchAction); ok && p.GetPatchType() == "application/apply-patch+yaml" {
			a.mu.Lock()
			a.n[action.GetResource().Resource]++
			a.mu.Unlock()
		}
		return false, nil, nil
	})
	return a
}

// take answers the counts so far and starts over.
func (a *applyCounter) take() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.n
	a.n = map[string]int{}
	return out
}
