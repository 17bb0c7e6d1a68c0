package tests

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rainflow/rainflow/contract"
)

// The size of BenchmarkDeployThousandKwok.
const (
	thousandComponents = 1000
	thousandInFlight   = 100 // deploys running at once; the worker runs up to 100 activities at once
	// thousandFakeNodes hold the pods: a kwok fake node takes 110
	thousandFakeNodes = "10"
)

// BenchmarkDeployThousandKwok measures the wall time of deploying 1,000 tiny components (one replica,
// no ports, no probes) with thousandInFlight deploys at a time, from the first start until every
// Deployment is ready. It runs on a second, kwok-only stack (every port shifted by 200, fake nodes
// only, untainted), so that the pods cost no containers. Each round (b.N) deploys a fresh tenant and
// deletes it afterwards, outside the timer; -benchtime=1x runs one round. It reports wall-s (seconds
// per 1,000 deploys), deploys/s, and the latency of single deploys (p50-ms, p99-ms); the log splits a
// sample of the deploys' histories per activity, and the CPU time per deploy of every process of the
// stack.
func BenchmarkDeployThousandKwok(b *testing.B) {
	state := filepath.Join(stateDir, "kwok-bench")
	info, stop, err := startDev(devBin, state, "--bin", toolsDir, "--real-node", "off", "--port-offset", "200",
		"--fake-nodes", thousandFakeNodes)
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, stop()) })
	require.False(b, info.RealNode)

	ctx := benchContext(b, 25*time.Minute)
	env := newBenchEnv(b, ctx, info)
	spec := contract.ComponentSpec{Image: info.RegistryAddr + "/rainflow/hello:1", Replicas: 1}
	// RAINFLOW_BENCH_NO_CACHE=1 deploys without the worker's KubeCache (rollout waits poll the API)
	queue := contract.TaskQueueOperations
	if os.Getenv("RAINFLOW_BENCH_NO_CACHE") != "" {
		queue = benchQueueNoCache
	}
	b.Logf("deploys served on %s", queue)

	var all inFlight
	var cpuFrom, cpuTo cpuSample // of the last round
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		comps := env.components(b, ctx, "thousand", thousandComponents, spec)
		roundCtx, cancel := context.WithTimeout(ctx, 15*time.Minute)
		cpuFrom = sampleCPU(info.PID)
		b.StartTimer()
		res, err := runInFlight(roundCtx, len(comps), thousandInFlight, func(ctx context.Context, _, i int) (string, error) {
			return env.deployOn(ctx, queue, comps[i], spec)
		})
		b.StopTimer()
		cancel()
		cpuTo = sampleCPU(info.PID)
		require.NoError(b, err)
		all.ids = append(all.ids, res.ids...)
		all.latencies = append(all.latencies, res.latencies...)

		ns := comps[0].ref.Tenant
		deps, err := env.kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		require.NoError(b, err)
		require.Len(b, deps.Items, thousandComponents)
		for _, d := range deps.Items {
			require.True(b, available(d), "deployment %s/%s not available: %+v", ns, d.Name, d.Status)
		}
		delCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		require.NoError(b, env.deleteNamespace(delCtx, ns))
		cancel()
	}

	wall := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(wall, "wall-s")
	b.ReportMetric(thousandComponents/wall, "deploys/s")
	b.ReportMetric(all.percentileMS(0.5), "p50-ms")
	b.ReportMetric(all.percentileMS(0.99), "p99-ms")
	reportCPU(b, cpuFrom, cpuTo, thousandComponents, "deploy (last round)")
	sample := make([]string, 0, 50)
	for i := 0; i < len(all.ids) && len(sample) < cap(sample); i += max(1, len(all.ids)/cap(sample)) {
		sample = append(sample, all.ids[i])
	}
	p, err := profileHistories(ctx, env.tc, sample)
	require.NoError(b, err)
	p.report(b)
}

// available tells whether every replica of the Deployment runs its latest generation and is available.
func available(d appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want &&
		d.Status.AvailableReplicas == want
}
