package activities

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/rainflow/rainflow/contract"
)

func TestRestartWorkload(t *testing.T) {
	t.Parallel()
	cs, _ := deployed(t, 3)
	k := &Kube{Client: cs}
	before := getDeployment(t, cs)
	const at = "2026-05-01T10:00:00.123Z"

	got, err := k.RestartWorkload(context.Background(), RestartWorkloadInput{Ref: webRef, RestartedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	if got.Namespace != "acme" || got.Deployment != "shop-web" || got.Service != "shop-web" || got.Replicas != 3 {
		t.Fatalf("result %+v", got)
	}
	after := getDeployment(t, cs)
	if v := after.Spec.Template.Annotations[contract.AnnotationRestartedAt]; v != at {
		t.Fatalf("annotation %s = %q, want %q", contract.AnnotationRestartedAt, v, at)
	}
	// the restart owns its annotation and nothing else; the release's fields keep their values and owner
	restartFields := fieldsOf(after, contract.FieldManagerRestart)
	if !strings.Contains(restartFields, `"f:rainflow.io/restartedAt"`) || strings.Contains(restartFields, `"f:containers"`) ||
		strings.Contains(restartFields, `"f:replicas"`) {
		t.Fatalf("%s owns %s, want only the annotation", contract.FieldManagerRestart, restartFields)
	}
	if main := fieldsOf(after, contract.FieldManager); main != fieldsOf(before, contract.FieldManager) {
		t.Fatalf("the fields of %s changed:\nbefore %s\nafter  %s", contract.FieldManager, fieldsOf(before, contract.FieldManager), main)
	}
	c := after.Spec.Template.Spec.Containers[0]
	if c.Image != before.Spec.Template.Spec.Containers[0].Image || len(c.Env) != 1 || len(c.Ports) != 1 || *after.Spec.Replicas != 3 {
		t.Fatalf("the restart changed the release's fields: replicas %d, container %+v", *after.Spec.Replicas, c)
	}

	// the next deploy of the same release keeps the annotation: the pods do not restart again
	if _, err := k.Apply(context.Background(), releaseInput(3)); err != nil {
		t.Fatal(err)
	}
	if v := getDeployment(t, cs).Spec.Template.Annotations[contract.AnnotationRestartedAt]; v != at {
		t.Fatalf("a deploy after the restart changed %s to %q", contract.AnnotationRestartedAt, v)
	}

	// a retry writes the same
	if _, err := k.RestartWorkload(context.Background(), RestartWorkloadInput{Ref: webRef, RestartedAt: at}); err != nil {
		t.Fatal(err)
	}
	if v := getDeployment(t, cs).Spec.Template.Annotations[contract.AnnotationRestartedAt]; v != at {
		t.Fatalf("annotation %q after a retry, want %q", v, at)
	}
}

func TestRestartWorkloadFailures(t *testing.T) {
	t.Parallel()
	t.Run("never deployed: fails for good and creates nothing", func(t *testing.T) {
		t.Parallel()
		cs := fake.NewClientset()
		k := &Kube{Client: cs}
		_, err := k.RestartWorkload(context.Background(), RestartWorkloadInput{Ref: webRef, RestartedAt: "2026-05-01T10:00:00Z"})
		requirePermanent(t, err, ErrTypeWorkloadNotFound)
		if _, err := cs.AppsV1().Deployments("acme").Get(context.Background(), "shop-web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("a restart of a component never deployed created its deployment (err %v)", err)
		}
	})
	t.Run("a time that is not RFC 3339", func(t *testing.T) {
		t.Parallel()
		cs, _ := deployed(t, 1)
		_, err := (&Kube{Client: cs}).RestartWorkload(context.Background(), RestartWorkloadInput{Ref: webRef, RestartedAt: "now"})
		requirePermanent(t, err, ErrTypeInvalidSpec)
	})
	t.Run("API server unavailable", func(t *testing.T) {
		t.Parallel()
		cs, _ := deployed(t, 1)
		failing(cs, "patch", "deployments", apierrors.NewServiceUnavailable("etcd is down"))
		_, err := (&Kube{Client: cs}).RestartWorkload(context.Background(), RestartWorkloadInput{Ref: webRef, RestartedAt: "2026-05-01T10:00:00Z"})
		requireRetryable(t, err)
	})
}

func TestRestartStatefulSet(t *testing.T) {
	t.Parallel()
	cs, _ := deployedAs(t, statefulInput(2))
	k := &Kube{Client: cs}
	before := getStatefulSet(t, cs)
	const at = "2026-05-01T10:00:00Z"
	got, err := k.RestartWorkload(context.Background(), RestartWorkloadInput{Ref: webRef, RestartedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	want := RestartWorkloadResult{Namespace: "acme", Kind: "StatefulSet", Workload: "shop-web", Deployment: "shop-web", Service: "shop-web",
		Replicas: 2, Generation: got.Generation}
	if got != want {
		t.Fatalf("result %+v, want %+v", got, want)
	}
	after := getStatefulSet(t, cs)
	if v := after.Spec.Template.Annotations[contract.AnnotationRestartedAt]; v != at {
		t.Fatalf("annotation %q, want %q", v, at)
	}
	if main := fieldsOf(after, contract.FieldManager); main != fieldsOf(before, contract.FieldManager) {
		t.Fatalf("the fields of %s changed", contract.FieldManager)
	}
	if _, err := cs.AppsV1().Deployments("acme").Get(context.Background(), "shop-web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the restart of a stateful component made a deployment (err %v)", err)
	}
}
