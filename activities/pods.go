package activities

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"go.temporal.io/sdk/activity"
)

// WaitNoPodsInput names the Deployment whose pods must all be gone.
type WaitNoPodsInput struct {
	Namespace  string `json:"namespace"`
	Deployment string `json:"deployment"`
}

// PodsProgress is how many of the Deployment's pods remain; it is the heartbeat detail too.
type PodsProgress struct {
	Remaining int32    `json:"remaining"`
	Pods      []string `json:"pods,omitempty"` // the first few remaining pods, by name
	// Most is the most pods seen at once since the wait began, kept across retries.
	Most int32 `json:"most"`
}

// WaitNoPodsResult is the finished wait.
type WaitNoPodsResult struct {
	Stopped int32 `json:"stopped"` // the most pods that were still there during the wait
}

// maxPodsReported bounds the pod names a heartbeat carries.
const maxPodsReported = 10

// WaitNoPods waits until no pod of the Deployment remains, terminating ones included (also those whose
// containers already exited): a stopped component runs no container and shows no pod. Pods that ended
// and are not being deleted (an evicted pod, which the ReplicaSet leaves) run nothing and are not
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
				in.Namespace, in.Deployment, p.Remaining, p.Pods, ctx.Err())
		case <-tick.C:
		}
	}
}

// observePods counts the Deployment's pods that still run, or may, into p.
func (k *Kube) observePods(ctx context.Context, in WaitNoPodsInput, p *PodsProgress) error {
	dep, err := k.Client.AppsV1().Deployments(in.Namespace).Get(ctx, in.Deployment, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return permanent(ErrTypeWorkloadNotFound, fmt.Errorf("deployment %s/%s is gone: %w", in.Namespace, in.Deployment, err))
	}
	if err != nil {
		return classify(fmt.Errorf("get deployment %s/%s: %w", in.Namespace, in.Deployment, err))
	}
	sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
	if err != nil {
		return permanent(ErrTypeInvalidSpec, fmt.Errorf("selector of deployment %s/%s: %w", in.Namespace, in.Deployment, err))
	}
	pods, err := k.Client.CoreV1().Pods(in.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return classify(fmt.Errorf("list pods of %s/%s: %w", in.Namespace, in.Deployment, err))
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
