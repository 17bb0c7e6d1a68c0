package activities

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"go.temporal.io/sdk/activity"
)

// WaitNoPodsInput names the workload whose pods must all be gone.
type WaitNoPodsInput struct {
	Namespace string `json:"namespace"`
	// Kind is Deployment or StatefulSet; empty, the workload of that name whichever its kind.
	Kind     string `json:"kind,omitempty"`
	Workload string `json:"workload,omitempty"` // the workload's name
	// Deployment is the workload's name as inputs written before StatefulSets named it; Workload wins.
	Deployment string `json:"deployment,omitempty"`
}

// PodsProgress is how many of the workload's pods remain; it is the heartbeat detail too.
type PodsProgress struct {
	Remaining int32    `json:"remaining"`
	Pods      []string `json:"pods,omitempty"` // the first few remaining pods, by name
	// Most is the most pods seen at once since the wait began, kept across retries.
	Most int32 `json:"most"`
}

// EventMessage is the progress as the operation's event log shows it.
func (p PodsProgress) EventMessage() string {
	if p.Remaining == 0 {
		return "no pods left"
	}
	return fmt.Sprintf("%d pods left: %s", p.Remaining, strings.Join(p.Pods, ", "))
}

// WaitNoPodsResult is the finished wait.
type WaitNoPodsResult struct {
	Stopped int32 `json:"stopped"` // the most pods that were still there during the wait
}

// maxPodsReported bounds the pod names a heartbeat carries.
const maxPodsReported = 10

// WaitNoPods waits until no pod of the workload remains, terminating ones included (also those whose
// containers already exited): a stopped component runs no container and shows no pod. Pods that ended
// and are not being deleted (an evicted pod, which a ReplicaSet leaves) run nothing and are not
// waited for. It heartbeats the pods that remain and resumes from its heartbeat on retry.
func (k *Kube) WaitNoPods(ctx context.Context, in WaitNoPodsInput) (WaitNoPodsResult, error) {
	var p PodsProgress
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p)
	}
	tick := time.NewTicker(orDuration(k.PollInterval, 500*time.Millisecond))
	defer tick.Stop()
	for {
		if err := k.observePods(ctx, in, &p); err != nil {
			return WaitNoPodsResult{}, err
		}
		activity.RecordHeartbeat(ctx, p)
		if p.Remaining == 0 {
			return WaitNoPodsResult{Stopped: p.Most}, nil
		}
		select {
		case <-ctx.Done():
			return WaitNoPodsResult{}, fmt.Errorf("wait for the pods of %s/%s to stop (%d remain: %v): %w",
				in.Namespace, workloadName(in.Workload, in.Deployment), p.Remaining, p.Pods, ctx.Err())
		case <-tick.C:
		}
	}
}

// observePods counts the workload's pods that still run, or may, into p.
func (k *Kube) observePods(ctx context.Context, in WaitNoPodsInput, p *PodsProgress) error {
	name := workloadName(in.Workload, in.Deployment)
	w, err := k.getWorkload(ctx, in.Namespace, in.Kind, name)
	if err != nil {
		return err
	}
	if w == nil {
		return permanent(ErrTypeWorkloadNotFound, fmt.Errorf("workload %s/%s is gone", in.Namespace, name))
	}
	sel, err := metav1.LabelSelectorAsSelector(w.Selector)
	if err != nil {
		return permanent(ErrTypeInvalidSpec, fmt.Errorf("selector of %s %s/%s: %w", w.Kind, in.Namespace, name, err))
	}
	pods, err := k.Client.CoreV1().Pods(in.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return classify(fmt.Errorf("list pods of %s/%s: %w", in.Namespace, name, err))
	}
	var names []string
	for _, pod := range pods.Items {
		ended := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
		if ended && pod.DeletionTimestamp == nil {
			continue // left over (an evicted pod): the ReplicaSet never deletes it, and it runs nothing
		}
		names = append(names, pod.Name)
	}
	sort.Strings(names)
	p.Remaining = int32(len(names))
	p.Most = max(p.Most, p.Remaining)
	p.Pods = names[:min(len(names), maxPodsReported)]
	return nil
}
