package tests

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/rainflow/rainflow/gateway"
)

// TestGatewayEvents: an Ingress whose annotation is invalid is not routed, and its owner learns why where
// Kubernetes users look: a Warning Event on the Ingress (found by its uid, as kubectl describe finds
// it). Fixing the annotation routes it and records a Normal Event.
func TestGatewayEvents(t *testing.T) {
	e := newGatewayEnv(t, "gwevents")
	web := startBackend(t, "web", nil)
	e.backendService("web", web)
	g := e.startGateway()

	ing := e.ingress("web", map[string]string{gateway.AnnotationConnectTimeout: "soon"},
		gwRule{host: "events.example.com", service: "web"})
	created, err := e.kube.NetworkingV1().Ingresses(e.ns).Create(e.ctx, ing, metav1.CreateOptions{})
	require.NoError(t, err)

	events := func(reason string) []corev1.Event {
		list, err := e.kube.CoreV1().Events(e.ns).List(e.ctx, metav1.ListOptions{FieldSelector: fields.Set{
			"involvedObject.kind": "Ingress", "involvedObject.name": "web", "involvedObject.uid": string(created.UID),
			"reason": reason}.String()})
		require.NoError(t, err)
		return list.Items
	}
	require.Eventually(t, func() bool { return len(events("InvalidAnnotation")) > 0 }, 30*time.Second, 50*time.Millisecond,
		"no Warning event on the Ingress")
	ev := events("InvalidAnnotation")[0]
	require.Equal(t, corev1.EventTypeWarning, ev.Type)
	require.Contains(t, ev.Message, gateway.AnnotationConnectTimeout)
	require.Equal(t, "rainflow-gateway", ev.Source.Component)
	// skipped, never half-applied: the host is not routed
	waitAnswer(t, g, gwRequest{host: "events.example.com", path: "/x"}, http.StatusNotFound, "no route for this host and path\n")

	fixed, err := e.kube.NetworkingV1().Ingresses(e.ns).Get(e.ctx, "web", metav1.GetOptions{})
	require.NoError(t, err)
	fixed.Annotations[gateway.AnnotationConnectTimeout] = "2s"
	_, err = e.kube.NetworkingV1().Ingresses(e.ns).Update(e.ctx, fixed, metav1.UpdateOptions{})
	require.NoError(t, err)
	waitAnswer(t, g, gwRequest{host: "events.example.com", path: "/x"}, http.StatusOK, fmt.Sprintf("%s /x", web.name))
	require.Eventually(t, func() bool { return len(events("InvalidAnnotationResolved")) > 0 }, 30*time.Second, 50*time.Millisecond,
		"no Normal event once fixed")
	require.Equal(t, corev1.EventTypeNormal, events("InvalidAnnotationResolved")[0].Type)
}
