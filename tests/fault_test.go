package tests

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rainflow/rainflow/devstack/images"
	temporalconfig "github.com/rainflow/rainflow/temporal-config"
)

// faultNamespace is the fault test's Temporal namespace: the stack's own worker polls the default one,
// and must not pick up the operations whose worker the test kills.
const faultNamespace = "rainflow-fault-test"

// TestWorkerKilled runs `rainflow api` and `rainflow worker` as processes of the built binary, on a
// Temporal namespace, a database and a Kubernetes namespace of their own, and kills the worker with
// SIGKILL while five deploys run: once early (while they resolve and apply) and once while they wait for
// their rollouts. A new worker is started each time; every operation must succeed, and each component
// must have exactly one Deployment, one Service and one ReplicaSet, with every replica ready. Last, a
// worker stopped with SIGTERM in the middle of rollouts exits 0 and a new one finishes them.
func TestWorkerKilled(t *testing.T) {
	require.True(t, stack.RealNode, "the fault test needs the real node: %s", stack.RealNodeReason)
	ctx, cancel := context.WithTimeout(context.Background(), faultBudget(t))
	defer cancel()
	dir := t.TempDir() // the database
	logs := filepath.Join(stateDir, "fault-logs", time.Now().UTC().Format("20060102T150405"))
	require.NoError(t, os.MkdirAll(logs, 0o755))
	t.Logf("process logs in %s", logs)
	t.Cleanup(func() { // kept when the test fails
		if !t.Failed() {
			_ = os.RemoveAll(logs)
			_ = os.Remove(filepath.Dir(logs)) // when empty
		}
	})

	tc, err := client.DialContext(ctx, client.Options{HostPort: stack.TemporalAddr, Namespace: faultNamespace})
	require.NoError(t, err)
	defer tc.Close()
	require.NoError(t, temporalconfig.Setup(ctx, tc, faultNamespace))

	common := []string{"--temporal-address", stack.TemporalAddr, "--temporal-namespace", faultNamespace,
		"--db-driver", "sqlite", "--db-dsn", filepath.Join(dir, "rainflow.db")}
	const token = "fault-test-token-0123456789"
	apiAddr := freeAddr(t)
	startFaultProc(t, logs, "api", append([]string{"api", "--listen", apiAddr, "--admin-token", token}, common...)...).
		waitHTTP(t, ctx, "http://"+apiAddr+"/readyz")
	f := &faultRun{t: t, ctx: ctx, logs: logs, tc: tc, kube: kubeClient(t), api: newAPIClient("http://"+apiAddr, token),
		workerArgs: append([]string{"worker", "--kubeconfig", stack.Kubeconfig}, common...), tenant: uniqueName("fault")}

	image := stack.RegistryAddr + "/fault/web:" + f.tenant
	f.pushImage(image)
	f.api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": f.tenant}, nil)
	t.Cleanup(f.deleteNamespace)
	f.api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+f.tenant+"/apps", map[string]any{"name": "shop"}, nil)
	workers := []*faultProc{f.startWorker(true)}
	anyStarted := func(ops []faultOperation) bool {
		for _, op := range ops {
			if s := op.step(faultStepApply); s == "running" || s == "succeeded" {
				return true
			}
		}
		return false
	}
	allWaiting := func(ops []faultOperation) bool {
		for _, op := range ops {
			if op.step(faultStepWait) != "running" {
				return false
			}
		}
		return true
	}
	kill := func(p *faultProc) { p.kill(t) }

	// early: the worker dies while the deploys resolve their images and apply their objects
	workers = f.round("early", image, 5, workers, anyStarted, kill, 1)
	// waiting: the worker dies while every deploy waits for its rollout; two replicas take over
	workers = f.round("wait", image, 20, workers, allWaiting, kill, 2)
	f.requireSDKMetrics(workers)
	// SIGTERM to both replicas while every deploy waits for its rollout: each stops polling and exits 0
	f.round("sigterm", image, 20, workers, allWaiting, func(p *faultProc) {
		t0 := time.Now()
		code := p.terminate(t, time.Minute)
		t.Logf("sigterm: %s exited %d after %s", p.name, code, time.Since(t0).Round(time.Millisecond))
		require.Equal(t, 0, code, "a worker stopped with SIGTERM exits 0; log: %s", p.logPath)
	}, 1)
}

// Step names of the deploy, as the API reports them.
const (
	faultStepApply = "apply"
	faultStepWait  = "wait for rollout"
)

// faultRun is the fault test's processes and clients.
type faultRun struct {
	t          *testing.T
	ctx        context.Context
	logs       string // the processes' log files
	tc         client.Client
	kube       kubernetes.Interface
	api        *apiClient
	workerArgs []string
	tenant     string
	workers    int // started so far
}

// faultOperation is the part of the API's operation view the test reads.
type faultOperation struct {
	ID         string `json:"id"`
	State      string `json:"state"`
	WorkflowID string `json:"workflowId"`
	RunID      string `json:"runId"`
	Error      string `json:"error"`
	Steps      []struct {
		Name  string `json:"name"`
		State string `json:"state"`
		Error string `json:"error"`
	} `json:"steps"`
}

func (op faultOperation) step(name string) string {
	for _, s := range op.Steps {
		if s.Name == name {
			return s.State
		}
	}
	return ""
}

// done tells whether the operation ended; it may be queued, starting or running before.
func (op faultOperation) done() bool {
	switch op.State {
	case "succeeded", "failed", "canceled", "terminated", "timed-out":
		return true
	}
	return false
}

func (op faultOperation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", op.State)
	for _, s := range op.Steps {
		fmt.Fprintf(&b, " [%s: %s]", s.Name, s.State)
	}
	if op.Error != "" {
		fmt.Fprintf(&b, " error: %s", op.Error)
	}
	return b.String()
}

// round creates five components of image, each ready readyAfter seconds after its start, deploys them,
// applies stop to every running worker once the operations are as ready says, starts replacements new
// workers (the last one with an admin address), and checks that every operation succeeds and leaves one
// Deployment, Service and ReplicaSet per component. It answers the new workers.
func (f *faultRun) round(name, image string, readyAfter int, running []*faultProc, ready func([]faultOperation) bool,
	stop func(*faultProc), replacements int) []*faultProc {
	t := f.t
	t.Helper()
	comps := make([]string, 5)
	for i := range comps {
		comps[i] = fmt.Sprintf("%s-%d", name, i)
		spec := map[string]any{
			"image":    image,
			"replicas": 1 + i%2,
			"ports":    []map[string]any{{"name": "http", "port": 8080, "protocol": "TCP"}},
			"env":      []map[string]any{{"name": "READY_AFTER", "value": fmt.Sprint(readyAfter)}},
			"readiness": map[string]any{"httpPath": "/ready.html", "port": 8080, "periodSeconds": 1,
				"failureThreshold": 1},
			"stopGraceSeconds": 2,
		}
		f.api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+f.tenant+"/apps/shop/components",
			map[string]any{"name": comps[i], "spec": spec}, nil)
	}

	t0 := time.Now()
	ids := make([]string, len(comps))
	for i, c := range comps {
		ids[i] = f.deploy(c)
		if i == 0 {
			t.Logf("%s: first deploy accepted after %s", name, time.Since(t0).Round(time.Millisecond))
		}
	}
	var ops []faultOperation
	require.Eventually(t, func() bool {
		ops = f.operations(ids)
		return ready(ops)
	}, 2*time.Minute, 20*time.Millisecond, "%s: the operations never reached the moment to stop the worker", name)
	before := f.pendingActivities(ops, true)
	stopped := time.Now()
	for _, w := range running {
		stop(w)
	}
	t.Logf("%s: workers stopped %s after the first deploy request; operations then:", name, stopped.Sub(t0).Round(time.Millisecond))
	for i, op := range ops {
		t.Logf("  %s: %s", comps[i], op)
	}

	var started []*faultProc
	for i := range replacements {
		started = append(started, f.startWorker(i == replacements-1))
	}
	noticed := f.watchNoticed(ops, before, stopped)
	for i, id := range ids {
		op := f.waitDone(id, 3*time.Minute)
		if op.State != "succeeded" {
			f.dumpComponent(comps[i])
		}
		require.Equal(t, "succeeded", op.State, "%s: %s: %s", name, comps[i], op)
	}
	recovered := time.Since(stopped)
	t.Logf("%s: every deploy succeeded %s after the workers were stopped; Temporal gave up on the dead worker's activities after %s",
		name, recovered.Round(time.Millisecond), <-noticed)
	for i, c := range comps {
		f.requireSingleObjects(c, int32(1+i%2))
	}
	return started
}

// deploy asks for a deploy of the component and answers the operation's id.
func (f *faultRun) deploy(component string) string {
	t := f.t
	t.Helper()
	path := "/v1/tenants/" + f.tenant + "/apps/shop/components/" + component + "/deploys"
	var acc struct {
		OperationID string `json:"operationId"`
	}
	// a namespace registered a moment ago may take a few seconds to be served
	require.Eventually(t, func() bool {
		r := f.api.do(t, "POST", path, nil)
		if r.Status == http.StatusServiceUnavailable {
			return false
		}
		require.Equal(t, http.StatusAccepted, r.Status, "POST %s: %s", path, r.Body)
		require.NotEmpty(t, r.Header.Get("Location"))
		require.NoError(t, jsonUnmarshal(r.Body, &acc))
		return true
	}, 30*time.Second, 500*time.Millisecond)
	require.NotEmpty(t, acc.OperationID)
	return acc.OperationID
}

func (f *faultRun) operation(id string) faultOperation {
	var op faultOperation
	f.api.must(f.t, http.StatusOK, "GET", "/v1/tenants/"+f.tenant+"/operations/"+id, nil, &op)
	return op
}

func (f *faultRun) operations(ids []string) []faultOperation {
	ops := make([]faultOperation, len(ids))
	for i, id := range ids {
		ops[i] = f.operation(id)
	}
	return ops
}

// waitDone waits until the operation ends, or timeout: it answers the operation as last seen.
func (f *faultRun) waitDone(id string, timeout time.Duration) faultOperation {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		op := f.operation(id)
		if op.done() || time.Now().After(deadline) {
			return op
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// dumpComponent logs the component's pods and the namespace's events about them, to see why it is
// not ready.
func (f *faultRun) dumpComponent(component string) {
	t := f.t
	sel := metav1.ListOptions{LabelSelector: "rainflow.io/app=shop,rainflow.io/component=" + component}
	if deps, err := f.kube.AppsV1().Deployments(f.tenant).List(f.ctx, sel); err == nil {
		for _, d := range deps.Items {
			t.Logf("deployment %s: generation %d, status %+v", d.Name, d.Generation, d.Status)
		}
	}
	if rss, err := f.kube.AppsV1().ReplicaSets(f.tenant).List(f.ctx, sel); err == nil {
		for _, rs := range rss.Items {
			t.Logf("replicaset %s: status %+v", rs.Name, rs.Status)
		}
	}
	pods, err := f.kube.CoreV1().Pods(f.tenant).List(f.ctx, sel)
	if err != nil {
		t.Logf("list pods of %s: %v", component, err)
		return
	}
	names := map[string]bool{}
	for _, p := range pods.Items {
		names[p.Name] = true
		t.Logf("pod %s: phase %s, node %q, conditions %+v, containers %+v", p.Name, p.Status.Phase, p.Spec.NodeName, p.Status.Conditions, p.Status.ContainerStatuses)
	}
	events, err := f.kube.CoreV1().Events(f.tenant).List(f.ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, e := range events.Items {
		if names[e.InvolvedObject.Name] || strings.Contains(e.InvolvedObject.Name, "shop-"+component) {
			t.Logf("event %s %s/%s: %s %s (x%d, last %s)", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message, e.Count, e.LastTimestamp)
		}
	}
}

// pendingActivities answers, per operation, the attempt of each pending activity (only those a worker
// runs when started).
func (f *faultRun) pendingActivities(ops []faultOperation, started bool) []map[string]int32 {
	pending := make([]map[string]int32, len(ops))
	for i, op := range ops {
		pending[i] = map[string]int32{}
		if op.WorkflowID == "" {
			continue
		}
		d, err := f.tc.DescribeWorkflowExecution(f.ctx, op.WorkflowID, op.RunID)
		if err != nil {
			continue
		}
		for _, a := range d.GetPendingActivities() {
			if !started || a.GetState() == enums.PENDING_ACTIVITY_STATE_STARTED {
				pending[i][a.GetActivityId()] = a.GetAttempt()
			}
		}
	}
	return pending
}

// watchNoticed measures how long after stopped Temporal gave up on the activities the stopped workers
// ran (before): until each is retried or done. It answers the longest, once all are known.
func (f *faultRun) watchNoticed(ops []faultOperation, before []map[string]int32, stopped time.Time) <-chan string {
	out := make(chan string, 1)
	go func() {
		var longest time.Duration
		left := 0
		for _, b := range before {
			left += len(b)
		}
		if left == 0 {
			out <- "(no activity was running on the stopped workers)"
			return
		}
		for deadline := time.Now().Add(2 * time.Minute); left > 0 && time.Now().Before(deadline) && f.ctx.Err() == nil; {
			for i, pending := range f.pendingActivities(ops, false) {
				for id, attempt := range before[i] {
					if now, ok := pending[id]; !ok || now > attempt {
						delete(before[i], id)
						left--
						longest = max(longest, time.Since(stopped))
					}
				}
			}
			time.Sleep(250 * time.Millisecond)
		}
		if left > 0 {
			out <- fmt.Sprintf("more than %s (%d activities not seen given up)", time.Since(stopped).Round(time.Second), left)
			return
		}
		out <- longest.Round(250 * time.Millisecond).String()
	}()
	return out
}

// requireSingleObjects checks that the component has exactly one Deployment, one Service and one
// ReplicaSet, at most one ConfigMap, and replicas ready pods.
func (f *faultRun) requireSingleObjects(component string, replicas int32) {
	t := f.t
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: "rainflow.io/app=shop,rainflow.io/component=" + component}
	deps, err := f.kube.AppsV1().Deployments(f.tenant).List(f.ctx, sel)
	require.NoError(t, err)
	require.Len(t, deps.Items, 1, "Deployments of %s", component)
	svcs, err := f.kube.CoreV1().Services(f.tenant).List(f.ctx, sel)
	require.NoError(t, err)
	require.Len(t, svcs.Items, 1, "Services of %s", component)
	rss, err := f.kube.AppsV1().ReplicaSets(f.tenant).List(f.ctx, sel)
	require.NoError(t, err)
	require.Len(t, rss.Items, 1, "ReplicaSets of %s", component)
	cms, err := f.kube.CoreV1().ConfigMaps(f.tenant).List(f.ctx, sel)
	require.NoError(t, err)
	require.LessOrEqual(t, len(cms.Items), 1, "ConfigMaps of %s", component)

	dep := deps.Items[0]
	require.Equal(t, replicas, *dep.Spec.Replicas, component)
	require.Equal(t, replicas, dep.Status.ReadyReplicas, "%s: ready replicas", component)
	require.Equal(t, replicas, dep.Status.UpdatedReplicas, "%s: updated replicas", component)
	require.Equal(t, replicas, rss.Items[0].Status.ReadyReplicas, "%s: ready replicas of its ReplicaSet", component)
	pods, err := f.kube.CoreV1().Pods(f.tenant).List(f.ctx, sel)
	require.NoError(t, err)
	live := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			live++
			require.True(t, podReady(&p), "%s: pod %s not ready", component, p.Name)
		}
	}
	require.EqualValues(t, replicas, live, "%s: pods", component)
}

// requireSDKMetrics checks that the /metrics of the worker with an admin address carries the Temporal
// SDK's metrics.
func (f *faultRun) requireSDKMetrics(workers []*faultProc) {
	t := f.t
	t.Helper()
	w := workers[len(workers)-1]
	require.NotEmpty(t, w.admin, "the worker serves no /metrics")
	resp, err := http.Get("http://" + w.admin + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, name := range []string{"temporal_worker_start_total", "temporal_long_request_total", "temporal_request_latency_seconds_bucket", "go_goroutines"} {
		require.Contains(t, string(body), name, "the worker's /metrics")
	}
	require.Contains(t, string(body), `namespace="`+faultNamespace+`"`)
}

// startWorker starts a worker process; withAdmin gives it an admin address, as the first replica on a
// machine has; the others run with none.
func (f *faultRun) startWorker(withAdmin bool) *faultProc {
	f.workers++
	name := fmt.Sprintf("worker-%d", f.workers)
	admin := ""
	if withAdmin {
		admin = freeAddr(f.t)
	}
	w := startFaultProc(f.t, f.logs, name, append(f.workerArgs, "--admin-listen", admin)...)
	w.admin = admin
	if withAdmin {
		w.waitHTTP(f.t, f.ctx, "http://"+admin+"/healthz")
	}
	return w
}

// pushImage pushes a busybox httpd serving on :8080 that becomes ready (serves /ready.html) $READY_AFTER
// seconds after it starts.
func (f *faultRun) pushImage(ref string) {
	t := f.t
	t.Helper()
	img, err := images.BusyboxImage(map[string][]byte{"www/index.html": []byte("fault\n")}, []string{"/bin/sh", "-c",
		`trap 'exit 0' TERM INT; (sleep "${READY_AFTER:-0}"; cp /www/index.html /www/ready.html) & /bin/httpd -f -p 8080 -h /www & wait`})
	require.NoError(t, err)
	_, err = images.Push(f.ctx, img, ref)
	require.NoError(t, err)
}

// deleteNamespace deletes the tenant's Kubernetes namespace and waits (a while) until it is gone.
func (f *faultRun) deleteNamespace() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := f.kube.CoreV1().Namespaces().Delete(ctx, f.tenant, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return
	}
	if err != nil {
		f.t.Errorf("delete namespace %s: %v", f.tenant, err)
		return
	}
	for ctx.Err() == nil {
		if _, err := f.kube.CoreV1().Namespaces().Get(ctx, f.tenant, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	f.t.Logf("namespace %s still terminating after 2 minutes", f.tenant)
}

// faultProc is a process of the built binary that the test started, logging to a file.
type faultProc struct {
	name    string
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
	admin   string // the worker's admin address, if any
}

// startFaultProc starts the binary with args; the test's cleanup kills it if it still runs.
func startFaultProc(t *testing.T, dir, name string, args ...string) *faultProc {
	t.Helper()
	p := &faultProc{name: name, exited: make(chan struct{}), logPath: filepath.Join(dir, name+".log")}
	logf, err := os.Create(p.logPath)
	require.NoError(t, err)
	p.cmd = exec.Command(devBin, args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.Env = append(os.Environ(), "RAINFLOW_LOG_LEVEL=info")
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, p.cmd.Start(), "start %s", name)
	go func() {
		_ = p.cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
			return
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.exited
		}
		if t.Failed() {
			t.Logf("last lines of %s:\n%s", p.logPath, tail(p.logPath, 20))
		}
	})
	return p
}

// waitHTTP waits until url answers 200, failing if the process exits first.
func (p *faultProc) waitHTTP(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	httpc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(time.Minute)
	for {
		if resp, err := httpc.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.exited:
			require.Failf(t, "process exited", "%s exited before %s answered; log:\n%s", p.name, url, tail(p.logPath, 30))
		case <-ctx.Done():
			require.Failf(t, "timeout", "%s: %s", p.name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "%s: %s did not answer 200 within a minute; log:\n%s", p.name, url, tail(p.logPath, 30))
	}
}

// kill kills the process with SIGKILL and waits for it.
func (p *faultProc) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.exited
}

// terminate sends SIGTERM and answers the exit code, failing if the process outlives timeout.
func (p *faultProc) terminate(t *testing.T, timeout time.Duration) int {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.exited:
	case <-time.After(timeout):
		require.Failf(t, "no exit", "%s still runs %s after SIGTERM", p.name, timeout)
	}
	return p.cmd.ProcessState.ExitCode() // -1 when a signal ended it
}

// freeAddr answers a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// faultBudget is the test's time: until shortly before its deadline, or 12 minutes.
func faultBudget(t *testing.T) time.Duration {
	if dl, ok := t.Deadline(); ok {
		return min(12*time.Minute, time.Until(dl)-10*time.Second)
	}
	return 12 * time.Minute
}
