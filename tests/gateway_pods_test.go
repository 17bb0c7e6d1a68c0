package tests

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestGatewayPods routes through the in-process gateway to real pods on the local node: a busybox httpd
// Deployment and its Service, whose EndpointSlices Kubernetes makes.
func TestGatewayPods(t *testing.T) {
	require.True(t, stack.RealNode, "needs the real node: %s", stack.RealNodeReason)
	e := newGatewayEnv(t, "gwpods")
	body := "pods " + e.ns + "\n"
	image := pushHTTPD(t, e.ctx, "gwpods/web", "v1", body)

	replicas, grace := int32(2), int64(1)
	labels := map[string]string{"app": "web"}
	_, err := e.kube.AppsV1().Deployments(e.ns).Create(e.ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: &grace,
					Containers: []corev1.Container{{
						Name: "web", Image: image,
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						ReadinessProbe: &corev1.Probe{PeriodSeconds: 1, ProbeHandler: corev1.ProbeHandler{
							HTTPGet: &corev1.HTTPGetAction{Path: "/index.html", Port: intstr.FromInt32(8080)}}},
					}},
				},
			},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = e.kube.CoreV1().Services(e.ns).Create(e.ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{
			{Name: "main", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	e.createIngress(e.ingress("web", nil, gwRule{host: "pods.test", service: "web"}))
	g := e.startGateway()

	var endpoints []string
	require.Eventually(t, func() bool {
		r, _ := g.Routes()
		if len(r.HTTP) != 1 {
			return false
		}
		endpoints = r.HTTP[0].Backend.Endpoints
		return len(endpoints) == 2
	}, 4*time.Minute, 200*time.Millisecond, "both pods become ready endpoints; last: %v", endpoints)
	t.Logf("pod endpoints from the Service's EndpointSlices: %v", endpoints)

	c := &http.Client{Timeout: 5 * time.Second}
	req := gwRequest{host: "pods.test", path: "/index.html"}
	waitAnswer(t, g, req, 200, body)
	var slowest time.Duration
	for i := range 40 {
		start := time.Now()
		code, got, err := req.do(c, g)
		took := time.Since(start)
		slowest = max(slowest, took)
		require.NoError(t, err, "request %d, after %s", i, took)
		require.Equal(t, 200, code, "request %d: %q", i, got)
		require.Equal(t, body, got)
	}
	t.Logf("40 sequential GETs through the gateway to the pods: slowest %s", slowest)
	for _, ep := range endpoints {
		u := g.Pool().Upstream(ep)
		require.NotNil(t, u, "pod %s is in the pool", ep)
		require.Positive(t, u.Requests(), "pod %s got no requests", ep)
	}
}
