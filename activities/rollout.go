package activities

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"go.temporal.io/sdk/activity"
)

// WaitRolloutInput names the Deployment (and Service) whose rollout to wait for.
type WaitRolloutInput struct {
	Namespace  string `json:"namespace"`
	Deployment string `json:"deployment"`
	Service    string `json:"service,omitempty"` // when set, also wait for its ready endpoints
	Generation int64  `json:"generation"`        // the generation the apply produced
	// Deadline, when set, is when a rollout that is still not complete fails for good (a readiness
	// probe that never passes does not stop a Deployment on its own for 10 minutes).
	Deadline time.Time `json:"deadline,omitzero"`
}

// RolloutProgress is what a rollout looks like now; it is the heartbeat detail too.
type RolloutProgress struct {
	Desired        int32  `json:"desired"`
	Updated        int32  `json:"updated"`
	Ready          int32  `json:"ready"`
	Available      int32  `json:"available"`
	Total          int32  `json:"total"` // old and new pods
	ReadyEndpoints int32  `json:"readyEndpoints"`
	Message        string `json:"message,omitempty"` // the newest problem seen on a pod
	// Stuck records when each pod problem was first seen ("pod/reason" → time), so that a retried
	// activity resumes counting instead of starting over.
	Stuck map[string]time.Time `json:"stuck,omitempty"`
}

// WaitRolloutResult is the finished rollout.
type WaitRolloutResult struct {
	RolloutProgress
}

// stuckReasons are container states a rollout does not recover from by waiting.
var stuckReasons = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true, "CrashLoopBackOff": true,
	"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
}

// WaitRollout waits until every replica of the Deployment runs the applied generation and is available,
// and the Service has that many ready endpoints. It heartbeats its progress and fails for good on
// ProgressDeadlineExceeded or a pod stuck pulling its image or crash-looping for longer than StuckAfter.
func (k *Kube) WaitRollout(ctx context.Context, in WaitRolloutInput) (WaitRolloutResult, error) {
	var p RolloutProgress
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p)
	}
	if p.Stuck == nil {
		p.Stuck = map[string]time.Time{}
	}
	tick := time.NewTicker(orDuration(k.PollInterval, 500*time.Millisecond))
	defer tick.Stop()
	for {
		done, err := k.observe(ctx, in, &p)
		if err != nil {
			return WaitRolloutResult{}, err
		}
		activity.RecordHeartbeat(ctx, p)
		if done {
			return WaitRolloutResult{RolloutProgress: p}, nil
		}
		if !in.Deadline.IsZero() && time.Now().After(in.Deadline) {
			detail := ""
			if p.Message != "" {
				detail = ": " + p.Message
			}
			return WaitRolloutResult{}, permanent(ErrTypeRolloutStalled, fmt.Errorf(
				"rollout of %s/%s not complete by its deadline (%d/%d updated, %d available, %d ready endpoints)%s",
				in.Namespace, in.Deployment, p.Updated, p.Desired, p.Available, p.ReadyEndpoints, detail))
		}
		select {
		case <-ctx.Done():
			return WaitRolloutResult{}, fmt.Errorf("wait for rollout of %s/%s (%d/%d available): %w",
				in.Namespace, in.Deployment, p.Available, p.Desired, ctx.Err())
		case <-tick.C:
		}
	}
}

// observe reads the rollout once into p and tells whether it is complete.
func (k *Kube) observe(ctx context.Context, in WaitRolloutInput, p *RolloutProgress) (bool, error) {
	dep, err := k.Client.AppsV1().Deployments(in.Namespace).Get(ctx, in.Deployment, metav1.GetOptions{})
	if err != nil {
		return false, classify(fmt.Errorf("get deployment %s/%s: %w", in.Namespace, in.Deployment, err))
	}
	p.Desired = 1
	if dep.Spec.Replicas != nil {
		p.Desired = *dep.Spec.Replicas
	}
	st := dep.Status
	p.Updated, p.Ready, p.Available, p.Total = st.UpdatedReplicas, st.ReadyReplicas, st.AvailableReplicas, st.Replicas
	if c := condition(dep, appsv1.DeploymentProgressing); c != nil && c.Reason == "ProgressDeadlineExceeded" {
		return false, permanent(ErrTypeRolloutStalled, fmt.Errorf("rollout of %s/%s stalled: %s",
			in.Namespace, in.Deployment, c.Message))
	}
	if err := k.checkPods(ctx, dep, p); err != nil {
		return false, err
	}
	if in.Service != "" {
		n, err := k.readyEndpoints(ctx, in.Namespace, in.Service)
		if err != nil {
			return false, err
		}
		p.ReadyEndpoints = n
	}
	done := st.ObservedGeneration >= in.Generation &&
		p.Updated == p.Desired && p.Available == p.Desired && p.Total == p.Desired &&
		(in.Service == "" || p.ReadyEndpoints >= p.Desired)
	return done, nil
}

// checkPods records pod problems and fails once one has lasted longer than StuckAfter.
func (k *Kube) checkPods(ctx context.Context, dep *appsv1.Deployment, p *RolloutProgress) error {
	sel := labels.SelectorFromSet(dep.Spec.Selector.MatchLabels).String()
	pods, err := k.Client.CoreV1().Pods(dep.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return classify(fmt.Errorf("list pods of %s/%s: %w", dep.Namespace, dep.Name, err))
	}
	now := time.Now()
	seen := map[string]bool{}
	var problems []string
	for _, pod := range pods.Items {
		if pod.DeletionTimestamp != nil {
			continue
		}
		for _, cs := range pod.Status.ContainerStatuses {
			w := cs.State.Waiting
			if w == nil || !stuckReasons[w.Reason] {
				continue
			}
			key := pod.Name + "/" + w.Reason
			seen[key] = true
			if _, ok := p.Stuck[key]; !ok {
				p.Stuck[key] = now
			}
			msg := fmt.Sprintf("pod %s container %s: %s: %s", pod.Name, cs.Name, w.Reason, w.Message)
			problems = append(problems, msg)
			if now.Sub(p.Stuck[key]) >= orDuration(k.StuckAfter, 20*time.Second) || w.Reason == "InvalidImageName" {
				return permanent(ErrTypeRolloutFailed, fmt.Errorf("rollout of %s/%s failed: %s", dep.Namespace, dep.Name, msg))
			}
		}
		if pod.Status.Phase == corev1.PodPending {
			if c := podCondition(&pod, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionFalse {
				problems = append(problems, fmt.Sprintf("pod %s unschedulable: %s", pod.Name, c.Message))
			}
		}
	}
	for key := range p.Stuck {
		if !seen[key] {
			delete(p.Stuck, key)
		}
	}
	sort.Strings(problems)
	p.Message = strings.Join(problems, "; ")
	return nil
}

func (k *Kube) readyEndpoints(ctx context.Context, ns, svc string) (int32, error) {
	slices, err := k.Client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + svc,
	})
	if err != nil {
		return 0, classify(fmt.Errorf("list endpoint slices of %s/%s: %w", ns, svc, err))
	}
	addrs := map[string]bool{}
	for _, s := range slices.Items {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				addrs[a] = true
			}
		}
	}
	return int32(len(addrs)), nil
}

func condition(dep *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range dep.Status.Conditions {
		if dep.Status.Conditions[i].Type == t {
			return &dep.Status.Conditions[i]
		}
	}
	return nil
}

func podCondition(pod *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == t {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

func orDuration(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}
