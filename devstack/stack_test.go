package devstack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/devstack/images"
)

// realStackConfig is the configuration of the real-stack tests: a state folder of their own (so they
// never touch a developer's `make run`), the repository's pinned binaries.
func realStackConfig(t *testing.T) Config {
	t.Helper()
	if os.Getenv("RAINFLOW_DEVSTACK_TEST") != "1" {
		t.Skip("set RAINFLOW_DEVSTACK_TEST=1 to start the real local stack")
	}
	state := os.Getenv("RAINFLOW_DEVSTACK_STATE")
	if state == "" {
		state = filepath.Join(os.TempDir(), "rainflow-devstack-test")
	}
	bin := os.Getenv("RAINFLOW_BIN")
	if bin == "" {
		bin, _ = filepath.Abs(filepath.Join("..", ".rainflow", "bin"))
	}
	return Config{
		StateDir: state, BinDir: bin,
		KwokStages: filepath.Join(filepath.Dir(bin), "kwok-stages.yaml"),
		RealNode:   RealNodeOn,
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
}

func TestRealStack(t *testing.T) {
	cfg := realStackConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if err := Clean(ctx, cfg); err != nil {
		t.Fatalf("clean: %v", err)
	}

	begin := time.Now()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("cold start: %v", err)
	}
	cold := time.Since(begin)
	stopped := false
	defer func() {
		if !stopped {
			_ = s.Stop(context.Background())
		}
	}()
	t.Logf("cold start: %s (real node %v %s)", cold.Round(time.Millisecond), s.RealNode, s.RealNodeReason)

	kc := clientFor(t, s.Kubeconfig)
	ref := pushHTTPD(ctx, t, s.RegistryAddr)
	begin = time.Now()
	pod := deployHTTPD(ctx, t, kc, ref)
	t.Logf("deployment with readiness probe available: %s", time.Since(begin).Round(time.Millisecond))
	checkPod(ctx, t, s, kc, pod)
	checkFakeNodes(ctx, t, s, kc)
	checkTemporal(ctx, t, s)

	begin = time.Now()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	stopped = true
	teardown := time.Since(begin)
	t.Logf("teardown: %s", teardown.Round(time.Millisecond))
	assertNothingRunning(t, s)

	begin = time.Now()
	s2, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("warm start: %v", err)
	}
	warm := time.Since(begin)
	defer func() { _ = s2.Stop(context.Background()) }()
	t.Logf("warm start: %s", warm.Round(time.Millisecond))
	// the Deployment is still in etcd: its pod runs again
	pod = waitHTTPDReady(ctx, t, kc, begin)
	t.Logf("pod of the Deployment Ready again: %s after the warm start began", time.Since(begin).Round(time.Millisecond))
	checkPod(ctx, t, s2, kc, pod)

	// a third Start while everything runs reuses every part
	begin = time.Now()
	s3, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start on running stack: %v", err)
	}
	t.Logf("start on a running stack: %s, reused %v", time.Since(begin).Round(time.Millisecond), s3.Reused)

	if err := kc.AppsV1().Deployments("default").Delete(ctx, "devstack-httpd", metav1.DeleteOptions{}); err != nil {
		t.Errorf("delete deployment: %v", err)
	}
	begin = time.Now()
	if err := s2.Stop(ctx); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	t.Logf("second teardown: %s", time.Since(begin).Round(time.Millisecond))
	t.Logf("SUMMARY cold start %s, warm start %s, teardown %s", cold.Round(time.Millisecond),
		warm.Round(time.Millisecond), teardown.Round(time.Millisecond))
}

func clientFor(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

func restConfig(t *testing.T, kubeconfig string) *rest.Config {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func pushHTTPD(ctx context.Context, t *testing.T, registry string) string {
	t.Helper()
	img, err := images.BusyboxImage(map[string][]byte{"/www/index.html": []byte("hello from devstack\n")},
		images.ExitOnTerm("/bin/httpd", "-f", "-v", "-p", "8080", "-h", "/www"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := images.Push(ctx, img, registry+"/devstack-test/httpd:v1")
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func deployHTTPD(ctx context.Context, t *testing.T, kc kubernetes.Interface, image string) *corev1.Pod {
	t.Helper()
	labels := map[string]string{"app": "devstack-httpd"}
	grace := int64(2)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "devstack-httpd"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: &grace,
					Containers: []corev1.Container{{
						Name: "httpd", Image: image,
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("http")}},
							PeriodSeconds: 1, FailureThreshold: 2,
						},
					}},
				},
			},
		},
	}
	if _, err := kc.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return waitHTTPDReady(ctx, t, kc, time.Time{})
}

// waitHTTPDReady waits for a pod of the Deployment that turned Ready at or after since (a pod status
// left in etcd by the previous run does not count).
func waitHTTPDReady(ctx context.Context, t *testing.T, kc kubernetes.Interface, since time.Time) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	err := poll(ctx, 2*time.Minute, "httpd pod ready", func(ctx context.Context) (bool, string, error) {
		pods, err := kc.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=devstack-httpd"})
		if err != nil {
			return false, err.Error(), nil
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.DeletionTimestamp != nil {
				continue
			}
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && !c.LastTransitionTime.Time.Before(since.Truncate(time.Second)) {
					pod = p
					return true, "", nil
				}
			}
			return false, fmt.Sprintf("pod %s phase %s conditions %v", p.Name, p.Status.Phase, p.Status.Conditions), nil
		}
		return false, "no pod", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pod
}

func checkPod(ctx context.Context, t *testing.T, s *Stack, kc kubernetes.Interface, pod *corev1.Pod) {
	t.Helper()
	if pod.Spec.NodeName != s.NodeName {
		t.Errorf("pod on node %q, want %q", pod.Spec.NodeName, s.NodeName)
	}
	_, subnet, _ := net.ParseCIDR(s.PodCIDR)
	if ip := net.ParseIP(pod.Status.PodIP); ip == nil || !subnet.Contains(ip) {
		t.Fatalf("pod IP %q not in %s", pod.Status.PodIP, s.PodCIDR)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Get("http://" + net.JoinHostPort(pod.Status.PodIP, "8080") + "/")
	if err != nil {
		t.Fatalf("GET pod: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello from devstack\n" {
		t.Errorf("GET pod = %s %q", resp.Status, body)
	}
	begin := time.Now()
	err = poll(ctx, 30*time.Second, "httpd logs through the API server", func(ctx context.Context) (bool, string, error) {
		raw, err := kc.CoreV1().Pods("default").GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil {
			return false, err.Error(), nil
		}
		return strings.Contains(string(raw), "response:200"), string(raw), nil
	})
	if err != nil {
		t.Error(err)
	} else {
		t.Logf("logs through the API server: ok (%s)", time.Since(begin).Round(time.Millisecond))
	}
	begin = time.Now()
	out, err := execIn(ctx, t, s.Kubeconfig, pod, "cat", "/www/index.html")
	if err != nil || out != "hello from devstack\n" {
		t.Errorf("exec through the API server = %q, %v", out, err)
	} else {
		t.Logf("exec through the API server: ok (%s)", time.Since(begin).Round(time.Millisecond))
	}
}

func execIn(ctx context.Context, t *testing.T, kubeconfig string, pod *corev1.Pod, cmd ...string) (string, error) {
	t.Helper()
	rc := restConfig(t, kubeconfig)
	kc := clientFor(t, kubeconfig)
	req := kc.CoreV1().RESTClient().Post().Resource("pods").Namespace(pod.Namespace).Name(pod.Name).
		SubResource("exec").VersionedParams(&corev1.PodExecOptions{
		Container: pod.Spec.Containers[0].Name, Command: cmd, Stdout: true, Stderr: true,
	}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(rc, "GET", req.URL().String())
	if err != nil {
		return "", err
	}
	spdy, err := remotecommand.NewSPDYExecutor(rc, "POST", req.URL())
	if err != nil {
		return "", err
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool { return true })
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return stdout.String(), fmt.Errorf("%w (stderr %q)", err, stderr.String())
	}
	return stdout.String(), nil
}

func checkFakeNodes(ctx context.Context, t *testing.T, s *Stack, kc kubernetes.Interface) {
	t.Helper()
	for _, name := range s.FakeNodes {
		n, err := kc.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("fake node %s: %v", name, err)
			continue
		}
		if len(n.Spec.Taints) == 0 || n.Spec.Taints[0].Key != FakeTaintKey {
			t.Errorf("fake node %s taints = %v", name, n.Spec.Taints)
		}
	}
}

// assertNothingRunning checks that Stop left no process of the stack and no mount under its state.
func assertNothingRunning(t *testing.T, s *Stack) {
	t.Helper()
	r := s.run
	for _, c := range []component{r.etcd(), r.apiServer(nil), r.controllerManager(), r.scheduler(), r.kwok(),
		r.kubelet(), r.containerd(r.tools), r.registry(), r.temporal()} {
		if pid, _, ok := r.sup.running(c.name, c.bin); ok {
			t.Errorf("%s still running (pid %d)", c.name, pid)
		}
	}
	if shims := shimsOf(r.containerdSock()); len(shims) > 0 {
		t.Errorf("shims left: %v", shims)
	}
	if procs := cgroupProcs(cgroupDirs("/sys/fs/cgroup")); len(procs) > 0 {
		t.Errorf("container processes left: %v", procs)
	}
	info, _ := os.ReadFile("/proc/self/mountinfo")
	if m := mountsUnder(info, s.StateDir); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
}

func checkTemporal(ctx context.Context, t *testing.T, s *Stack) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}).Get(s.TemporalUIURL)
	if err != nil {
		t.Errorf("temporal UI: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("temporal UI: %s", resp.Status)
		}
	}
	err = withTemporal(ctx, s.TemporalAddr, s.TemporalNamespace, func(ctx context.Context, c client.Client) error {
		attrs, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: s.TemporalNamespace})
		if err != nil {
			return err
		}
		if _, ok := attrs.GetCustomAttributes()[contract.SearchAttributeTenant]; !ok {
			return fmt.Errorf("search attribute %s missing: %v", contract.SearchAttributeTenant, attrs.GetCustomAttributes())
		}
		return nil
	})
	if err != nil {
		t.Errorf("temporal: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
