package activities

import (
	"context"
	"maps"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"

	"go.temporal.io/sdk/testsuite"

	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/contract"
)

var (
	namespacesResource  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	limitRangesResource = schema.GroupVersionResource{Version: "v1", Resource: "limitranges"}
	servicesResource    = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	configMapsResource  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

// TestApplyElision: a deploy that would send what this worker's last apply of an object sent, to an
// object nothing changed since, sends nothing; every other reason sends the apply.
func TestApplyElision(t *testing.T) {
	t.Parallel()
	withConfig := func(in *ApplyInput) { in.Spec.ConfigFiles = []contract.ConfigFile{{Path: "/etc/a", Content: "a"}} }
	tests := []struct {
		name     string
		cfg      KubeCacheConfig
		unsynced bool                                          // the cache never started
		change   func(t *testing.T, cs rvFake, in *ApplyInput) // between the first deploy and the second
		want     map[string]int                                // applies of the second deploy, by resource
	}{
		{
			name: "nothing changed: no apply at all",
			want: map[string]int{},
		},
		{
			name:   "a new release of the same spec rewrites the release label",
			change: func(_ *testing.T, _ rvFake, in *ApplyInput) { in.ReleaseID = "r2" },
			want:   map[string]int{"configmaps": 1, "services": 1, "deployments": 1},
		},
		{
			name:   "a new release of the same spec keeps the release label when asked",
			cfg:    KubeCacheConfig{KeepReleaseLabels: true},
			change: func(_ *testing.T, _ rvFake, in *ApplyInput) { in.ReleaseID = "r2" },
			want:   map[string]int{},
		},
		{
			name: "a changed spec is applied, with the release label",
			cfg:  KubeCacheConfig{KeepReleaseLabels: true},
			change: func(_ *testing.T, _ rvFake, in *ApplyInput) {
				in.ReleaseID, in.Spec.Env = "r2", []contract.EnvVar{{Name: "MODE", Value: "test"}}
			},
			want: map[string]int{"deployments": 1},
		},
		{
			name: "a changed config file is applied, and so is the pod template that mounts it",
			change: func(_ *testing.T, _ rvFake, in *ApplyInput) {
				in.Spec.ConfigFiles = []contract.ConfigFile{{Path: "/etc/a", Content: "b"}}
			},
			want: map[string]int{"configmaps": 1, "deployments": 1},
		},
		{
			name: "a deployment someone else edited is applied",
			change: func(t *testing.T, cs rvFake, _ *ApplyInput) {
				dep := getDeployment(t, cs.Clientset)
				dep.Spec.Template.Spec.Containers[0].Image = "elsewhere/web:edited"
				if _, err := cs.AppsV1().Deployments("acme").Update(context.Background(), dep, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
					t.Fatal(err)
				}
			},
			want: map[string]int{"deployments": 1},
		},
		{
			name: "a namespace someone else labeled is applied",
			change: func(t *testing.T, cs rvFake, _ *ApplyInput) {
				ns, err := cs.CoreV1().Namespaces().Get(context.Background(), "acme", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				ns.Labels["team"] = "red"
				if _, err := cs.CoreV1().Namespaces().Update(context.Background(), ns, metav1.UpdateOptions{FieldManager: "kubectl-label"}); err != nil {
					t.Fatal(err)
				}
			},
			want: map[string]int{"namespaces": 1},
		},
		{
			name: "a deleted limit range and service are applied again",
			change: func(t *testing.T, cs rvFake, _ *ApplyInput) {
				ctx := context.Background()
				if err := cs.CoreV1().LimitRanges("acme").Delete(ctx, render.LimitRangeName, metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
				if err := cs.CoreV1().Services("acme").Delete(ctx, "shop-web", metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			want: map[string]int{"limitranges": 1, "services": 1},
		},
		{
			name:     "a cache that is not synced skips nothing",
			unsynced: true,
			want:     map[string]int{"namespaces": 1, "limitranges": 1, "configmaps": 1, "services": 1, "deployments": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			cs := rvClientset()
			var c *KubeCache
			if tt.unsynced {
				c = NewKubeCache(cs, tt.cfg, nil)
			} else {
				c = startedCache(t, cs, tt.cfg)
			}
			k := &Kube{Client: cs, Cache: c}
			in := releaseWith(withConfig)
			deploy := func() ApplyResult {
				t.Helper()
				if _, err := k.EnsureNamespace(ctx, EnsureNamespaceInput{Tenant: "acme"}); err != nil {
					t.Fatal(err)
				}
				out, err := k.Apply(ctx, in)
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			first := deploy()
			caughtUp := func() {
				if tt.unsynced {
					return
				}
				cachedAt(t, c, cs, kindNamespace, namespacesResource, "", "acme")
				cachedAt(t, c, cs, kindLimitRange, limitRangesResource, "acme", render.LimitRangeName)
				cachedAt(t, c, cs, kindConfigMap, configMapsResource, "acme", "shop-web-config")
				cachedAt(t, c, cs, kindService, servicesResource, "acme", "shop-web")
				cachedAt(t, c, cs, kindDeployment, deploymentsResource, "acme", "shop-web")
			}
			caughtUp()
			if tt.change != nil {
				tt.change(t, cs, &in)
				caughtUp()
			}
			applies := countApplies(cs)
			second := deploy()
			if got := applies.take(); !maps.Equal(got, tt.want) {
				t.Fatalf("applies %v, want %v", got, tt.want)
			}
			if second.Generation < first.Generation || second.Deployment != "shop-web" || second.Rollout == nil {
				t.Fatalf("second apply answered %+v (first %+v)", second, first)
			}
			// what the deploy wanted is what runs
			dep := getDeployment(t, cs.Clientset)
			if got := dep.Spec.Template.Spec.Containers[0].Image; got != in.Image {
				t.Fatalf("image %s, want %s", got, in.Image)
			}
			if _, err := cs.CoreV1().LimitRanges("acme").Get(ctx, render.LimitRangeName, metav1.GetOptions{}); err != nil {
				t.Fatalf("limit range: %v", err)
			}
			if _, err := cs.CoreV1().Services("acme").Get(ctx, "shop-web", metav1.GetOptions{}); err != nil {
				t.Fatalf("service: %v", err)
			}
		})
	}
}

// TestApplyElisionAnswersTheCachedWorkload: a skipped workload apply answers the cached workload,
// complete when its status says so, as the apply would have.
func TestApplyElisionAnswersTheCachedWorkload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs := rvClientset()
	c := startedCache(t, cs, KubeCacheConfig{KeepReleaseLabels: true})
	k := &Kube{Client: cs, Cache: c}
	in := releaseInput(2)
	first, err := k.Apply(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if first.Complete {
		t.Fatal("a new deployment is not complete")
	}
	// its controller rolls it out; the next apply (a status change since the last one) is sent, and
	// the one after it skipped
	dep := getDeployment(t, cs.Clientset)
	dep.Status = appsv1.DeploymentStatus{ObservedGeneration: dep.Generation, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}
	if _, err := cs.AppsV1().Deployments("acme").UpdateStatus(ctx, dep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cachedAt(t, c, cs, kindDeployment, deploymentsResource, "acme", "shop-web")
	applies := countApplies(cs)
	for i, want := range []int{1, 0} {
		in.ReleaseID = "r" + string(rune('2'+i))
		got, err := k.Apply(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if n := applies.take()["deployments"]; n != want {
			t.Fatalf("deploy %d: %d deployment applies, want %d", i+2, n, want)
		}
		if !got.Complete || got.Rollout.Available != 2 {
			t.Fatalf("deploy %d answered %+v, rollout %+v: want complete", i+2, got, got.Rollout)
		}
		cachedAt(t, c, cs, kindDeployment, deploymentsResource, "acme", "shop-web")
	}
}

// TestApplyMemoIsBounded: the memo forgets objects deleted, and never holds more than MaxMemo.
func TestApplyMemoIsBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs := rvClientset()
	c := startedCache(t, cs, KubeCacheConfig{MaxMemo: 3})
	k := &Kube{Client: cs, Cache: c}
	for _, tenant := range []string{"a", "b", "c"} {
		if _, err := k.EnsureNamespace(ctx, EnsureNamespaceInput{Tenant: tenant}); err != nil {
			t.Fatal(err)
		}
		if n := c.memo.len(); n > 3 {
			t.Fatalf("memo holds %d entries, at most 3", n)
		}
	}
	if err := cs.CoreV1().Namespaces().Delete(ctx, "c", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the memo forgets namespace c", func() bool {
		_, ok := c.memo.lookup(memoKey{kind: kindNamespace, name: "c"})
		return !ok
	})
}

// TestWaitRolloutWakesOnEvents: with a synced cache, a rollout wait reads no API at all and ends on the
// cache's events for its workload and its Service's endpoints, long before its recheck tick.
func TestWaitRolloutWakesOnEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	notReady := false
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-web-abcde", Namespace: "acme", Labels: map[string]string{
			labelManagedBy: "rainflow", discoveryv1.LabelServiceName: "shop-web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &notReady}},
			{Addresses: []string{"10.0.0.2"}, Conditions: discoveryv1.EndpointConditions{Ready: &notReady}}},
	}
	dep := deployment(2, appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 0, ReadyReplicas: 2, AvailableReplicas: 2})
	cs := fake.NewClientset(dep, slice)
	k := &Kube{Client: cs, PollInterval: time.Hour, Cache: startedCache(t, cs, KubeCacheConfig{})}
	cs.ClearActions()

	done := make(chan error, 1)
	go func() {
		var s testsuite.WorkflowTestSuite
		env := s.NewTestActivityEnvironment()
		env.RegisterActivity(k)
		_, err := env.ExecuteActivity(k.WaitRollout, WaitRolloutInput{Namespace: "acme", Deployment: "shop-web", Service: "shop-web", Generation: 2})
		done <- err
	}()
	// the workload rolls out; its endpoints are not ready yet
	time.Sleep(50 * time.Millisecond)
	dep = dep.DeepCopy()
	dep.Status = appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}
	if _, err := cs.AppsV1().Deployments("acme").UpdateStatus(ctx, dep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("the wait ended before the endpoints were ready: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	ready := true
	slice = slice.DeepCopy()
	for i := range slice.Endpoints {
		slice.Endpoints[i].Conditions.Ready = &ready
	}
	if _, err := cs.DiscoveryV1().EndpointSlices("acme").Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the wait did not end on the events")
	}
	for _, a := range cs.Actions() {
		if a.GetVerb() == "get" || a.GetVerb() == "list" {
			t.Errorf("the wait read the API: %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
}

// TestWaitRolloutWithoutSyncedCachePolls: a cache that has not synced is not read; the wait polls the
// API as it does without one.
func TestWaitRolloutWithoutSyncedCachePolls(t *testing.T) {
	t.Parallel()
	done := appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}
	cs := fake.NewClientset(deployment(2, done))
	k := &Kube{Client: cs, PollInterval: 10 * time.Millisecond, Cache: NewKubeCache(cs, KubeCacheConfig{}, nil)}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(k)
	if _, err := env.ExecuteActivity(k.WaitRollout, WaitRolloutInput{Namespace: "acme", Deployment: "shop-web", Generation: 2}); err != nil {
		t.Fatal(err)
	}
	var gets int
	for _, a := range cs.Actions() {
		if a.GetVerb() == "get" && a.GetResource().Resource == "deployments" {
			gets++
		}
	}
	if gets == 0 {
		t.Fatal("the wait did not read the API")
	}
}
