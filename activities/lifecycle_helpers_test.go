package activities

import (
	"context"
	"errors"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"go.temporal.io/sdk/temporal"

	"github.com/rainflow/rainflow/contract"
)

var webRef = contract.ComponentRef{Tenant: "acme", App: "shop", Component: "web"}

// deployed answers a fake clientset where the component web runs release r1 with the replicas,
// applied by Kube.Apply as a deploy does (under contract.FieldManager).
func deployed(t *testing.T, replicas int32) (*fake.Clientset, *scaleWrites) {
	t.Helper()
	return deployedAs(t, releaseInput(replicas))
}

// deployedAs is deployed with the release in.
func deployedAs(t *testing.T, in ApplyInput) (*fake.Clientset, *scaleWrites) {
	t.Helper()
	cs := fake.NewClientset()
	w := serveScale(cs)
	k := &Kube{Client: cs}
	if _, err := k.Apply(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	return cs, w
}

// statefulInput is releaseInput for a stateful component with a volume.
func statefulInput(replicas int32) ApplyInput {
	in := releaseInput(replicas)
	in.Spec.Stateful = true
	in.Spec.Volumes = []contract.Volume{{Name: "data", Path: "/data", Size: "1Gi"}}
	return in
}

func releaseInput(replicas int32) ApplyInput {
	return ApplyInput{
		Ref: webRef, ReleaseID: "r1", Image: "127.0.0.1:5056/web@sha256:aaaa",
		Spec: contract.ComponentSpec{Replicas: replicas, Ports: []contract.Port{{Name: "http", Port: 8080}},
			Env: []contract.EnvVar{{Name: "MODE", Value: "prod"}}},
	}
}

// scaleWrites records the writes to the scale subresource the fake served.
type scaleWrites struct {
	mu       sync.Mutex
	managers []string
}

func (w *scaleWrites) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.managers)
}

var (
	deploymentsResource  = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	statefulSetsResource = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}
)

// serveScale makes the fake clientset serve the scale subresource of Deployments and StatefulSets the
// way the API server does (the fake alone does not): an update sets spec.replicas, bumps the
// generation and refuses a stale resourceVersion.
func serveScale(cs *fake.Clientset) *scaleWrites {
	w := &scaleWrites{}
	for _, gvr := range []schema.GroupVersionResource{deploymentsResource, statefulSetsResource} {
		cs.PrependReactor("update", gvr.Resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
			up, ok := a.(k8stesting.UpdateActionImpl)
			if !ok || up.GetSubresource() != "scale" {
				return false, nil, nil
			}
			scale := up.GetObject().(*autoscalingv1.Scale)
			obj, err := cs.Tracker().Get(gvr, up.GetNamespace(), scale.Name)
			if err != nil {
				return true, nil, err
			}
			meta := obj.(metav1.Object)
			if scale.ResourceVersion != "" && meta.GetResourceVersion() != "" && scale.ResourceVersion != meta.GetResourceVersion() {
				return true, nil, apierrors.NewConflict(gvr.GroupResource(), scale.Name, errors.New("the object has been modified"))
			}
			replicas := scale.Spec.Replicas
			switch o := obj.(type) {
			case *appsv1.Deployment:
				o.Spec.Replicas = &replicas
			case *appsv1.StatefulSet:
				o.Spec.Replicas = &replicas
			}
			meta.SetGeneration(meta.GetGeneration() + 1)
			if err := cs.Tracker().Update(gvr, obj, meta.GetNamespace(), metav1.UpdateOptions{FieldManager: up.UpdateOptions.FieldManager}); err != nil {
				return true, nil, err
			}
			w.mu.Lock()
			w.managers = append(w.managers, up.UpdateOptions.FieldManager)
			w.mu.Unlock()
			return true, &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: meta.GetName(), Namespace: meta.GetNamespace()},
				Spec: autoscalingv1.ScaleSpec{Replicas: replicas}}, nil
		})
	}
	return w
}

// failing makes every call of the verb on the resource fail with err.
func failing(cs *fake.Clientset, verb, resource string, err error) {
	cs.PrependReactor(verb, resource, func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, err })
}

// requirePermanent fails unless err is a non-retryable application error of the type.
func requirePermanent(t *testing.T, err error, typ string) {
	t.Helper()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != typ || !app.NonRetryable() {
		t.Fatalf("err = %v, want non-retryable %s", err, typ)
	}
}

// requireRetryable fails unless err is an error that Temporal retries.
func requireRetryable(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("want an error")
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.NonRetryable() {
		t.Fatalf("err = %v is non-retryable, want it retried", err)
	}
}

func getStatefulSet(t *testing.T, cs *fake.Clientset) *appsv1.StatefulSet {
	t.Helper()
	sts, err := cs.AppsV1().StatefulSets("acme").Get(context.Background(), "shop-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sts
}

func getDeployment(t *testing.T, cs *fake.Clientset) *appsv1.Deployment {
	t.Helper()
	dep, err := cs.AppsV1().Deployments("acme").Get(context.Background(), "shop-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return dep
}

// fieldsOf answers the managed fields of the manager's apply or update, as JSON ("" when it has none).
func fieldsOf(obj metav1.Object, manager string) string {
	for _, f := range obj.GetManagedFields() {
		if f.Manager == manager && f.FieldsV1 != nil {
			return string(f.FieldsV1.Raw)
		}
	}
	return ""
}
