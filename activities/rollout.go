package activities

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"go.temporal.io/sdk/activity"

	"github.com/rainflow/rainflow/activities/render"
)

// WaitRolloutInput names the workload (and Service) whose rollout to wait for.
type WaitRolloutInput struct {
	Namespace string `json:"namespace"`
	// Kind is Deployment or StatefulSet; empty, the workload of that name whichever its kind.
	Kind     string `json:"kind,omitempty"`
	Workload string `json:"workload,omitempty"` // the workload's name
	// Deployment is the workload's name as inputs written before StatefulSets named it; Workload wins.
	Deployment string `json:"deployment,omitempty"`
	Service    string `json:"service,omitempty"` // when set, also wait for its ready endpoints
	Generation int64  `json:"generation"`        // the generation the apply produced
	// Deadline, when set, is when a rollout that is still not complete fails for good (a readiness
	// probe that never passes does not stop a Deployment on its own for 10 minutes, nor a StatefulSet
	// ever).
	Deadline time.Time `json:"deadline,omitzero"`
}

// RolloutProgress is what a rollout looks like now; it is the heartbeat detail too.
type RolloutProgress struct {
	Desired        int32 `json:"desired"`
	Updated        int32 `json:"updated"`
	Ready          int32 `json:"ready"`
	Available      int32 `json:"available"`
	Total          int32 `json:"total"` // old and new pods
	ReadyEndpoints int32 `json:"readyEndpoints"`
	// Message is what holds the rollout back now: pods that cannot be created, are unschedulable,
	// cannot pull their image or crash.
	Message string `json:"message,omitempty"`
	// Stuck records when each pod problem was first seen ("pod/reason" → time), so that a retried
	// activity resumes counting instead of starting over.
	Stuck map[string]time.Time `json:"stuck,omitempty"`
}

// EventMessage is the progress as the operation's event log shows it.
func (p RolloutProgress) EventMessage() string {
	msg := fmt.Sprintf("%d/%d updated, %d ready, %d available, %d ready endpoints", p.Updated, p.Desired, p.Ready, p.Available, p.ReadyEndpoints)
	if p.Message != "" {
		msg += ": " + p.Message
	}
	return msg
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

// WaitRollout waits until every replica of the workload runs the applied generation and is available
// (a StatefulSet: updated, ready and at its update revision), and the Service has that many ready
// endpoints. It heartbeats its progress, resumes from its heartbeat on retry, and fails for good on
// ProgressDeadlineExceeded or a pod stuck pulling its image or crash-looping for longer than StuckAfter.
func (k *Kube) WaitRollout(ctx context.Context, in WaitRolloutInput) (WaitRolloutResult, error) {
	var p RolloutProgress
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p)
	}
	if err := k.follow(ctx, in, &p, false); err != nil {
		return WaitRolloutResult{}, err
	}
	return WaitRolloutResult{RolloutProgress: p}, nil
}

// AwaitRolloutInput asks for a short wait for a rollout: at most Within.
type AwaitRolloutInput struct {
	WaitRolloutInput
	Within time.Duration `json:"within"`
}

// AwaitRolloutResult is the rollout as the short wait left it; Complete when it is done.
type AwaitRolloutResult struct {
	RolloutProgress
	Complete bool `json:"complete,omitempty"`
}

// AwaitRollout waits for a rollout for at most Within, woken by the cache's events. A deploy runs it as
// a local activity right after the apply, so that a rollout that completes quickly needs no WaitRollout
// activity and no second workflow task. It never decides that a rollout failed: a worker without a
// synced cache answers at once (it would poll the API), and a rollout that is not complete in time, or
// looks stuck or failed, is answered not complete: WaitRollout then waits, heartbeats and decides.
func (k *Kube) AwaitRollout(ctx context.Context, in AwaitRolloutInput) (AwaitRolloutResult, error) {
	if in.Within <= 0 || !k.Cache.Synced() {
		return AwaitRolloutResult{}, nil
	}
	wait, cancel := context.WithTimeout(ctx, in.Within)
	defer cancel()
	var p RolloutProgress
	if err := k.follow(wait, in.WaitRolloutInput, &p, true); err != nil {
		if ctx.Err() != nil {
			return AwaitRolloutResult{}, ctx.Err()
		}
		return AwaitRolloutResult{RolloutProgress: p}, nil
	}
	return AwaitRolloutResult{RolloutProgress: p, Complete: true}, nil
}

// follow observes the rollout into p until it is complete (nil), fails for good, passes its deadline,
// or ctx ends; it heartbeats p on every look (a no-op in a local activity). cacheOnly (with a synced
// cache) waits for a workload the cache does not have yet instead of reading the API: right after
// the apply, the cache is often a few milliseconds behind, and the API read (the workload and a list
// of its pods) is what it would save.
func (k *Kube) follow(ctx context.Context, in WaitRolloutInput, p *RolloutProgress, cacheOnly bool) error {
	if p.Stuck == nil {
		p.Stuck = map[string]time.Time{}
	}
	name := workloadName(in.Workload, in.Deployment)
	// With a synced cache, the wait reads the cache and wakes on its events for the workload, its pods
	// and its Service's endpoints; the tick then only rechecks what time alone changes (how long a pod
	// has been stuck, the deadline). Without one, it polls the API.
	interval := orDuration(k.PollInterval, 500*time.Millisecond)
	var changed <-chan struct{}
	if k.Cache.Synced() {
		keys := []string{in.Namespace + "/" + name}
		if in.Service != "" && in.Service != name {
			keys = append(keys, in.Namespace+"/"+in.Service)
		}
		ch, stop := k.Cache.waiters.watch(keys...)
		defer stop()
		changed, interval = ch, cacheRecheck*interval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		done, err := k.observe(ctx, in, p, cacheOnly)
		if err != nil {
			return err
		}
		activity.RecordHeartbeat(ctx, *p)
		if done {
			return nil
		}
		if !in.Deadline.IsZero() && time.Now().After(in.Deadline) {
			detail := ""
			if p.Message != "" {
				detail = ": " + p.Message
			}
			return permanent(ErrTypeRolloutStalled, fmt.Errorf(
				"rollout of %s/%s not complete by its deadline (%d/%d updated, %d ready, %d available, %d ready endpoints)%s",
				in.Namespace, name, p.Updated, p.Desired, p.Ready, p.Available, p.ReadyEndpoints, detail))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for rollout of %s/%s (%d/%d available): %w",
				in.Namespace, name, p.Available, p.Desired, ctx.Err())
		case <-workerStopping(ctx):
			// A retryable failure: another worker resumes the wait from the last heartbeat at once.
			return fmt.Errorf("wait for rollout of %s/%s (%d/%d available): the worker is stopping",
				in.Namespace, name, p.Available, p.Desired)
		case <-tick.C:
		case <-changed:
		}
	}
}

// cacheRecheck is how many poll intervals a wait on the cache's events goes without an event before it
// looks again.
const cacheRecheck = 4

// observe reads the rollout once into p and tells whether it is complete: from the cache when it is
// synced (the API when the cache has no workload yet), else from the API.
func (k *Kube) observe(ctx context.Context, in WaitRolloutInput, p *RolloutProgress, cacheOnly bool) (bool, error) {
	name := workloadName(in.Workload, in.Deployment)
	var w *workloadState
	fromCache := k.Cache.Synced()
	if fromCache {
		if in.Kind != "" && in.Kind != render.KindDeployment && in.Kind != render.KindStatefulSet {
			return false, permanent(ErrTypeInvalidSpec, fmt.Errorf("workload %s/%s: unknown kind %q", in.Namespace, name, in.Kind))
		}
		w = k.Cache.cachedWorkload(in.Namespace, in.Kind, name)
		if w == nil && cacheOnly {
			return false, nil
		}
	}
	if w == nil {
		var err error
		if w, err = k.getWorkload(ctx, in.Namespace, in.Kind, name); err != nil {
			return false, err
		}
		fromCache = false // the cache lags: read the pods from the API too
	}
	if w == nil { // retried: an apply that just happened may not be visible yet
		return false, fmt.Errorf("get workload %s/%s: not found", in.Namespace, name)
	}
	p.Desired = w.Replicas
	p.Updated, p.Ready, p.Available, p.Total = w.Updated, w.Ready, w.Available, w.Total
	if w.Stalled != "" {
		return false, permanent(ErrTypeRolloutStalled, fmt.Errorf("rollout of %s/%s stalled: %s", in.Namespace, name, w.Stalled))
	}
	problems, err := k.checkPods(ctx, fromCache, w, p)
	if err != nil {
		return false, err
	}
	if p.Total < p.Desired {
		// pods that cannot even be created (a quota, an admission rule) show on the workload only
		failures, err := k.createFailures(ctx, w)
		if err != nil {
			return false, err
		}
		problems = append(failures, problems...)
	}
	p.Message = strings.Join(problems, "; ")
	if in.Service != "" {
		n, err := k.readyEndpoints(ctx, fromCache, in.Namespace, in.Service)
		if err != nil {
			return false, err
		}
		p.ReadyEndpoints = n
	}
	return w.complete(in.Generation) && (in.Service == "" || p.ReadyEndpoints >= p.Desired), nil
}

// checkPods records pod problems and fails once one has lasted longer than StuckAfter; it answers
// the problems it saw.
func (k *Kube) checkPods(ctx context.Context, fromCache bool, w *workloadState, p *RolloutProgress) ([]string, error) {
	pods, err := k.podsOf(ctx, fromCache, w)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	seen := map[string]bool{}
	var problems []string
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil {
			continue
		}
		for _, cs := range pod.Status.ContainerStatuses {
			wt := cs.State.Waiting
			if wt == nil || !stuckReasons[wt.Reason] {
				continue
			}
			key := pod.Name + "/" + wt.Reason
			seen[key] = true
			if _, ok := p.Stuck[key]; !ok {
				p.Stuck[key] = now
			}
			msg := fmt.Sprintf("pod %s container %s: %s: %s", pod.Name, cs.Name, wt.Reason, wt.Message)
			problems = append(problems, msg)
			if now.Sub(p.Stuck[key]) >= orDuration(k.StuckAfter, 20*time.Second) || wt.Reason == "InvalidImageName" {
				return nil, permanent(ErrTypeRolloutFailed, fmt.Errorf("rollout of %s/%s failed: %s", w.Namespace, w.Name, msg))
			}
		}
		if pod.Status.Phase == corev1.PodPending {
			if c := podCondition(pod, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionFalse {
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
	return problems, nil
}

// createFailures says why the workload cannot create its pods: a Deployment's ReplicaFailure
// condition, or a StatefulSet's newest FailedCreate warning.
func (k *Kube) createFailures(ctx context.Context, w *workloadState) ([]string, error) {
	if w.Kind != render.KindStatefulSet {
		if w.Failure != "" {
			return []string{"cannot create pods: " + w.Failure}, nil
		}
		return nil, nil
	}
	events, err := k.Client.CoreV1().Events(w.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.Set{"involvedObject.kind": w.Kind, "involvedObject.name": w.Name, "type": corev1.EventTypeWarning}.String(),
	})
	if err != nil {
		return nil, classify(fmt.Errorf("list events of %s/%s: %w", w.Namespace, w.Name, err))
	}
	var newest *corev1.Event
	for i, e := range events.Items {
		if e.InvolvedObject.Kind != w.Kind || e.InvolvedObject.Name != w.Name || e.Reason != "FailedCreate" {
			continue
		}
		if newest == nil || eventTime(&e).After(eventTime(newest)) {
			newest = &events.Items[i]
		}
	}
	if newest == nil {
		return nil, nil
	}
	return []string{"cannot create pods: " + newest.Message}, nil
}

func eventTime(e *corev1.Event) time.Time {
	if !e.LastTimestamp.IsZero() {
		return e.LastTimestamp.Time
	}
	return e.EventTime.Time
}

// podsOf answers the workload's pods: from the cache (its pods carry the workload's name as their
// instance label), else listed by the workload's selector.
func (k *Kube) podsOf(ctx context.Context, fromCache bool, w *workloadState) ([]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(w.Selector)
	if err != nil {
		return nil, permanent(ErrTypeInvalidSpec, fmt.Errorf("selector of %s %s/%s: %w", w.Kind, w.Namespace, w.Name, err))
	}
	if fromCache {
		var out []*corev1.Pod
		for _, pod := range k.Cache.pods(w.Namespace, w.Name) {
			if sel.Matches(labels.Set(pod.Labels)) {
				out = append(out, pod)
			}
		}
		return out, nil
	}
	pods, err := k.Client.CoreV1().Pods(w.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, classify(fmt.Errorf("list pods of %s/%s: %w", w.Namespace, w.Name, err))
	}
	out := make([]*corev1.Pod, len(pods.Items))
	for i := range pods.Items {
		out[i] = &pods.Items[i]
	}
	return out, nil
}

// readyEndpoints counts the ready addresses of the Service's endpoint slices: from the cache (the
// slices carry their Service's labels), else, or while the cache has none, listed from the API.
func (k *Kube) readyEndpoints(ctx context.Context, fromCache bool, ns, svc string) (int32, error) {
	var slices []*discoveryv1.EndpointSlice
	if fromCache {
		slices = k.Cache.endpointSlices(ns, svc)
	}
	if len(slices) == 0 {
		list, err := k.Client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=" + svc,
		})
		if err != nil {
			return 0, classify(fmt.Errorf("list endpoint slices of %s/%s: %w", ns, svc, err))
		}
		for i := range list.Items {
			slices = append(slices, &list.Items[i])
		}
	}
	addrs := map[string]bool{}
	for _, s := range slices {
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

// workerStopping is closed when the worker running the activity stops; nil (never ready) outside a
// worker, as in unit tests that call activities directly.
func workerStopping(ctx context.Context) <-chan struct{} {
	if !activity.IsActivity(ctx) {
		return nil
	}
	return activity.GetWorkerStopChannel(ctx)
}
