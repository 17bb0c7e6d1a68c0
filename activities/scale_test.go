package activities

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/rainflow/rainflow/contract"
)

func TestScaleWorkload(t *testing.T) {
	t.Parallel()
	cs, writes := deployed(t, 2)
	k := &Kube{Client: cs}
	before := getDeployment(t, cs)

	got, err := k.ScaleWorkload(context.Background(), ScaleWorkloadInput{Ref: webRef, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := ScaleWorkloadResult{Namespace: "acme", Kind: "Deployment", Workload: "shop-web", Deployment: "shop-web", Service: "shop-web",
		Previous: 2, Replicas: 3, Generation: before.Generation + 1}
	if got != want {
		t.Fatalf("result %+v, want %+v", got, want)
	}
	after := getDeployment(t, cs)
	if *after.Spec.Replicas != 3 {
		t.Fatalf("replicas %d, want 3", *after.Spec.Replicas)
	}
	if writes.managers[0] != contract.FieldManagerScale {
		t.Fatalf("scaled by field manager %q, want %q", writes.managers[0], contract.FieldManagerScale)
	}
	// only the replicas changed: the template (image, env, ports) is the release's, still owned by the deploys' manager
	if before.Spec.Template.Spec.Containers[0].Image != after.Spec.Template.Spec.Containers[0].Image ||
		len(after.Spec.Template.Spec.Containers[0].Env) != 1 || len(after.Spec.Template.Spec.Containers[0].Ports) != 1 {
		t.Fatalf("the template changed: %+v", after.Spec.Template.Spec.Containers[0])
	}
	if owned := fieldsOf(after, contract.FieldManager); !strings.Contains(owned, `"f:template"`) {
		t.Fatalf("%s no longer owns the template: %s", contract.FieldManager, owned)
	}

	// the same scale again writes nothing
	again, err := k.ScaleWorkload(context.Background(), ScaleWorkloadInput{Ref: webRef, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	if again.Previous != 3 || again.Generation != want.Generation || writes.count() != 1 {
		t.Fatalf("a repeated scale wrote again: %+v, %d writes", again, writes.count())
	}

	// to zero, as a stop does
	if _, err := k.ScaleWorkload(context.Background(), ScaleWorkloadInput{Ref: webRef, Replicas: 0}); err != nil {
		t.Fatal(err)
	}
	if r := *getDeployment(t, cs).Spec.Replicas; r != 0 {
		t.Fatalf("replicas %d, want 0", r)
	}
}

func TestScaleWorkloadWithoutService(t *testing.T) {
	t.Parallel()
	cs := fake.NewClientset()
	serveScale(cs)
	k := &Kube{Client: cs}
	in := releaseInput(1)
	in.Spec.Ports = nil
	if _, err := k.Apply(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	got, err := k.ScaleWorkload(context.Background(), ScaleWorkloadInput{Ref: webRef, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got.Service != "" || got.Replicas != 2 {
		t.Fatalf("result %+v, want no service and 2 replicas", got)
	}
}

func TestScaleWorkloadFailures(t *testing.T) {
	t.Parallel()
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	tests := []struct {
		name      string
		replicas  int32
		setup     func(cs *fake.Clientset)
		notDeploy bool
		wantType  string // "" for an error that is retried
	}{
		{name: "negative replicas", replicas: -1, wantType: ErrTypeInvalidSpec},
		{name: "more replicas than allowed", replicas: contract.MaxReplicas + 1, wantType: ErrTypeInvalidSpec},
		{name: "never deployed", replicas: 2, notDeploy: true, wantType: ErrTypeWorkloadNotFound},
		{name: "API server unavailable", replicas: 3, setup: func(cs *fake.Clientset) {
			failing(cs, "get", "deployments", apierrors.NewServiceUnavailable("etcd is down"))
		}},
		{name: "a concurrent write conflicts", replicas: 3, setup: func(cs *fake.Clientset) {
			failing(cs, "update", "deployments", apierrors.NewConflict(gr, "shop-web", nil))
		}},
		{name: "forbidden", replicas: 3, wantType: ErrTypeForbidden, setup: func(cs *fake.Clientset) {
			failing(cs, "update", "deployments", apierrors.NewForbidden(gr, "shop-web", nil))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cs := fake.NewClientset()
			if !tt.notDeploy {
				cs, _ = deployed(t, 2)
			}
			if tt.setup != nil {
				tt.setup(cs)
			}
			k := &Kube{Client: cs}
			_, err := k.ScaleWorkload(context.Background(), ScaleWorkloadInput{Ref: webRef, Replicas: tt.replicas})
			if tt.wantType == "" {
				requireRetryable(t, err)
				return
			}
			requirePermanent(t, err, tt.wantType)
			if tt.notDeploy && !strings.Contains(err.Error(), "deploy it first") {
				t.Fatalf("err = %v, want it to say to deploy first", err)
			}
		})
	}
}

func TestScaleStatefulSet(t *testing.T) {
	t.Parallel()
	cs, writes := deployedAs(t, statefulInput(2))
	k := &Kube{Client: cs}
	before := getStatefulSet(t, cs)
	got, err := k.ScaleWorkload(context.Background(), ScaleWorkloadInput{Ref: webRef, Replicas: 4})
	if err != nil {
		t.Fatal(err)
	}
	want := ScaleWorkloadResult{Namespace: "acme", Kind: "StatefulSet", Workload: "shop-web", Deployment: "shop-web", Service: "shop-web",
		Previous: 2, Replicas: 4, Generation: before.Generation + 1}
	if got != want {
		t.Fatalf("result %+v, want %+v", got, want)
	}
	after := getStatefulSet(t, cs)
	if *after.Spec.Replicas != 4 || writes.managers[0] != contract.FieldManagerScale {
		t.Fatalf("replicas %d by %v", *after.Spec.Replicas, writes.managers)
	}
	if owned := fieldsOf(after, contract.FieldManager); !strings.Contains(owned, `"f:template"`) {
		t.Fatalf("%s no longer owns the template: %s", contract.FieldManager, owned)
	}
	// stop
	if _, err := k.ScaleWorkload(context.Background(), ScaleWorkloadInput{Ref: webRef, Replicas: 0}); err != nil {
		t.Fatal(err)
	}
	if r := *getStatefulSet(t, cs).Spec.Replicas; r != 0 {
		t.Fatalf("replicas %d, want 0", r)
	}
}

// An autoscaled component's replicas stay within the autoscaler's bounds; zero stops it all the same.
func TestScaleAutoscaled(t *testing.T) {
	t.Parallel()
	in := releaseInput(3)
	in.Spec.Autoscaling = &contract.Autoscaling{MinReplicas: 2, MaxReplicas: 5}
	tests := []struct {
		name     string
		replicas int32
		want     int32
	}{
		{name: "above the maximum", replicas: 9, want: 5},
		{name: "below the minimum", replicas: 1, want: 2},
		{name: "within", replicas: 4, want: 4},
		{name: "zero stops", replicas: 0, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cs, _ := deployedAs(t, in)
			got, err := (&Kube{Client: cs}).ScaleWorkload(context.Background(), ScaleWorkloadInput{Ref: webRef, Replicas: tt.replicas})
			if err != nil {
				t.Fatal(err)
			}
			if got.Replicas != tt.want || !got.Autoscaled || *getDeployment(t, cs).Spec.Replicas != tt.want {
				t.Fatalf("result %+v, want %d replicas, autoscaled", got, tt.want)
			}
		})
	}
}
