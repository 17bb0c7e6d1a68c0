package devstack

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestApplyFakeNodeTaints: a fake node is tainted while a real node runs and untainted in kwok-only mode,
// also when a previous run created it the other way.
func TestApplyFakeNodeTaints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	kc := fake.NewClientset()
	for _, tt := range []struct {
		name    string
		tainted bool
	}{
		{name: "created with a real node", tainted: true},
		{name: "kwok-only run on the same state", tainted: false},
		{name: "real node again", tainted: true},
	} {
		if err := applyFakeNode(ctx, kc, fakeNode(0, tt.tainted)); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		n, err := kc.CoreV1().Nodes().Get(ctx, FakeNodeName(0), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(n.Spec.Taints) == 1 && n.Spec.Taints[0].Key == FakeTaintKey; got != tt.tainted {
			t.Fatalf("%s: tainted = %v, want %v (taints %v)", tt.name, got, tt.tainted, n.Spec.Taints)
		}
	}
}
