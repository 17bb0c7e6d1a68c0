package tests

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/contract"
)

// Deploy benchmarks on the real stack (issue 4). Run them with `make bench-deploy`; they hold the
// machine-wide stack lock like `make test-integration`.

// orchestrationInFlight is how many workflows BenchmarkOrchestration keeps running at once, in both of
// its sub-benchmarks.
const orchestrationInFlight = 16

// BenchmarkOrchestration compares, side by side on the main stack's dev server, a no-op deploy with a
// bare workflow of three trivial activities, both orchestrationInFlight at a time:
//
//   - bare-3-activities: the baseline, what any three-step workflow costs on this dev server.
//   - deploy-noop-no-cache: contract.WorkflowDeploy of a component whose spec already runs and is ready:
//     every step runs for real (resolve the image in the registry, apply the namespace, read the
//     current release, server-side apply the Service and Deployment, record the release) as local
//     activities, but nothing rolls out: the apply shows the Deployment complete, so there is no rollout
//     to wait for. Its worker has no KubeCache: every read and apply goes to the Kubernetes API (the
//     deploy before the cache).
//   - deploy-noop-strict-labels: the same with a KubeCache that prunes from the cache and skips the
//     applies that cannot change anything, but rewrites the release label of every object of a new
//     release (so only the namespace and its LimitRange are skipped).
//   - deploy-noop: the same as `rainflow worker` runs it: the cache keeps the release label of an object
//     a deploy does not otherwise change, so a no-op deploy applies nothing. x-no-cache is its ops/s
//     over deploy-noop-no-cache's.
//
// The cached sides report applies/op and skipped/op, the applies their cache let through and skipped.
// Each reports ops/s (workflows completed per second) and latency-ms (mean start-to-result as the
// client sees it); the deploys also report x-bare, its time per operation over the bare workflow's
// (bare ops/s ÷ deploy ops/s, from the bare run just before it: the orchestration overhead). wf-ms,
// wft-ms, act-queue-ms and act-exec-ms split a sample of the workflows' histories into workflow tasks,
// activity queueing and activity execution; the log lists them per activity type. temporal-cpu-ms and
// bench-cpu-ms are the CPU time per operation of the Temporal dev server and of this process (the
// worker and the client); the log lists the stack's other processes. Wall-time figures swing with the
// machine's load, CPU times much less.
//
// The components run on the main stack's real node (busybox httpd, one replica, with its readiness
// probe; where no real node runs, the kwok nodes are untainted and take them): that stack is up anyway,
// and a no-op deploy touches no pod, so a second stack would only add load to the machine while
// measuring. Use -benchtime=Nx: the framework then runs each side once with N=1 and once with N, and
// the history sample and the CPU log come from the second run.
func BenchmarkOrchestration(b *testing.B) {
	ctx := benchContext(b, 20*time.Minute)
	env := newBenchEnv(b, ctx, stack)
	spec := webSpec(stack.RegistryAddr + "/rainflow/hello:1") // seeded by rainflow dev
	spec.Replicas = 1
	comps := env.components(b, ctx, "bench", orchestrationInFlight, spec)

	// the first deploys roll the components out; every deploy after them is a no-op
	first, err := runInFlight(ctx, len(comps), len(comps), func(ctx context.Context, _, i int) (string, error) {
		return env.deploy(ctx, comps[i], spec)
	})
	require.NoError(b, err)
	historyDir := os.Getenv(recordHistoriesEnv)
	require.NoError(b, saveHistory(ctx, env.tc, historyDir, first.ids[0], "deploy-local-rollout"))
	generations := env.generations(b, ctx, comps)

	var bareOpsPerSec, noCacheOpsPerSec float64
	b.Run("bare-3-activities", func(b *testing.B) {
		bareOpsPerSec = measureInFlight(b, ctx, env, func(ctx context.Context, slot, _ int) (string, error) {
			return env.bare(ctx, comps[slot].ref)
		})
	})
	for _, side := range []struct{ name, queue string }{
		{"deploy-noop-no-cache", benchQueueNoCache},
		{"deploy-noop-strict-labels", benchQueueStrictLabels},
		{"deploy-noop", contract.TaskQueueOperations},
	} {
		b.Run(side.name, func(b *testing.B) {
			cache := env.caches[side.queue]
			var sent0, skipped0 int64
			if cache != nil {
				sent0, skipped0 = cache.ApplyCounts()
			}
			ops := measureInFlight(b, ctx, env, func(ctx context.Context, slot, _ int) (string, error) {
				return env.deployOn(ctx, side.queue, comps[slot], spec)
			})
			if cache != nil {
				sent, skipped := cache.ApplyCounts()
				b.ReportMetric(float64(sent-sent0)/float64(b.N), "applies/op")
				b.ReportMetric(float64(skipped-skipped0)/float64(b.N), "skipped/op")
			}
			if bareOpsPerSec > 0 {
				b.ReportMetric(bareOpsPerSec/ops, "x-bare")
			}
			if side.queue == benchQueueNoCache {
				noCacheOpsPerSec = ops
			} else if noCacheOpsPerSec > 0 {
				b.ReportMetric(ops/noCacheOpsPerSec, "x-no-cache")
			}
		})
	}
	noop, err := env.deploy(ctx, comps[0], spec)
	require.NoError(b, err)
	require.NoError(b, saveHistory(ctx, env.tc, historyDir, noop, "deploy-local-noop"))

	// no-ops indeed: no Deployment rolled out again
	require.Equal(b, generations, env.generations(b, ctx, comps))
}

// measureInFlight runs b.N operations orchestrationInFlight at a time (slot s always runs on
// component s) and reports ops/s, latency-ms and the phases of a sample of their histories.
func measureInFlight(b *testing.B, ctx context.Context, env *benchEnv, op func(ctx context.Context, slot, i int) (string, error)) float64 {
	cpu0 := sampleCPU(env.info.PID)
	b.ResetTimer()
	res, err := runInFlight(ctx, b.N, orchestrationInFlight, op)
	b.StopTimer()
	cpu1 := sampleCPU(env.info.PID)
	require.NoError(b, err)
	opsPerSec := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(opsPerSec, "ops/s")
	b.ReportMetric(res.meanMS(), "latency-ms")
	if b.N > 1 {
		reportCPU(b, cpu0, cpu1, b.N, "operation")
		sample := res.ids[max(0, len(res.ids)-50):]
		p, err := profileHistories(ctx, env.tc, sample)
		require.NoError(b, err)
		p.report(b)
	}
	return opsPerSec
}

// generations answers each component's Deployment generation.
func (e *benchEnv) generations(b *testing.B, ctx context.Context, comps []benchComponent) map[string]int64 {
	b.Helper()
	out := map[string]int64{}
	for _, c := range comps {
		d, err := e.kube.AppsV1().Deployments(c.ref.Tenant).Get(ctx, render.Name(c.ref), metav1.GetOptions{})
		require.NoError(b, err)
		out[d.Name] = d.Generation
	}
	return out
}
