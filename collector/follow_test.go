package collector

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/rainflow/rainflow/contract"
)

var logBase = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// logTime is the timestamp of line i: two lines share each timestamp, and a resumed read (whole
// seconds) gets several lines again.
func logTime(i int) time.Time { return logBase.Add(time.Duration(i/2) * 300 * time.Millisecond) }

func componentPod(name, app string, restarts int32, state corev1.ContainerState) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "t1", Name: name, UID: types.UID("uid-" + name), Labels: map[string]string{
			contract.LabelTenant: "t1", contract.LabelApp: app, contract.LabelComponent: "web",
		}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "main", RestartCount: restarts, State: state}}},
	}
}

var runningState = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}

// writeLines writes lines from..to-1 of pod to its running container.
func writeLines(logs *fakeLogs, pod string, from, to int) {
	for i := from; i < to; i++ {
		logs.write("t1", pod, "main", logTime(i), fmt.Sprintf("%s %d", pod, i))
	}
}

func want(pod string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s %d", pod, i))
	}
	return out
}

func startFollowing(t *testing.T, cfg Config, kube kubernetes.Interface, logs *fakeLogs, setup ...func(*Collector)) *testCollector {
	t.Helper()
	cfg.FollowRuntime = true
	cfg.FollowFlush = 5 * time.Millisecond
	return startCollector(t, cfg, append(setup, func(c *Collector) {
		c.UseKubernetes(kube)
		c.openLog = logs.open
	})...)
}

func webStream(app string) StreamKey {
	return StreamKey{Kind: KindRuntime, Tenant: "t1", App: app, Name: "web"}
}

// waitMessages waits until read returns at least n lines, then requires exactly want.
func waitMessages(t *testing.T, read func() []string, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		if got = read(); len(got) >= len(want) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // a duplicate would show up now
	require.Equal(t, want, read())
}

func TestFollowResumesWithoutLossOrDuplicates(t *testing.T) {
	t.Parallel()
	kube := fake.NewClientset(componentPod("web-a", "shop", 0, runningState))
	logs := newFakeLogs()
	writeLines(logs, "web-a", 0, 50)
	cfg := Config{DataDir: t.TempDir()}
	c := startFollowing(t, cfg, kube, logs)
	read := func() []string { return messages(c.readAll(t, webStream("shop"))) }
	waitMessages(t, read, want("web-a", 0, 50))
	writeLines(logs, "web-a", 50, 71)
	waitMessages(t, read, want("web-a", 0, 71))

	got := c.readAll(t, webStream("shop"))
	require.Equal(t, logTime(70), got[70].Time.UTC(), "a line keeps the container's timestamp")
	require.Equal(t, Line{Time: got[0].Time, Tenant: "t1", App: "shop", Component: "web", Level: LevelInfo, Message: "web-a 0", Kind: KindRuntime}, got[0])

	c.stop()
	writeLines(logs, "web-a", 71, 100) // line 71 shares its timestamp with the last line committed
	c = startFollowing(t, cfg, kube, logs)
	waitMessages(t, read, want("web-a", 0, 100))
	opens := slices.Clone(logs.opens)
	last := opens[len(opens)-1]
	require.True(t, last.Follow)
	require.True(t, last.Timestamps)
	require.NotNil(t, last.SinceTime, "a restarted collector resumes from its position")
}

func TestFollowReadsPreviousInstanceOnRestart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	kube := fake.NewClientset(componentPod("web-a", "shop", 0, runningState))
	logs := newFakeLogs()
	writeLines(logs, "web-a", 0, 10)
	cfg := Config{DataDir: t.TempDir()}
	c := startFollowing(t, cfg, kube, logs)
	read := func() []string { return messages(c.readAll(t, webStream("shop"))) }
	waitMessages(t, read, want("web-a", 0, 10))

	// the container restarts while the collector is down: its last lines are only in the previous log
	c.stop()
	writeLines(logs, "web-a", 10, 15)
	logs.restart("t1", "web-a", "main")
	writeLines(logs, "web-a", 15, 20)
	_, err := kube.CoreV1().Pods("t1").UpdateStatus(ctx, componentPod("web-a", "shop", 1, runningState), metav1.UpdateOptions{})
	require.NoError(t, err)
	c = startFollowing(t, cfg, kube, logs)
	waitSorted(t, read, want("web-a", 0, 20))

	// and while it runs
	writeLines(logs, "web-a", 20, 25)
	logs.restart("t1", "web-a", "main")
	_, err = kube.CoreV1().Pods("t1").UpdateStatus(ctx, componentPod("web-a", "shop", 2, runningState), metav1.UpdateOptions{})
	require.NoError(t, err)
	writeLines(logs, "web-a", 25, 30)
	waitSorted(t, read, want("web-a", 0, 30))
	require.True(t, slices.ContainsFunc(logs.opens, func(o corev1.PodLogOptions) bool { return o.Previous }), "the previous log was read")
}

// waitSorted is waitMessages for lines of several container instances, whose order between instances
// is not defined.
func waitSorted(t *testing.T, read func() []string, want []string) {
	t.Helper()
	waitMessages(t, func() []string {
		got := read()
		slices.SortFunc(got, compareNumbered)
		return got
	}, want)
}

// compareNumbered orders "pod n" messages by pod, then by n.
func compareNumbered(a, b string) int {
	var pa, pb string
	var na, nb int
	_, _ = fmt.Sscanf(a, "%s %d", &pa, &na)
	_, _ = fmt.Sscanf(b, "%s %d", &pb, &nb)
	if pa != pb {
		if pa < pb {
			return -1
		}
		return 1
	}
	return na - nb
}

func TestFollowRolloutPods(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	unlabelled := componentPod("other", "shop", 0, runningState)
	delete(unlabelled.Labels, contract.LabelApp)
	kube := fake.NewClientset(componentPod("web-a", "shop", 0, runningState), unlabelled)
	logs := newFakeLogs()
	writeLines(logs, "web-a", 0, 10)
	writeLines(logs, "other", 0, 10)
	c := startFollowing(t, Config{DataDir: t.TempDir()}, kube, logs)
	read := func() []string { return messages(c.readAll(t, webStream("shop"))) }
	waitMessages(t, read, want("web-a", 0, 10))

	// a new pod of the rollout starts, the old one writes its last lines and terminates
	_, err := kube.CoreV1().Pods("t1").Create(ctx, componentPod("web-b", "shop", 0, runningState), metav1.CreateOptions{})
	require.NoError(t, err)
	writeLines(logs, "web-b", 0, 10)
	writeLines(logs, "web-a", 10, 12)
	logs.restart("t1", "web-a", "main") // ends instance 0; the pod's status says terminated
	_, err = kube.CoreV1().Pods("t1").UpdateStatus(ctx,
		componentPod("web-a", "shop", 0, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}), metav1.UpdateOptions{})
	require.NoError(t, err)
	waitSorted(t, read, append(want("web-a", 0, 12), want("web-b", 0, 10)...))

	require.Eventually(t, func() bool {
		f := c.follower.Load()
		pos, ok := f.pos.get(containerID("uid-web-a", "main", 0))
		return ok && pos.Done
	}, 5*time.Second, 10*time.Millisecond, "a terminated instance read to its end is done")
}

func TestFollowHandsOverMovedApps(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	tc := startClusterFollowing(t)
	two := tc.members
	// three apps of each member
	var apps []string
	perOwner := map[int]int{}
	for a := 0; len(apps) < 6; a++ {
		app := fmt.Sprintf("app-%d", a)
		if o := tc.owner("t1", app); perOwner[o] < 3 {
			perOwner[o]++
			apps = append(apps, app)
		}
	}
	for _, app := range apps {
		_, err := tc.kube.CoreV1().Pods("t1").Create(ctx, componentPod("pod-"+app, app, 0, runningState), metav1.CreateOptions{})
		require.NoError(t, err)
		writeLines(tc.logs, "pod-"+app, 0, 10)
	}
	union := func(app string) func() []string {
		return func() []string {
			var all []string
			for _, n := range tc.nodes {
				all = append(all, messages(readLocal(t, n.base, webStream(app)))...)
			}
			slices.SortFunc(all, compareNumbered)
			return all
		}
	}
	for _, app := range apps {
		waitMessages(t, func() []string { return messages(readLocal(t, tc.nodes[tc.owner("t1", app)].base, webStream(app))) },
			want("pod-"+app, 0, 10))
	}

	// c-1 leaves: c-0 learns it first and waits for c-1, which still follows its apps, to hand them over
	tc.nodes[0].members.set(two[:1])
	for _, app := range apps {
		writeLines(tc.logs, "pod-"+app, 10, 15)
	}
	time.Sleep(300 * time.Millisecond)
	tc.nodes[1].members.set(two[:1])
	for _, app := range apps {
		writeLines(tc.logs, "pod-"+app, 15, 20)
	}
	for _, app := range apps {
		waitMessages(t, union(app), want("pod-"+app, 0, 20))
	}
	// c-1 may have read lines 15-19 itself before it let go: once c-0 owns every app (the handover is
	// done), a line written now is c-0's to read
	require.Eventually(t, func() bool { return ownsAll(tc.nodes[0].Collector, "t1", apps) }, 10*time.Second, 10*time.Millisecond,
		"c-0 owns every app after the handover")
	for _, app := range apps {
		writeLines(tc.logs, "pod-"+app, 20, 21)
	}
	for _, app := range apps {
		waitMessages(t, union(app), want("pod-"+app, 0, 21))
		require.Contains(t, messages(readLocal(t, tc.nodes[0].base, webStream(app))), "pod-"+app+" 20", "c-0 follows every app now")
	}
	// c-1 comes back: its apps move back to it, handed over by c-0
	tc.nodes[0].members.set(two)
	tc.nodes[1].members.set(two)
	for _, app := range apps {
		writeLines(tc.logs, "pod-"+app, 21, 30)
	}
	for _, app := range apps {
		waitMessages(t, union(app), want("pod-"+app, 0, 30))
	}
}

// ownsAll tells whether c's runtime follower owns every app of the tenant (its handover done).
func ownsAll(c *Collector, tenant string, apps []string) bool {
	f := c.follower.Load()
	if f == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, app := range apps {
		if !f.owned[appKey{tenant, app}] {
			return false
		}
	}
	return true
}

// clusterFollowing is two collectors sharing apps and following one fake cluster.
type clusterFollowing struct {
	*testCluster
	kube *fake.Clientset
	logs *fakeLogs
}

func startClusterFollowing(t *testing.T) *clusterFollowing {
	t.Helper()
	kube, logs := fake.NewClientset(), newFakeLogs()
	cf := &clusterFollowing{kube: kube, logs: logs, testCluster: &testCluster{}}
	var specs []string
	for i := range 2 {
		m := Member{Name: fmt.Sprintf("c-%d", i), URL: "http://" + freePort(t)}
		cf.members = append(cf.members, m)
		specs = append(specs, m.Name+"="+m.URL)
	}
	for _, m := range cf.members {
		cfg := Config{DataDir: t.TempDir(), Partition: Partition{Self: m.Name, Members: specs, HandoverTimeout: 5 * time.Second}}
		cf.nodes = append(cf.nodes, startFollowing(t, cfg, kube, logs, func(c *Collector) { c.cfg.Listen = m.URL[len("http://"):] }))
	}
	return cf
}
