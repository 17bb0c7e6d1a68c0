package devstack

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// kubeClient is an admin client of the local API server.
func (r *runner) kubeClient() (kubernetes.Interface, error) {
	cfg := &rest.Config{
		Host: r.apiServerURL(),
		TLSClientConfig: rest.TLSClientConfig{
			CAFile:   filepath.Join(r.p.pki, "ca.crt"),
			CertFile: filepath.Join(r.p.pki, "admin.crt"),
			KeyFile:  filepath.Join(r.p.pki, "admin.key"),
		},
		QPS: 50, Burst: 100,
		Timeout: 30 * time.Second,
	}
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create kubernetes client: %w", err)
	}
	return kc, nil
}

// poll calls cond every 100 ms until it is done, fails, or timeout passes; the last "not yet" reason
// goes into the timeout error. Calls get a few seconds past the deadline, so that the reason is the
// last real answer and not a client-side deadline error.
func poll(ctx context.Context, timeout time.Duration, what string, cond func(ctx context.Context) (bool, string, error)) error {
	deadline := time.Now().Add(timeout)
	callCtx, cancel := context.WithDeadline(ctx, deadline.Add(10*time.Second))
	defer cancel()
	for {
		done, reason, err := cond(callCtx)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wait for %s: not done after %s: %s", what, timeout, reason)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s (%s): %w", what, reason, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func waitNodeReady(ctx context.Context, kc kubernetes.Interface, name string, timeout time.Duration) error {
	return waitNodeReadySince(ctx, kc, name, time.Time{}, timeout)
}

func waitNodeRegistered(ctx context.Context, kc kubernetes.Interface, name string, timeout time.Duration) error {
	return poll(ctx, timeout, "node "+name+" registered", func(ctx context.Context) (bool, string, error) {
		_, err := kc.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	})
}

// waitNodeReadySince waits for the node's Ready condition to be true with a heartbeat at or after since,
// so that a status left in etcd by an earlier run does not count.
func waitNodeReadySince(ctx context.Context, kc kubernetes.Interface, name string, since time.Time, timeout time.Duration) error {
	return poll(ctx, timeout, "node "+name+" Ready", func(ctx context.Context) (bool, string, error) {
		n, err := kc.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, "not registered", nil
		}
		if err != nil {
			return false, err.Error(), nil
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				if c.LastHeartbeatTime.Time.Before(since) {
					return false, "no heartbeat since the kubelet started", nil
				}
				if c.Status == corev1.ConditionTrue {
					return true, "", nil
				}
				return false, c.Reason + ": " + c.Message, nil
			}
		}
		return false, "no Ready condition yet", nil
	})
}

// waitNodeSchedulable waits until the node carries no NoSchedule/NoExecute taint; the node-lifecycle
// controller removes node.kubernetes.io/not-ready a little after the node turns Ready.
func waitNodeSchedulable(ctx context.Context, kc kubernetes.Interface, name string, timeout time.Duration) error {
	return poll(ctx, timeout, "node "+name+" without taints", func(ctx context.Context) (bool, string, error) {
		n, err := kc.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		for _, t := range n.Spec.Taints {
			if t.Effect != corev1.TaintEffectPreferNoSchedule {
				return false, "taint " + t.Key, nil
			}
		}
		return !n.Spec.Unschedulable, "cordoned", nil
	})
}

// waitDefaultServiceAccount waits for the default ServiceAccount, which kube-controller-manager creates
// asynchronously; pods are rejected until it exists.
func waitDefaultServiceAccount(ctx context.Context, kc kubernetes.Interface, timeout time.Duration) error {
	return poll(ctx, timeout, "default ServiceAccount", func(ctx context.Context) (bool, string, error) {
		_, err := kc.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	})
}
