package gateway

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestEventReason(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{name: "two words", in: ReasonInvalidAnnotation, want: "InvalidAnnotation"},
		{name: "three words", in: ReasonServicePortMissing, want: "ServicePortNotFound"},
		{name: "one word", in: ReasonConflict, want: "Conflict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, eventReason(tt.in))
		})
	}
}

func TestProblemReference(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   Problem
		want *corev1.ObjectReference
	}{
		{name: "ingress", in: Problem{Object: "Ingress shop/web", UID: "u1"},
			want: &corev1.ObjectReference{Kind: "Ingress", APIVersion: "networking.k8s.io/v1", Namespace: "shop", Name: "web", UID: "u1"}},
		{name: "service", in: Problem{Object: "Service shop/db"},
			want: &corev1.ObjectReference{Kind: "Service", APIVersion: "v1", Namespace: "shop", Name: "db"}},
		{name: "unknown kind", in: Problem{Object: "Secret shop/tls"}},
		{name: "no namespace", in: Problem{Object: "Ingress web"}},
		{name: "no kind", in: Problem{Object: "shop/web"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, tt.in.reference())
		})
	}
}

// TestPublisherRecordsEvents: an Ingress with an invalid annotation gets a Warning Event naming the
// annotation, attached to it by uid; once fixed, a Normal Event says the problem is resolved.
func TestPublisherRecordsEvents(t *testing.T) {
	t.Parallel()
	kube := fake.NewClientset()
	bad := ingress("shop", "web", rule("a.example.com", httpPath("/", prefix, "web", 80)))
	bad.UID = "uid-web"
	bad.Annotations = map[string]string{"rainflow.io/connect-timeout": "soon"}
	objs := Objects{Ingresses: []*networkingv1.Ingress{bad}, Services: []*corev1Service{service("shop", "web", "http", 80)}}

	var table atomic.Pointer[Table]
	p := newPublisher(DefaultIngressClass, func() (Objects, error) { return objs, nil }, NewPool(), &table, 0,
		slog.New(slog.DiscardHandler), newMetrics())
	p.events = newEventSink(kube)
	p.events.start()
	t.Cleanup(p.events.stop)

	events := func() []corev1.Event {
		list, err := kube.CoreV1().Events("shop").List(context.Background(), metav1.ListOptions{})
		require.NoError(t, err)
		return list.Items
	}
	p.rebuild()
	require.Eventually(t, func() bool { return len(events()) == 1 }, 10*time.Second, 20*time.Millisecond)
	ev := events()[0]
	assert.Equal(t, corev1.EventTypeWarning, ev.Type)
	assert.Equal(t, "InvalidAnnotation", ev.Reason)
	assert.Contains(t, ev.Message, "connect-timeout")
	assert.Equal(t, "Ingress", ev.InvolvedObject.Kind)
	assert.Equal(t, "web", ev.InvolvedObject.Name)
	assert.Equal(t, bad.UID, ev.InvolvedObject.UID)
	assert.Equal(t, eventComponent, ev.Source.Component)

	p.rebuild() // the same problem again: no second Event
	fixed := bad.DeepCopy()
	fixed.Annotations = nil
	objs.Ingresses = []*networkingv1.Ingress{fixed}
	p.rebuild()
	require.Eventually(t, func() bool { return len(events()) == 2 }, 10*time.Second, 20*time.Millisecond)
	var resolved *corev1.Event
	for i, e := range events() {
		if e.Type == corev1.EventTypeNormal {
			resolved = &events()[i]
		}
	}
	require.NotNil(t, resolved, "a Normal event: %+v", events())
	assert.Equal(t, "InvalidAnnotationResolved", resolved.Reason)
	assert.Len(t, events(), 2, "the repeated problem made no Event of its own")
}
