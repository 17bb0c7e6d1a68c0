package activities

import (
	"context"
	"errors"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/rainflow/rainflow/contract"
)

func TestApplyIsIdempotent(t *testing.T) {
	t.Parallel()
	cs := fake.NewClientset()
	k := &Kube{Client: cs}
	in := ApplyInput{
		Ref: contract.ComponentRef{Tenant: "acme", App: "shop", Component: "web"}, ReleaseID: "r1",
		Image: "127.0.0.1:5056/web@sha256:aaaa",
		Spec:  contract.ComponentSpec{Replicas: 2, Ports: []contract.Port{{Name: "http", Port: 8080}}},
	}
	ctx := context.Background()
	first, err := k.Apply(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if first.Deployment != "shop-web" || first.Service != "shop-web" || first.Namespace != "acme" {
		t.Fatalf("apply result %+v", first)
	}
	if _, err := k.Apply(ctx, in); err != nil {
		t.Fatal(err)
	}
	dep, err := cs.AppsV1().Deployments("acme").Get(ctx, "shop-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != in.Image {
		t.Fatalf("image %s, want %s", got, in.Image)
	}
}

func TestApplyRejectsInvalidSpecForGood(t *testing.T) {
	t.Parallel()
	k := &Kube{Client: fake.NewClientset()}
	_, err := k.Apply(context.Background(), ApplyInput{
		Ref: contract.ComponentRef{Tenant: "acme", App: "shop", Component: "web"}, Image: "x@sha256:1",
		Spec: contract.ComponentSpec{Resources: contract.Resources{MemoryLimit: "a lot"}},
	})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ErrTypeInvalidSpec || !app.NonRetryable() {
		t.Fatalf("err = %v, want non-retryable %s", err, ErrTypeInvalidSpec)
	}
}

func deployment(replicas int32, st appsv1.DeploymentStatus) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-web", Namespace: "acme", Generation: 2},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"rainflow.io/component": "web"}},
		},
		Status: st,
	}
}

func waitingPod(reason string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-web-1", Namespace: "acme", Labels: map[string]string{"rainflow.io/component": "web"}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
			Name: "web", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "details"}},
		}}},
	}
}

func TestWaitRollout(t *testing.T) {
	t.Parallel()
	done := appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}
	tests := []struct {
		name     string
		objects  []runtime.Object
		wantType string
	}{
		{name: "complete rollout", objects: []runtime.Object{deployment(2, done)}},
		{
			name: "progress deadline exceeded",
			objects: []runtime.Object{deployment(2, appsv1.DeploymentStatus{ObservedGeneration: 2, Conditions: []appsv1.DeploymentCondition{{
				Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "took too long",
			}}})},
			wantType: ErrTypeRolloutStalled,
		},
		{
			name:     "image pull back-off",
			objects:  []runtime.Object{deployment(2, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1}), waitingPod("ImagePullBackOff")},
			wantType: ErrTypeRolloutFailed,
		},
		{
			name:     "crash loop",
			objects:  []runtime.Object{deployment(2, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1}), waitingPod("CrashLoopBackOff")},
			wantType: ErrTypeRolloutFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := &Kube{Client: fake.NewClientset(tt.objects...), PollInterval: 10 * time.Millisecond, StuckAfter: 50 * time.Millisecond}
			var s testsuite.WorkflowTestSuite
			env := s.NewTestActivityEnvironment()
			env.RegisterActivity(k)
			_, err := env.ExecuteActivity(k.WaitRollout, WaitRolloutInput{Namespace: "acme", Deployment: "shop-web", Generation: 2})
			if tt.wantType == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.Type() != tt.wantType || !app.NonRetryable() {
				t.Fatalf("err = %v, want non-retryable %s", err, tt.wantType)
			}
		})
	}
}
