package devstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// FakeNodeName is the name of the i-th kwok fake node.
func FakeNodeName(i int) string { return "kwok-node-" + strconv.Itoa(i) }

func (r *runner) kwok() component {
	return component{
		name: "kwok",
		bin:  filepath.Join(r.p.bin, "kwok"),
		args: []string{
			"--kubeconfig=" + r.p.join("kube", "kwok.kubeconfig"), "--config=" + r.cfg.KwokStages,
			"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
			"--cidr=" + FakePodCIDR, "--node-ip=127.0.0.1", "--node-lease-duration-seconds=40",
			"--server-address=127.0.0.1:" + strconv.Itoa(r.cfg.Ports.Kwok),
		},
		ports:  []int{r.cfg.Ports.Kwok},
		health: httpProbe(plainClient(), fmt.Sprintf("http://127.0.0.1:%d/healthz", r.cfg.Ports.Kwok), ""),
	}
}

// startKwok starts kwok and makes its fake nodes Ready. A new kwok process has a new holder id and would
// wait for a dead predecessor's node leases to expire (40 s) before serving their pods, so those leases
// are deleted before it starts.
// With a real node the fake nodes are tainted, so only scale tests that tolerate the taint land there;
// without one (kwok-only mode) they are not, so that deploys still complete on the control plane.
func (r *runner) startKwok(ctx context.Context, kc kubernetes.Interface, realNode bool) error {
	if _, err := os.Stat(r.cfg.KwokStages); err != nil {
		return fmt.Errorf("start kwok: missing stage file %s (run `make tools`): %w", r.cfg.KwokStages, err)
	}
	c := r.kwok()
	if _, _, running := r.sup.running(c.name, c.bin); !running {
		for i := range r.cfg.FakeNodes {
			err := kc.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(ctx, FakeNodeName(i), metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete lease of %s: %w", FakeNodeName(i), err)
			}
		}
	}
	if err := r.ensure(ctx, c); err != nil {
		return err
	}
	for i := range r.cfg.FakeNodes {
		if err := applyFakeNode(ctx, kc, fakeNode(i, realNode)); err != nil {
			return err
		}
	}
	for i := range r.cfg.FakeNodes {
		if err := waitNodeReady(ctx, kc, FakeNodeName(i), r.cfg.StartTimeout); err != nil {
			return fmt.Errorf("wait for fake node: %w; last lines of kwok's log:\n%s", err, tailFile(r.sup.logFile("kwok"), 20))
		}
	}
	r.log.Info("fake nodes Ready", "count", r.cfg.FakeNodes)
	return nil
}

// fakeNode is a kwok-managed node; tainted, only pods that tolerate rainflow.io/fake land there.
func fakeNode(i int, tainted bool) *corev1.Node {
	name := FakeNodeName(i)
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	var taints []corev1.Taint
	if tainted {
		taints = []corev1.Taint{{Key: FakeTaintKey, Value: "true", Effect: corev1.TaintEffectNoSchedule}}
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Annotations: map[string]string{
				"node.alpha.kubernetes.io/ttl": "0",
				"kwok.x-k8s.io/node":           "fake",
			},
			Labels: map[string]string{
				"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux",
				"kubernetes.io/hostname": name, "type": "kwok", FakeTaintKey: "true",
			},
		},
		Spec:   corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{Allocatable: capacity, Capacity: capacity},
	}
}

// applyFakeNode creates the node, or sets the taints of the one a previous run created (which may have
// run with or without a real node).
func applyFakeNode(ctx context.Context, kc kubernetes.Interface, node *corev1.Node) error {
	_, err := kc.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create node %s: %w", node.Name, err)
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := kc.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get node %s: %w", node.Name, err)
		}
		if reflect.DeepEqual(cur.Spec.Taints, node.Spec.Taints) || (len(cur.Spec.Taints) == 0 && len(node.Spec.Taints) == 0) {
			return nil
		}
		cur.Spec.Taints = node.Spec.Taints
		_, err = kc.CoreV1().Nodes().Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}
