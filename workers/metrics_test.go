package workers

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

func newTestHandler(t *testing.T) (*MetricsHandler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	h, err := NewMetricsHandler(reg)
	require.NoError(t, err)
	return h, reg
}

// gathered answers the metric family name, failing when the registry cannot gather.
func gathered(t *testing.T, reg prometheus.Gatherer, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

// seriesOf answers the metric of mf whose labels are exactly labels.
func seriesOf(t *testing.T, mf *dto.MetricFamily, labels map[string]string) *dto.Metric {
	t.Helper()
	require.NotNil(t, mf)
	for _, m := range mf.GetMetric() {
		if maps.Equal(labelsOf(m), labels) {
			return m
		}
	}
	require.Failf(t, "no such series", "%s has no series %v: %v", mf.GetName(), labels, mf.GetMetric())
	return nil
}

func labelsOf(m *dto.Metric) map[string]string {
	labels := map[string]string{}
	for _, lp := range m.GetLabel() {
		labels[lp.GetName()] = lp.GetValue()
	}
	return labels
}

func TestMetricsHandlerKinds(t *testing.T) {
	t.Parallel()
	h, reg := newTestHandler(t)
	tagged := h.WithTags(map[string]string{"namespace": "default", "task_queue": "operations"})
	tags := map[string]string{"namespace": "default", "task_queue": "operations"}

	tagged.Counter("temporal_request").Inc(2)
	tagged.Counter("temporal_request").Inc(3)
	tagged.Counter("temporal_request").Inc(-7) // a counter never goes down
	tagged.Gauge("temporal_num_pollers").Update(4)
	tagged.Gauge("temporal_num_pollers").Update(2.5)
	tagged.Timer("temporal_request_latency").Record(30 * time.Millisecond)
	tagged.Timer("temporal_request_latency").Record(2 * time.Second)

	c := seriesOf(t, gathered(t, reg, "temporal_request_total"), tags)
	require.Equal(t, 5.0, c.GetCounter().GetValue())
	g := seriesOf(t, gathered(t, reg, "temporal_num_pollers"), tags)
	require.Equal(t, 2.5, g.GetGauge().GetValue())

	mf := gathered(t, reg, "temporal_request_latency_seconds")
	require.Equal(t, dto.MetricType_HISTOGRAM, mf.GetType())
	hist := seriesOf(t, mf, tags).GetHistogram()
	require.EqualValues(t, 2, hist.GetSampleCount())
	require.InDelta(t, 2.03, hist.GetSampleSum(), 1e-9, "a timer records seconds")
	cumulative := map[float64]uint64{}
	for _, b := range hist.GetBucket() {
		cumulative[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	require.EqualValues(t, 0, cumulative[0.025])
	require.EqualValues(t, 1, cumulative[0.05])
	require.EqualValues(t, 1, cumulative[1])
	require.EqualValues(t, 2, cumulative[2.5])
	require.Len(t, hist.GetBucket(), len(TimerBuckets))

	mfs, err := reg.Gather()
	require.NoError(t, err)
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	require.NoError(t, err)
	require.Empty(t, problems, "the exposed names follow the Prometheus conventions")
}

// The SDK emits one name with different tag sets; Prometheus gets one label set per name, with ""
// for a tag a series lacks, and a tag set to "" is the same series as no tag.
func TestMetricsHandlerTagSets(t *testing.T) {
	t.Parallel()
	h, reg := newTestHandler(t)
	ns := h.WithTags(map[string]string{"namespace": "default"})
	wf := ns.WithTags(map[string]string{"workflow_type": "Deploy"})

	h.Counter("temporal_workflow_completed").Inc(1)
	ns.Counter("temporal_workflow_completed").Inc(2)
	wf.Counter("temporal_workflow_completed").Inc(3)
	ns.WithTags(map[string]string{"workflow_type": ""}).Counter("temporal_workflow_completed").Inc(4)
	wf.WithTags(map[string]string{"workflow_type": "Restart"}).Counter("temporal_workflow_completed").Inc(5)

	mf := gathered(t, reg, "temporal_workflow_completed_total")
	require.Len(t, mf.GetMetric(), 4)
	value := func(labels map[string]string) float64 { return seriesOf(t, mf, labels).GetCounter().GetValue() }
	require.Equal(t, 1.0, value(map[string]string{"namespace": "", "workflow_type": ""}))
	require.Equal(t, 6.0, value(map[string]string{"namespace": "default", "workflow_type": ""}))
	require.Equal(t, 3.0, value(map[string]string{"namespace": "default", "workflow_type": "Deploy"}))
	require.Equal(t, 5.0, value(map[string]string{"namespace": "default", "workflow_type": "Restart"}))
}

func TestMetricsHandlerNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		metric     string
		label      string
		wantMetric string
		wantLabel  string
	}{
		{name: "valid stays", metric: "temporal_request", label: "task_queue", wantMetric: "temporal_request", wantLabel: "task_queue"},
		{name: "dots and dashes", metric: "temporal.request-latency", label: "task.queue-name", wantMetric: "temporal_request_latency", wantLabel: "task_queue_name"},
		{name: "leading digit", metric: "1st", label: "2nd", wantMetric: "_1st", wantLabel: "_2nd"},
		{name: "colons only in metric names", metric: "a:b", label: "a:b", wantMetric: "a:b", wantLabel: "a_b"},
		{name: "unicode", metric: "durée", label: "clé", wantMetric: "dur_e", wantLabel: "cl_"},
		{name: "empty", metric: "", label: "", wantMetric: "_", wantLabel: "_"},
		{name: "reserved label prefix", metric: "m", label: "__name__", wantMetric: "m", wantLabel: "tag_name__"},
		{name: "bucket label", metric: "m", label: "le", wantMetric: "m", wantLabel: "tag_le"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.wantMetric, metricName(tt.metric))
			require.Equal(t, tt.wantLabel, labelName(tt.label))
		})
	}

	// through the handler: the exposed names are valid and gather
	h, reg := newTestHandler(t)
	h.WithTags(map[string]string{"task.queue": "q", "le": "x"}).Timer("temporal.poll-latency").Record(time.Millisecond)
	h.Counter("already_total").Inc(1)
	h.Timer("already_seconds").Record(time.Second)
	mf := gathered(t, reg, "temporal_poll_latency_seconds")
	seriesOf(t, mf, map[string]string{"task_queue": "q", "tag_le": "x"})
	require.NotNil(t, gathered(t, reg, "already_total"))
	require.NotNil(t, gathered(t, reg, "already_seconds"))
}

// A name used as two kinds keeps its first kind; the other is dropped, and gathering still works.
func TestMetricsHandlerKindConflict(t *testing.T) {
	t.Parallel()
	h, reg := newTestHandler(t)
	h.Gauge("x_total").Update(7)
	h.Counter("x").Inc(1) // would also be x_total
	h.Counter("x").Inc(1)
	mf := gathered(t, reg, "x_total")
	require.Equal(t, dto.MetricType_GAUGE, mf.GetType())
	require.Equal(t, 7.0, seriesOf(t, mf, map[string]string{}).GetGauge().GetValue())
}

func TestMetricsHandlerConcurrent(t *testing.T) {
	t.Parallel()
	h, reg := newTestHandler(t)
	const goroutines, incs = 16, 500
	var wg sync.WaitGroup
	stop := make(chan struct{})
	gathers := make(chan error, 1)
	go func() { // scrape all along
		defer close(gathers)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := reg.Gather(); err != nil {
				gathers <- err
				return
			}
		}
	}()
	for g := range goroutines {
		wg.Go(func() {
			tagged := h.WithTags(map[string]string{"worker": fmt.Sprint(g % 4)})
			if g/4%2 == 0 { // half the series have one more tag
				tagged = tagged.WithTags(map[string]string{"activity_type": "Apply"})
			}
			for i := range incs {
				tagged.Counter("temporal_activity_execution").Inc(1)
				tagged.Gauge("temporal_slots").Update(float64(i))
				tagged.Timer("temporal_activity_latency").Record(time.Duration(i) * time.Millisecond)
			}
		})
	}
	wg.Wait()
	close(stop)
	require.NoError(t, <-gathers)

	mf := gathered(t, reg, "temporal_activity_execution_total")
	require.Len(t, mf.GetMetric(), 8, "4 worker values × with and without activity_type")
	var total float64
	for _, m := range mf.GetMetric() {
		total += m.GetCounter().GetValue()
		require.Len(t, m.GetLabel(), 2)
	}
	require.Equal(t, float64(goroutines*incs), total)
	var samples uint64
	for _, m := range gathered(t, reg, "temporal_activity_latency_seconds").GetMetric() {
		samples += m.GetHistogram().GetSampleCount()
	}
	require.EqualValues(t, goroutines*incs, samples)
}

func TestMetricsHandlerRegistersOnce(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	_, err := NewMetricsHandler(reg)
	require.NoError(t, err)
	h, err := NewMetricsHandler(reg) // an unchecked collector: a second one registers too
	require.NoError(t, err)
	h.Counter("c").Inc(1)
	require.NotNil(t, gathered(t, reg, "c_total"))
}

// The SDK's own metrics go through the handler: here the test suite's, from a local activity and from
// a workflow's own metrics handler.
func TestMetricsHandlerWithSDK(t *testing.T) {
	t.Parallel()
	h, reg := newTestHandler(t)
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	suite.SetMetricsHandler(h)
	env := suite.NewTestWorkflowEnvironment()
	env.ExecuteWorkflow(func(ctx workflow.Context) (string, error) {
		workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"step": "echo"}).Counter("rainflow_echo").Inc(1)
		ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: time.Minute})
		var out string
		err := workflow.ExecuteLocalActivity(ctx, func(context.Context) (string, error) { return "ok", nil }).Get(ctx, &out)
		return out, err
	})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())

	echo := gathered(t, reg, "rainflow_echo_total")
	require.Equal(t, 1.0, seriesOf(t, echo, map[string]string{"step": "echo"}).GetCounter().GetValue())
	latency := gathered(t, reg, "temporal_local_activity_execution_latency_seconds")
	require.NotNil(t, latency, "the SDK's local activity timer")
	require.EqualValues(t, 1, latency.GetMetric()[0].GetHistogram().GetSampleCount())
}
