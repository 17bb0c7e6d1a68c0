package tests

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/devstack"
	"github.com/rainflow/rainflow/store"
	temporalconfig "github.com/rainflow/rainflow/temporal-config"
	"github.com/rainflow/rainflow/workers"
	"github.com/rainflow/rainflow/workflows"
)

// The benchmarks' Temporal namespace, and the names of the bare workflow they compare the deploy with.
const (
	benchNamespace   = "rainflow-bench"
	bareWorkflowName = "BenchBareThreeActivities"
	bareActivityName = "BenchBareActivity"
)

// benchEnv is what a deploy benchmark drives on one stack: a Temporal namespace of its own served by a
// worker in this process (the real workflows and activities, as `rainflow worker` registers them, plus
// the bare workflow), a SQLite store of its own for the components and releases, and the stack's
// Kubernetes API.
type benchEnv struct {
	info devstack.Info
	tc   client.Client
	kube kubernetes.Interface
	st   *store.Store
	seq  atomic.Int64 // numbers operations, for unique operation and workflow ids
	// caches are the KubeCaches of the workers that have one, by task queue.
	caches map[string]*activities.KubeCache
}

// The bench worker serves the deploys on three task queues, each with its own Kube activities, so that
// the Kubernetes side of a deploy can be compared before and after the cache in one run:
// contract.TaskQueueOperations as `rainflow worker` runs them (a KubeCache that keeps the release labels
// of unchanged objects), benchQueueNoCache without a cache (every read and apply goes to the API), and
// benchQueueStrictLabels with a cache that rewrites the release label of every object a deploy applies.
const (
	benchQueueNoCache      = "bench-operations-no-cache"
	benchQueueStrictLabels = "bench-operations-strict-labels"
)

// benchComponent is a component the store holds, ready to be deployed.
type benchComponent struct {
	ref contract.ComponentRef
	id  string
}

// newBenchEnv sets up the namespace, store and worker on the stack described by info; b's cleanup stops
// them.
func newBenchEnv(b *testing.B, ctx context.Context, info devstack.Info) *benchEnv {
	b.Helper()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tc, err := client.DialContext(ctx, client.Options{
		HostPort: info.TemporalAddr, Namespace: benchNamespace, Logger: sdklog.NewStructuredLogger(logger),
	})
	require.NoError(b, err)
	b.Cleanup(tc.Close)
	require.NoError(b, temporalconfig.Setup(ctx, tc, benchNamespace))

	// the client `rainflow worker` builds (cmd/rainflow/clients.go): 500 QPS, bursts of 1000
	cfg, err := clientcmd.BuildConfigFromFlags("", info.Kubeconfig)
	require.NoError(b, err)
	cfg.UserAgent, cfg.QPS, cfg.Burst = "rainflow-bench-worker", 500, 1000
	kube, err := kubernetes.NewForConfig(cfg)
	require.NoError(b, err)

	st, err := store.Open(ctx, store.Config{Driver: store.DriverSQLite, DSN: filepath.Join(b.TempDir(), "rainflow.db")})
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Close() })

	env := &benchEnv{info: info, tc: tc, kube: kube, st: st, caches: map[string]*activities.KubeCache{}}
	cacheCtx, stopCaches := context.WithCancel(ctx)
	b.Cleanup(stopCaches)
	for _, queue := range []string{contract.TaskQueueOperations, benchQueueNoCache, benchQueueStrictLabels} {
		k := &activities.Kube{Client: kube}
		if queue != benchQueueNoCache {
			k.Cache = activities.NewKubeCache(kube, activities.KubeCacheConfig{KeepReleaseLabels: queue == contract.TaskQueueOperations}, logger)
			require.True(b, k.Cache.Start(cacheCtx), "kube cache of %s not synced", queue)
			env.caches[queue] = k.Cache
		}
		w := workers.NewOperationsOn(tc, queue, workers.Activities{
			Kube:     k,
			Registry: &activities.Registry{},
			Store:    &activities.Store{Releases: st},
		}, workers.Options{PreferredVersion: beforeLocalSteps})
		if queue == contract.TaskQueueOperations {
			w.RegisterWorkflowWithOptions(bareThreeActivities, workflow.RegisterOptions{Name: bareWorkflowName})
			w.RegisterActivityWithOptions(bareActivity, activity.RegisterOptions{Name: bareActivityName})
		}
		require.NoError(b, w.Start())
		b.Cleanup(w.Stop)
	}

	env.waitServed(b, ctx)
	return env
}

// bareThreeActivities is the baseline a deploy's orchestration is compared with: three trivial
// activities in a row, on the same worker, task queue and dev server.
func bareThreeActivities(ctx workflow.Context, in string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	for range 3 {
		if err := workflow.ExecuteActivity(ctx, bareActivityName, in).Get(ctx, &in); err != nil {
			return "", err
		}
	}
	return in, nil
}

func bareActivity(_ context.Context, in string) (string, error) { return in, nil }

// waitServed runs bare workflows until one completes: a namespace registered a moment ago is not
// served for a few seconds.
func (e *benchEnv) waitServed(b *testing.B, ctx context.Context) {
	b.Helper()
	ref := contract.ComponentRef{Tenant: "warm-up", App: "bench", Component: "bare"}
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := e.bare(ctx, ref)
		var notFound *serviceerror.NamespaceNotFound
		if err == nil || !errors.As(err, &notFound) || time.Now().After(deadline) {
			require.NoError(b, err, "namespace %s not served", benchNamespace)
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// components stores a new tenant with one app of n components of spec; b's cleanup deletes the
// tenant's Kubernetes namespace.
func (e *benchEnv) components(b *testing.B, ctx context.Context, prefix string, n int, spec contract.ComponentSpec) []benchComponent {
	b.Helper()
	tenant, err := e.st.CreateTenant(ctx, store.Tenant{Name: uniqueName(prefix)})
	require.NoError(b, err)
	app, err := e.st.CreateApp(ctx, store.App{TenantID: tenant.ID, Name: "bench"})
	require.NoError(b, err)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := e.deleteNamespace(ctx, tenant.Name); err != nil {
			b.Logf("clean up: %v", err)
		}
	})
	comps := make([]benchComponent, n)
	for i := range comps {
		name := fmt.Sprintf("c%04d", i)
		c, err := e.st.CreateComponent(ctx, store.Component{AppID: app.ID, Name: name, Spec: spec})
		require.NoError(b, err)
		comps[i] = benchComponent{ref: contract.ComponentRef{Tenant: tenant.Name, App: app.Name, Component: name}, id: c.ID}
	}
	return comps
}

// deploy runs one Deploy of c to spec, as the API starts it, and waits for its result. It answers the
// workflow id.
func (e *benchEnv) deploy(ctx context.Context, c benchComponent, spec contract.ComponentSpec) (string, error) {
	return e.deployAs(ctx, c, spec, "op")
}

// deployOn is deploy served by the worker of the task queue.
func (e *benchEnv) deployOn(ctx context.Context, queue string, c benchComponent, spec contract.ComponentSpec) (string, error) {
	return e.deployWith(ctx, queue, c, spec, "op")
}

// beforeMarker, in a deploy's operation id, makes the bench worker run it with the steps before
// workflows.ChangeLocalSteps: regular activities only, and a rollout wait even when there is nothing
// to roll out.
const beforeMarker = "before"

// beforeLocalSteps is the bench worker's PreferredVersion: workflows.ChangeLocalSteps is off for the
// deploys whose operation id starts with beforeMarker, on for every other.
func beforeLocalSteps(in worker.PreferredVersionProviderInput) *worker.VersionPreference {
	if in.ChangeID == workflows.ChangeLocalSteps && strings.Contains(in.WorkflowInfo.WorkflowExecution.ID, "/"+beforeMarker+"-") {
		return &worker.VersionPreference{Version: workflow.DefaultVersion}
	}
	return nil
}

// deployAs is deploy with an operation id that starts with prefix.
func (e *benchEnv) deployAs(ctx context.Context, c benchComponent, spec contract.ComponentSpec, prefix string) (string, error) {
	return e.deployWith(ctx, contract.TaskQueueOperations, c, spec, prefix)
}

func (e *benchEnv) deployWith(ctx context.Context, queue string, c benchComponent, spec contract.ComponentSpec, prefix string) (string, error) {
	opID := fmt.Sprintf("%s-%s-%d", prefix, c.ref.Tenant, e.seq.Add(1))
	in := contract.DeployInput{OperationID: opID, Ref: c.ref, ComponentID: c.id, Spec: spec, RequestedBy: "bench"}
	id := "bench/" + c.ref.Tenant + "/" + c.ref.Component + "/" + opID
	opts := benchStartOptions(id, c.ref, contract.OperationDeploy)
	opts.TaskQueue = queue
	run, err := e.tc.ExecuteWorkflow(ctx, opts, contract.WorkflowDeploy, in)
	if err != nil {
		return id, fmt.Errorf("start deploy of %s: %w", c.ref.Component, err)
	}
	var res contract.DeployResult
	if err := run.Get(ctx, &res); err != nil {
		return id, fmt.Errorf("deploy of %s/%s: %w", c.ref.Tenant, c.ref.Component, err)
	}
	return id, nil
}

// bare runs one bare three-activity workflow, started with the same options as a deploy.
func (e *benchEnv) bare(ctx context.Context, ref contract.ComponentRef) (string, error) {
	id := fmt.Sprintf("bench/%s/%s/bare-%d", ref.Tenant, ref.Component, e.seq.Add(1))
	run, err := e.tc.ExecuteWorkflow(ctx, benchStartOptions(id, ref, "bare"), bareWorkflowName, id)
	if err != nil {
		return id, fmt.Errorf("start bare workflow: %w", err)
	}
	return id, run.Get(ctx, nil)
}

// benchStartOptions are the options the API starts an operation with (api/temporal.go), but with a
// unique workflow id per run.
func benchStartOptions(id string, ref contract.ComponentRef, kind contract.OperationKind) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: contract.TaskQueueOperations,
		Memo:      map[string]any{"operationId": id, "kind": kind},
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporal.NewSearchAttributeKeyKeyword(contract.SearchAttributeTenant).ValueSet(ref.Tenant),
			temporal.NewSearchAttributeKeyKeyword(contract.SearchAttributeApp).ValueSet(ref.App),
			temporal.NewSearchAttributeKeyKeyword(contract.SearchAttributeComponent).ValueSet(ref.Component),
			temporal.NewSearchAttributeKeyKeyword(contract.SearchAttributeOperation).ValueSet(string(kind)),
		),
	}
}

// deleteNamespace deletes a Kubernetes namespace and waits until it is gone.
func (e *benchEnv) deleteNamespace(ctx context.Context, ns string) error {
	err := e.kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete namespace %s: %w", ns, err)
	}
	for {
		_, err := e.kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s still there: %w", ns, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// inFlight is the outcome of runInFlight: each operation's workflow id and latency, in index order.
type inFlight struct {
	ids       []string
	latencies []time.Duration
}

// runInFlight runs op(slot, i) for every i in [0, n), slots operations at a time: slot s runs one
// operation after the other, so two operations of one slot never overlap. The first error cancels the
// rest.
func runInFlight(ctx context.Context, n, slots int, op func(ctx context.Context, slot, i int) (string, error)) (inFlight, error) {
	out := inFlight{ids: make([]string, n), latencies: make([]time.Duration, n)}
	var next, done atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	for slot := range min(slots, n) {
		g.Go(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return nil
				}
				t0 := time.Now()
				id, err := op(ctx, slot, i)
				out.ids[i], out.latencies[i] = id, time.Since(t0)
				if err != nil {
					return err
				}
				done.Add(1)
			}
		})
	}
	if err := g.Wait(); err != nil {
		return out, fmt.Errorf("%d of %d operations done: %w", done.Load(), n, err)
	}
	return out, nil
}

// mean and percentile of the latencies, in milliseconds.
func (r inFlight) meanMS() float64 {
	var sum time.Duration
	for _, l := range r.latencies {
		sum += l
	}
	return ms(sum) / float64(max(len(r.latencies), 1))
}

func (r inFlight) percentileMS(p float64) float64 {
	if len(r.latencies) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), r.latencies...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return ms(s[min(int(p*float64(len(s))), len(s)-1)])
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchContext bounds a benchmark's calls by d.
func benchContext(b *testing.B, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	b.Cleanup(cancel)
	return ctx
}
