package activities

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"go.temporal.io/sdk/testsuite"
)

// TestAwaitRollout: the brief wait after an apply answers complete when the rollout finishes within
// it (woken by the cache's events), not complete (and no error) when it does not, when the rollout
// is stalled for good, or when the worker has no synced cache: WaitRollout decides then.
func TestAwaitRollout(t *testing.T) {
	t.Parallel()
	rolling := appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 0, ReadyReplicas: 2, AvailableReplicas: 2}
	done := appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}
	stalled := appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	stalled.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: "False", Reason: "ProgressDeadlineExceeded",
		Message: `ReplicaSet "shop-web-1" has timed out progressing.`}}
	tests := []struct {
		name         string
		status       appsv1.DeploymentStatus
		cached       bool
		finishAfter  time.Duration // 0: the status never changes
		within       time.Duration
		wantComplete bool
		wantAvail    int32
		minTook      time.Duration
		maxTook      time.Duration // 0: within + 2 s
	}{
		{name: "complete at once", status: done, cached: true, within: time.Second, wantComplete: true, wantAvail: 2},
		{name: "completes within the wait, on the event", status: rolling, cached: true, finishAfter: 100 * time.Millisecond,
			within: 5 * time.Second, wantComplete: true, wantAvail: 2, minTook: 100 * time.Millisecond},
		{name: "not complete within the wait", status: rolling, cached: true, within: 300 * time.Millisecond,
			wantAvail: 2, minTook: 300 * time.Millisecond},
		{name: "stalled: answered not complete at once, WaitRollout fails it", status: stalled, cached: true, within: 5 * time.Second,
			wantAvail: 1, maxTook: 2 * time.Second},
		{name: "no synced cache: answered at once", status: done, within: 5 * time.Second, maxTook: 2 * time.Second},
		{name: "no wait asked", status: done, cached: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dep := deployment(2, tt.status)
			cs := fake.NewClientset(dep)
			k := &Kube{Client: cs, PollInterval: time.Hour}
			if tt.cached {
				k.Cache = startedCache(t, cs, KubeCacheConfig{})
			} else {
				k.Cache = NewKubeCache(cs, KubeCacheConfig{}, nil)
			}
			if tt.finishAfter > 0 {
				time.AfterFunc(tt.finishAfter, func() {
					d := dep.DeepCopy()
					d.Status = done
					if _, err := cs.AppsV1().Deployments("acme").UpdateStatus(context.Background(), d, metav1.UpdateOptions{}); err != nil {
						t.Error(err)
					}
				})
			}
			var s testsuite.WorkflowTestSuite
			env := s.NewTestActivityEnvironment()
			env.RegisterActivity(k)
			start := time.Now()
			v, err := env.ExecuteActivity(k.AwaitRollout, AwaitRolloutInput{
				WaitRolloutInput: WaitRolloutInput{Namespace: "acme", Deployment: "shop-web", Generation: 2}, Within: tt.within})
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			var got AwaitRolloutResult
			if err := v.Get(&got); err != nil {
				t.Fatal(err)
			}
			if got.Complete != tt.wantComplete || got.Available != tt.wantAvail {
				t.Fatalf("got complete=%v available=%d, want %v %d", got.Complete, got.Available, tt.wantComplete, tt.wantAvail)
			}
			maxTook := tt.maxTook
			if maxTook == 0 {
				maxTook = tt.within + 2*time.Second
			}
			if took < tt.minTook || took > maxTook {
				t.Fatalf("took %s, want between %s and %s", took, tt.minTook, maxTook)
			}
		})
	}
}

// TestAwaitRolloutWaitsForTheCache: right after an apply the cache may not have the workload yet; the
// brief wait then waits for the cache's event instead of reading the workload and its pods from the API.
func TestAwaitRolloutWaitsForTheCache(t *testing.T) {
	t.Parallel()
	cs := fake.NewClientset()
	k := &Kube{Client: cs, PollInterval: time.Hour, Cache: startedCache(t, cs, KubeCacheConfig{})}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(k)
	cs.ClearActions()
	time.AfterFunc(300*time.Millisecond, func() {
		dep := deployment(2, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2})
		if _, err := cs.AppsV1().Deployments("acme").Create(context.Background(), dep, metav1.CreateOptions{}); err != nil {
			t.Error(err)
		}
	})
	start := time.Now()
	v, err := env.ExecuteActivity(k.AwaitRollout, AwaitRolloutInput{
		WaitRolloutInput: WaitRolloutInput{Namespace: "acme", Deployment: "shop-web", Generation: 2}, Within: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var got AwaitRolloutResult
	if err := v.Get(&got); err != nil {
		t.Fatal(err)
	}
	if !got.Complete {
		t.Fatalf("not complete: %+v", got)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Fatalf("the wait began after the workload was created (%s): it tests nothing", took)
	}
	for _, a := range cs.Actions() {
		if a.GetVerb() == "get" || a.GetVerb() == "list" {
			t.Errorf("the brief wait read the API: %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
}
