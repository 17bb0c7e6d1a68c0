package activities

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"go.temporal.io/sdk/testsuite"
)

func pod(name string, phase corev1.PodPhase, terminating bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "acme", Labels: map[string]string{"rainflow.io/component": "web"}},
		Status:     corev1.PodStatus{Phase: phase},
	}
	if terminating {
		now := metav1.Now()
		p.DeletionTimestamp = &now
	}
	return p
}

func TestWaitNoPods(t *testing.T) {
	t.Parallel()
	stopped := deployment(0, appsv1.DeploymentStatus{})
	tests := []struct {
		name        string
		objects     []runtime.Object
		deleteAfter []string // pods deleted, one a look, while the activity waits
		wantStopped int32
		wantType    string
	}{
		{name: "no pods", objects: []runtime.Object{stopped}},
		{name: "pods that ended and are not being deleted are not waited for", objects: []runtime.Object{stopped,
			pod("shop-web-evicted", corev1.PodFailed, false), pod("shop-web-done", corev1.PodSucceeded, false)}},
		{
			name: "waits for running and terminating pods to be gone, also those whose containers exited",
			objects: []runtime.Object{stopped, pod("shop-web-1", corev1.PodRunning, true), pod("shop-web-2", corev1.PodRunning, false),
				pod("shop-web-3", corev1.PodSucceeded, true)},
			deleteAfter: []string{"shop-web-1", "shop-web-2", "shop-web-3"},
			wantStopped: 3,
		},
		{name: "the workload is gone", wantType: ErrTypeWorkloadNotFound},
		{name: "a stateful set's pods", objects: []runtime.Object{statefulSet(0, appsv1.StatefulSetStatus{}), pod("shop-web-0", corev1.PodRunning, true),
			pod("shop-web-1", corev1.PodRunning, false)}, deleteAfter: []string{"shop-web-0", "shop-web-1"}, wantStopped: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cs := fake.NewClientset(tt.objects...)
			k := &Kube{Client: cs, PollInterval: 10 * time.Millisecond}
			// each look at the pods after the first finds one more of them gone, as the kubelet removes them
			lists := 0
			cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
				if lists > 0 && lists <= len(tt.deleteAfter) {
					_ = cs.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), "acme", tt.deleteAfter[lists-1])
				}
				lists++
				return false, nil, nil
			})
			var s testsuite.WorkflowTestSuite
			env := s.NewTestActivityEnvironment()
			env.RegisterActivity(k)
			v, err := env.ExecuteActivity(k.WaitNoPods, WaitNoPodsInput{Namespace: "acme", Deployment: "shop-web"})
			if tt.wantType != "" {
				requirePermanent(t, err, tt.wantType)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got WaitNoPodsResult
			if err := v.Get(&got); err != nil {
				t.Fatal(err)
			}
			if got.Stopped != tt.wantStopped {
				t.Fatalf("stopped %d, want %d", got.Stopped, tt.wantStopped)
			}
			pods, err := cs.CoreV1().Pods("acme").List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pods.Items {
				if p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded {
					t.Fatalf("pod %s remains", p.Name)
				}
			}
		})
	}
}
