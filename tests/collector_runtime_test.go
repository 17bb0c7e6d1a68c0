package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/rainflow/rainflow/collector"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/devstack/images"
)

// TestCollectorRuntime runs a Deployment on the real node whose pod prints numbered lines, and an
// in-process collector that follows it through the Kubernetes API: a rollout's new pod is picked up, and
// every line of both pods arrives exactly once, in order, also across a restart of the collector in the
// middle of the new pod's output.
func TestCollectorRuntime(t *testing.T) {
	require.True(t, stack.RealNode, "the runtime follow test needs the real node: %s", stack.RealNodeReason)
	// not testContext: on a loaded machine a pod's sandbox alone can take minutes
	ctx, cancel := context.WithTimeout(context.Background(), 16*time.Minute)
	t.Cleanup(cancel)
	kube := kubeClient(t)
	ns := uniqueName("colrt")
	_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})

	const total, restartAt = 200, 20
	// bursts of five lines every $PAUSE seconds (few forks: a loaded node runs them slowly)
	script := fmt.Sprintf(`trap 'exit 0' TERM INT
i=1
while [ $i -le %d ]; do
  for _ in 1 2 3 4 5; do echo "$VERSION line $i"; i=$((i+1)); done
  sleep $PAUSE
done
sleep 3600 & wait`, total)
	img, err := images.BusyboxImage(nil, []string{"/bin/sh", "-c", script})
	require.NoError(t, err)
	ref, err := images.Push(ctx, img, stack.RegistryAddr+"/colrt/counter:v1")
	require.NoError(t, err)
	numbered := func(version string) []string {
		out := make([]string, total)
		for i := range out {
			out[i] = fmt.Sprintf("%s line %d", version, i+1)
		}
		return out
	}

	dataDir := t.TempDir()
	key := collector.StreamKey{Kind: collector.KindRuntime, Tenant: ns, App: "counter", Name: "printer"}
	stop, base := runFollowingCollector(t, ctx, kube, ns, dataDir)

	// v1 prints its lines quickly; all of them arrive
	createCounter(t, ctx, kube, ns, ref)
	waitStream(t, ctx, base, key, "all of v1's lines", func(got []string) bool { return len(got) >= total })

	// a rollout: v2's pod replaces v1's and prints slowly; the collector restarts in the middle of it
	setCounterVersion(t, ctx, kube, ns, "v2", "0.5")
	before := waitStream(t, ctx, base, key, "v2's first lines", func(got []string) bool {
		return len(got) >= total+restartAt
	})
	stop()
	time.Sleep(2 * time.Second) // lines written while no collector runs are read on resume
	_, base = runFollowingCollector(t, ctx, kube, ns, dataDir)
	waitStream(t, ctx, base, key, "all of v2's lines", func(got []string) bool { return len(got) >= 2*total })
	require.Less(t, len(before), 2*total, "the collector restarted in the middle of v2's output")

	time.Sleep(2 * time.Second) // a duplicate committed late would show now
	lines := readStream(t, ctx, base, key)
	for _, l := range lines {
		require.Equal(t, "printer", l.Component)
		require.False(t, l.Time.IsZero())
	}
	want := append(numbered("v1"), numbered("v2")...)
	require.Equal(t, want, messagesOf(lines), "every line of both pods exactly once, in order")
	t.Logf("%d lines of v1 and v2 followed across the rollout; the collector restarted after %d of v2's", 2*total, len(before)-total)
}

// createCounter creates the printing Deployment (v1, quick) on the real node.
func createCounter(t *testing.T, ctx context.Context, kube kubernetes.Interface, ns, image string) {
	t.Helper()
	grace, automount, replicas := int64(1), false, int32(1)
	labels := map[string]string{contract.LabelTenant: ns, contract.LabelApp: "counter", contract.LabelComponent: "printer"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "counter"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeName:                      stack.NodeName,
					TerminationGracePeriodSeconds: &grace,
					AutomountServiceAccountToken:  &automount,
					Containers: []corev1.Container{{Name: "main", Image: image, Env: []corev1.EnvVar{
						{Name: "VERSION", Value: "v1"}, {Name: "PAUSE", Value: "0.1"}}}},
				},
			},
		},
	}
	// the namespace's default service account appears a moment after the namespace
	require.Eventually(t, func() bool {
		_, err := kube.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
		return err == nil || apierrors.IsAlreadyExists(err)
	}, time.Minute, 200*time.Millisecond)
}

// setCounterVersion rolls the Deployment out with another VERSION and PAUSE.
func setCounterVersion(t *testing.T, ctx context.Context, kube kubernetes.Interface, ns, version, pause string) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"main","env":[{"name":"VERSION","value":%q},{"name":"PAUSE","value":%q}]}]}}}}`, version, pause)
	_, err := kube.AppsV1().Deployments(ns).Patch(ctx, "counter", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	require.NoError(t, err)
}

// waitStream waits, generously (pods start slowly on a loaded node), until the stream's messages
// satisfy done, and returns them; on time out it says what the pods of ns were doing.
func waitStream(t *testing.T, ctx context.Context, base string, key collector.StreamKey, what string, done func([]string) bool) []string {
	t.Helper()
	var got []string
	deadline := time.Now().Add(8 * time.Minute)
	for time.Now().Before(deadline) {
		if got = messagesOf(readStream(t, ctx, base, key)); done(got) {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
	pods, _ := kubeClient(t).CoreV1().Pods(key.Tenant).List(ctx, metav1.ListOptions{})
	var states []string
	for _, p := range pods.Items {
		states = append(states, fmt.Sprintf("%s %s %+v", p.Name, p.Status.Phase, p.Status.ContainerStatuses))
	}
	events, _ := kubeClient(t).CoreV1().Events(key.Tenant).List(ctx, metav1.ListOptions{})
	for _, e := range events.Items {
		states = append(states, e.InvolvedObject.Name+" "+e.Reason+": "+e.Message)
	}
	t.Fatalf("waiting for %s: stream %s holds %d lines (last %q); pods and events:\n%s", what, key, len(got),
		got[max(0, len(got)-3):], strings.Join(states, "\n"))
	return nil
}

// runFollowingCollector runs a collector over dataDir that follows the pods of ns; stop stops it.
func runFollowingCollector(t *testing.T, ctx context.Context, kube kubernetes.Interface, ns, dataDir string) (stop func(), base string) {
	t.Helper()
	c, err := collector.New(collector.Config{Listen: "127.0.0.1:0", DataDir: dataDir, Partition: collector.Partition{
		FollowRuntime: true, FollowNamespace: ns, FollowFlush: 50 * time.Millisecond,
	}}, nil)
	require.NoError(t, err)
	c.UseKubernetes(kube)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	require.Eventually(t, func() bool { return c.Addr() != nil }, 10*time.Second, 10*time.Millisecond)
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			require.NoError(t, <-done)
		}
	}
	t.Cleanup(stop)
	return stop, "http://" + c.Addr().String()
}

// readStream reads a whole stream.
func readStream(t *testing.T, ctx context.Context, base string, key collector.StreamKey) []collector.Line {
	t.Helper()
	return readStreamWith(t, ctx, base, key, nil)
}

// readStreamWith reads a whole stream, sending header with each page's request.
func readStreamWith(t *testing.T, ctx context.Context, base string, key collector.StreamKey, header http.Header) []collector.Line {
	t.Helper()
	var all []collector.Line
	params := url.Values{"limit": {"5000"}}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/streams/"+key.String()+"/lines?"+params.Encode(), nil)
		require.NoError(t, err)
		for k, v := range header {
			req.Header[k] = v
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var p collector.Page
		err = json.NewDecoder(res.Body).Decode(&p)
		res.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode)
		all = append(all, p.Lines...)
		if !p.More {
			return all
		}
		params.Set("cursor", p.Cursor)
	}
}
