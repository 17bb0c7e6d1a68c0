package activities

import (
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

func deployment(replicas int32, st appsv1.DeploymentStatus) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-web", Namespace: "acme", Generation: 2, Labels: cachedLabels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"rainflow.io/component": "web"}},
		},
		Status: st,
	}
}

// cachedLabels are the labels that put a workload in the KubeCache.
var cachedLabels = map[string]string{labelManagedBy: "rainflow", labelInstance: "shop-web"}

// rolloutKube is a Kube over the objects for the rollout tests, with a synced cache when cached.
func rolloutKube(t *testing.T, cached bool, objects ...runtime.Object) *Kube {
	t.Helper()
	cs := fake.NewClientset(objects...)
	k := &Kube{Client: cs, PollInterval: 10 * time.Millisecond, StuckAfter: 50 * time.Millisecond}
	if cached {
		k.Cache = startedCache(t, cs, KubeCacheConfig{})
	}
	return k
}

// withAndWithoutCache runs the test case once reading the API and once reading a synced cache.
func withAndWithoutCache(t *testing.T, name string, test func(t *testing.T, cached bool)) {
	for _, cached := range []bool{false, true} {
		n := name
		if cached {
			n += ", from the cache"
		}
		t.Run(n, func(t *testing.T) {
			t.Parallel()
			test(t, cached)
		})
	}
}

func waitingPod(reason string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-web-1", Namespace: "acme", Labels: map[string]string{"rainflow.io/component": "web",
			labelManagedBy: "rainflow", labelInstance: "shop-web"}},
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
		withAndWithoutCache(t, tt.name, func(t *testing.T, cached bool) {
			k := rolloutKube(t, cached, tt.objects...)
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

func statefulSet(replicas int32, st appsv1.StatefulSetStatus) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-web", Namespace: "acme", Generation: 2, Labels: cachedLabels},
		Spec: appsv1.StatefulSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"rainflow.io/component": "web"}},
		},
		Status: st,
	}
}

func TestWaitRolloutStatefulSet(t *testing.T) {
	t.Parallel()
	done := appsv1.StatefulSetStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3,
		CurrentRevision: "shop-web-2", UpdateRevision: "shop-web-2"}
	with := func(change func(st *appsv1.StatefulSetStatus)) appsv1.StatefulSetStatus {
		st := done
		change(&st)
		return st
	}
	gone := metav1.Now()
	oldDeployment := deployment(3, appsv1.DeploymentStatus{})
	oldDeployment.DeletionTimestamp, oldDeployment.Finalizers = &gone, []string{"foregroundDeletion"}
	failedCreate := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "shop-web.1", Namespace: "acme"},
		InvolvedObject: corev1.ObjectReference{Kind: "StatefulSet", Name: "shop-web", Namespace: "acme"},
		Type:           corev1.EventTypeWarning, Reason: "FailedCreate", LastTimestamp: metav1.Now(),
		Message: `create Pod shop-web-2 in StatefulSet shop-web failed error: pods "shop-web-2" is forbidden: exceeded quota`,
	}
	tests := []struct {
		name        string
		kind        string
		objects     []runtime.Object
		wantType    string
		wantMessage string
		retryable   bool
	}{
		{name: "complete", kind: "StatefulSet", objects: []runtime.Object{statefulSet(3, done)}},
		{name: "complete, kind found by name", objects: []runtime.Object{statefulSet(3, done)}},
		{name: "complete, while the Deployment it replaces is being deleted", objects: []runtime.Object{statefulSet(3, done), oldDeployment}},
		{name: "scaled to zero", objects: []runtime.Object{statefulSet(0, appsv1.StatefulSetStatus{ObservedGeneration: 2,
			CurrentRevision: "shop-web-2", UpdateRevision: "shop-web-2"})}},
		{name: "generation not observed yet", objects: []runtime.Object{statefulSet(3, with(func(st *appsv1.StatefulSetStatus) { st.ObservedGeneration = 1 }))},
			wantType: ErrTypeRolloutStalled},
		{name: "revisions differ: the update is still rolling", objects: []runtime.Object{statefulSet(3, with(func(st *appsv1.StatefulSetStatus) {
			st.CurrentRevision = "shop-web-1"
		}))}, wantType: ErrTypeRolloutStalled},
		{name: "a replica not updated", objects: []runtime.Object{statefulSet(3, with(func(st *appsv1.StatefulSetStatus) { st.UpdatedReplicas = 2 }))},
			wantType: ErrTypeRolloutStalled},
		{name: "a replica not ready", objects: []runtime.Object{statefulSet(3, with(func(st *appsv1.StatefulSetStatus) { st.ReadyReplicas = 2 }))},
			wantType: ErrTypeRolloutStalled},
		{name: "a pod cannot be created", objects: []runtime.Object{statefulSet(3, with(func(st *appsv1.StatefulSetStatus) { st.Replicas = 2 })), failedCreate},
			wantType: ErrTypeRolloutStalled, wantMessage: "cannot create pods: create Pod shop-web-2 in StatefulSet shop-web failed error: pods \"shop-web-2\" is forbidden: exceeded quota"},
		{name: "a crash-looping pod", objects: []runtime.Object{statefulSet(3, with(func(st *appsv1.StatefulSetStatus) { st.ReadyReplicas = 2 })),
			waitingPod("CrashLoopBackOff")}, wantType: ErrTypeRolloutFailed, wantMessage: "CrashLoopBackOff"},
		{name: "a kind that is no workload", kind: "Job", objects: []runtime.Object{statefulSet(3, done)}, wantType: ErrTypeInvalidSpec},
		{name: "asked for a Deployment it does not have: retried", kind: "Deployment", objects: []runtime.Object{statefulSet(3, done)}, retryable: true},
	}
	for _, tt := range tests {
		withAndWithoutCache(t, tt.name, func(t *testing.T, cached bool) {
			k := rolloutKube(t, cached, tt.objects...)
			var s testsuite.WorkflowTestSuite
			env := s.NewTestActivityEnvironment()
			env.RegisterActivity(k)
			_, err := env.ExecuteActivity(k.WaitRollout, WaitRolloutInput{Namespace: "acme", Kind: tt.kind, Workload: "shop-web", Generation: 2,
				Deadline: time.Now().Add(300 * time.Millisecond)})
			if tt.retryable {
				requireRetryable(t, err)
				return
			}
			if tt.wantType == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			requirePermanent(t, err, tt.wantType)
			if !strings.Contains(err.Error(), tt.wantMessage) {
				t.Fatalf("err = %v, want it to say %q", err, tt.wantMessage)
			}
		})
	}
}

// A retried WaitRollout resumes from its heartbeat: a pod stuck since before the retry fails it at once.
func TestWaitRolloutResumesFromHeartbeat(t *testing.T) {
	t.Parallel()
	sts := statefulSet(3, appsv1.StatefulSetStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 2})
	k := &Kube{Client: fake.NewClientset(sts, waitingPod("CrashLoopBackOff")), PollInterval: 10 * time.Millisecond, StuckAfter: time.Hour}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(k)
	env.SetHeartbeatDetails(RolloutProgress{Stuck: map[string]time.Time{"shop-web-1/CrashLoopBackOff": time.Now().Add(-2 * time.Hour)}})
	_, err := env.ExecuteActivity(k.WaitRollout, WaitRolloutInput{Namespace: "acme", Deployment: "shop-web", Generation: 2,
		Deadline: time.Now().Add(10 * time.Second)})
	requirePermanent(t, err, ErrTypeRolloutFailed)
}

func TestWaitRolloutDeploymentCannotCreatePods(t *testing.T) {
	t.Parallel()
	dep := deployment(2, appsv1.DeploymentStatus{ObservedGeneration: 2, Conditions: []appsv1.DeploymentCondition{{
		Type: appsv1.DeploymentReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: "exceeded quota: rainflow-quota",
	}}})
	k := &Kube{Client: fake.NewClientset(dep), PollInterval: 10 * time.Millisecond}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(k)
	_, err := env.ExecuteActivity(k.WaitRollout, WaitRolloutInput{Namespace: "acme", Deployment: "shop-web", Generation: 2,
		Deadline: time.Now().Add(200 * time.Millisecond)})
	requirePermanent(t, err, ErrTypeRolloutStalled)
	if !strings.Contains(err.Error(), "cannot create pods: exceeded quota: rainflow-quota") {
		t.Fatalf("err = %v", err)
	}
}
