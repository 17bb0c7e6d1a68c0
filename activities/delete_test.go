package activities

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/rainflow/rainflow/contract"
)

// componentLabels are the labels of an object of the component web.
func componentLabels(component string) map[string]string {
	return map[string]string{contract.LabelTenant: "acme", contract.LabelApp: "shop", contract.LabelComponent: component,
		"app.kubernetes.io/managed-by": "rainflow"}
}

// fullyDeployed answers a fake clientset where the stateful component web runs with a config file, an
// autoscaler, a Secret, the claim its StatefulSet made, two pods of its StatefulSet and one pod of
// its own; and the component api of the same app, which a delete of web must leave alone.
func fullyDeployed(t *testing.T) *fake.Clientset {
	t.Helper()
	in := statefulInput(2)
	in.Spec.ConfigFiles = []contract.ConfigFile{{Path: "/etc/web.conf", Content: "a=1"}}
	in.Spec.Autoscaling = &contract.Autoscaling{MinReplicas: 2, MaxReplicas: 4}
	cs, _ := deployedAs(t, in)
	ctx := context.Background()
	other := releaseInput(1)
	other.Ref.Component = "api"
	if _, err := (&Kube{Client: cs}).Apply(ctx, other); err != nil {
		t.Fatal(err)
	}
	owner := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "shop-web", UID: "sts", Controller: new(true)}
	objs := []runtime.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "shop-web-secrets", Namespace: "acme", Labels: componentLabels("web")}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data-shop-web-0", Namespace: "acme", Labels: componentLabels("web")}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "shop-web-0", Namespace: "acme", Labels: componentLabels("web"),
			OwnerReferences: []metav1.OwnerReference{owner}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "shop-web-1", Namespace: "acme", Labels: componentLabels("web"),
			OwnerReferences: []metav1.OwnerReference{owner}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "shop-web-debug", Namespace: "acme", Labels: componentLabels("web")}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "shop-api-1", Namespace: "acme", Labels: componentLabels("api")}},
	}
	for _, o := range objs {
		if err := cs.Tracker().Add(o); err != nil {
			t.Fatal(err)
		}
	}
	return cs
}

// collectOwnedPods makes the fake remove one pod whose controller is gone at each look at the pods
// after the first, as the garbage collector does; it records the propagation of every delete.
func collectOwnedPods(cs *fake.Clientset) *propagations {
	p := &propagations{}
	looks := 0
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		looks++
		if looks > 1 {
			pods, _ := cs.Tracker().List(corev1.SchemeGroupVersion.WithResource("pods"), corev1.SchemeGroupVersion.WithKind("Pod"), "acme")
			for _, pod := range pods.(*corev1.PodList).Items {
				if metav1.GetControllerOf(&pod) != nil {
					_ = cs.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), "acme", pod.Name)
					break
				}
			}
		}
		return false, nil, nil
	})
	cs.PrependReactor("delete", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		d := a.(k8stesting.DeleteActionImpl)
		p.mu.Lock()
		defer p.mu.Unlock()
		policy := ""
		if d.DeleteOptions.PropagationPolicy != nil {
			policy = string(*d.DeleteOptions.PropagationPolicy)
		}
		p.byResource = append(p.byResource, d.GetResource().Resource+"="+policy)
		return false, nil, nil
	})
	return p
}

type propagations struct {
	mu         sync.Mutex
	byResource []string
}

func runDelete(t *testing.T, k *Kube, in DeleteComponentInput, heartbeat *DeleteProgress) (DeleteComponentResult, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(k)
	if heartbeat != nil {
		env.SetHeartbeatDetails(*heartbeat)
	}
	v, err := env.ExecuteActivity(k.DeleteComponent, in)
	if err != nil {
		return DeleteComponentResult{}, err
	}
	var out DeleteComponentResult
	if err := v.Get(&out); err != nil {
		t.Fatal(err)
	}
	return out, nil
}

func TestDeleteComponent(t *testing.T) {
	t.Parallel()
	everything := []string{"ConfigMap/shop-web-config", "HorizontalPodAutoscaler/shop-web", "Pod/shop-web-debug", "Secret/shop-web-secrets",
		"Service/shop-web", "Service/shop-web-headless", "StatefulSet/shop-web"}
	tests := []struct {
		name        string
		volumes     bool
		wantDeleted []string
		wantKept    []string
	}{
		{name: "keeps the volumes", wantDeleted: everything, wantKept: []string{"data-shop-web-0"}},
		{name: "with the volumes", volumes: true, wantDeleted: append([]string{"PersistentVolumeClaim/data-shop-web-0"}, everything...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			cs := fullyDeployed(t)
			props := collectOwnedPods(cs)
			k := &Kube{Client: cs, PollInterval: 10 * time.Millisecond}
			got, err := runDelete(t, k, DeleteComponentInput{Ref: webRef, DeleteVolumes: tt.volumes}, nil)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(tt.wantDeleted)
			if got.Namespace != "acme" || !slices.Equal(got.Deleted, tt.wantDeleted) || !slices.Equal(got.KeptVolumes, tt.wantKept) {
				t.Fatalf("result %+v, want deleted %v, kept %v", got, tt.wantDeleted, tt.wantKept)
			}
			// nothing of web remains but the kept volumes; api is untouched
			for _, kind := range []string{kindAutoscaler, kindDeployment, kindStatefulSet, kindService, kindConfigMap, kindSecret, kindPod, kindVolume} {
				left, err := k.list(ctx, kind, "acme", "rainflow.io/component=web")
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range left {
					if kind != kindVolume || !slices.Contains(tt.wantKept, o.GetName()) {
						t.Errorf("%s/%s remains", kind, o.GetName())
					}
				}
			}
			for _, name := range []string{"shop-api"} {
				if _, err := cs.AppsV1().Deployments("acme").Get(ctx, name, metav1.GetOptions{}); err != nil {
					t.Errorf("deployment %s of another component went: %v", name, err)
				}
			}
			if _, err := cs.CoreV1().Pods("acme").Get(ctx, "shop-api-1", metav1.GetOptions{}); err != nil {
				t.Errorf("a pod of another component went: %v", err)
			}
			props.mu.Lock()
			defer props.mu.Unlock()
			for _, p := range props.byResource {
				if !strings.HasSuffix(p, "=Foreground") {
					t.Errorf("delete %s, want foreground propagation", p)
				}
			}
			if len(props.byResource) != len(tt.wantDeleted) {
				t.Errorf("deletes %v, want one per deleted object", props.byResource)
			}

			// deleting again finds nothing and succeeds
			again, err := runDelete(t, k, DeleteComponentInput{Ref: webRef, DeleteVolumes: tt.volumes}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(again.Deleted) != 0 || !slices.Equal(again.KeptVolumes, tt.wantKept) {
				t.Fatalf("second delete %+v", again)
			}
		})
	}
}

func TestDeleteComponentNeverDeployed(t *testing.T) {
	t.Parallel()
	got, err := runDelete(t, &Kube{Client: fake.NewClientset()}, DeleteComponentInput{Ref: webRef}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Namespace != "acme" || len(got.Deleted) != 0 || len(got.KeptVolumes) != 0 {
		t.Fatalf("result %+v", got)
	}
}

// A retried delete reports what the attempts before it deleted.
func TestDeleteComponentResumesFromHeartbeat(t *testing.T) {
	t.Parallel()
	cs, _ := deployed(t, 1)
	got, err := runDelete(t, &Kube{Client: cs, PollInterval: 10 * time.Millisecond}, DeleteComponentInput{Ref: webRef},
		&DeleteProgress{Deleted: []string{"ConfigMap/shop-web-config"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ConfigMap/shop-web-config", "Deployment/shop-web", "Service/shop-web"}
	if !slices.Equal(got.Deleted, want) {
		t.Fatalf("deleted %v, want %v", got.Deleted, want)
	}
}

func TestDeleteComponentFailures(t *testing.T) {
	t.Parallel()
	t.Run("no component named", func(t *testing.T) {
		t.Parallel()
		_, err := runDelete(t, &Kube{Client: fake.NewClientset()}, DeleteComponentInput{Ref: contract.ComponentRef{Tenant: "acme"}}, nil)
		requirePermanent(t, err, ErrTypeInvalidSpec)
	})
	t.Run("API server unavailable", func(t *testing.T) {
		t.Parallel()
		cs, _ := deployed(t, 1)
		failing(cs, "list", "deployments", apierrors.NewServiceUnavailable("etcd is down"))
		_, err := runDelete(t, &Kube{Client: cs}, DeleteComponentInput{Ref: webRef}, nil)
		requireRetryable(t, err)
	})
	t.Run("forbidden", func(t *testing.T) {
		t.Parallel()
		cs, _ := deployed(t, 1)
		failing(cs, "delete", "deployments", apierrors.NewForbidden(deploymentsResource.GroupResource(), "shop-web", nil))
		_, err := runDelete(t, &Kube{Client: cs}, DeleteComponentInput{Ref: webRef}, nil)
		requirePermanent(t, err, ErrTypeForbidden)
	})
}
