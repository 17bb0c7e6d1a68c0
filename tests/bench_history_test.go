package tests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"
)

// phases is where a sample of workflows spent their time, read from their histories. A workflow runs
// one thing at a time, so its duration is its workflow tasks plus its activities, each from scheduled
// (queued in the server) to closed.
type phases struct {
	workflows  int
	total      time.Duration // started → completed
	wft        time.Duration // workflow tasks: scheduled → completed
	wftQueue   time.Duration // of which scheduled → started (server hand-off and the worker's poll)
	wfts       int
	actQueue   time.Duration // activities: scheduled → started
	actExec    time.Duration // activities: started → closed
	byActivity map[string]*activityPhases
}

type activityPhases struct {
	count       int
	queue, exec time.Duration
}

// profileHistories reads the histories of the workflows ids and adds up their phases.
func profileHistories(ctx context.Context, tc client.Client, ids []string) (phases, error) {
	p := phases{byActivity: map[string]*activityPhases{}}
	for _, id := range ids {
		if err := p.add(ctx, tc, id); err != nil {
			return p, err
		}
	}
	return p, nil
}

func (p *phases) add(ctx context.Context, tc client.Client, id string) error {
	at := map[int64]time.Time{} // event id → time
	names := map[int64]string{} // activity scheduled event id → activity type
	var start, end time.Time
	iter := tc.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return fmt.Errorf("read history of %s: %w", id, err)
		}
		t := ev.EventTime.AsTime()
		at[ev.EventId] = t
		switch ev.EventType {
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			start = t
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
			end = t
		case enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			a := ev.GetWorkflowTaskCompletedEventAttributes()
			p.wft += t.Sub(at[a.ScheduledEventId])
			p.wftQueue += at[a.StartedEventId].Sub(at[a.ScheduledEventId])
			p.wfts++
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			names[ev.EventId] = ev.GetActivityTaskScheduledEventAttributes().ActivityType.GetName()
		case enums.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			a := ev.GetActivityTaskCompletedEventAttributes()
			p.activity(names[a.ScheduledEventId], at[a.ScheduledEventId], at[a.StartedEventId], t)
		case enums.EVENT_TYPE_ACTIVITY_TASK_FAILED:
			a := ev.GetActivityTaskFailedEventAttributes()
			p.activity(names[a.ScheduledEventId], at[a.ScheduledEventId], at[a.StartedEventId], t)
		}
	}
	if end.IsZero() {
		return fmt.Errorf("workflow %s did not complete", id)
	}
	p.total += end.Sub(start)
	p.workflows++
	return nil
}

func (p *phases) activity(name string, scheduled, started, closed time.Time) {
	a := p.byActivity[name]
	if a == nil {
		a = &activityPhases{}
		p.byActivity[name] = a
	}
	a.count++
	a.queue += started.Sub(scheduled)
	a.exec += closed.Sub(started)
	p.actQueue += started.Sub(scheduled)
	p.actExec += closed.Sub(started)
}

// report adds the phases, per workflow on average, to b's metrics (wf-ms, wft-ms, act-queue-ms,
// act-exec-ms) and logs them per activity type.
func (p phases) report(b *testing.B) {
	if p.workflows == 0 {
		return
	}
	n := float64(p.workflows)
	b.ReportMetric(ms(p.total)/n, "wf-ms")
	b.ReportMetric(ms(p.wft)/n, "wft-ms")
	b.ReportMetric(ms(p.actQueue)/n, "act-queue-ms")
	b.ReportMetric(ms(p.actExec)/n, "act-exec-ms")

	lines := []string{fmt.Sprintf("per workflow, mean of %d histories: %.1f ms started→completed; %.1f workflow tasks %.1f ms (%.1f ms scheduled→started)",
		p.workflows, ms(p.total)/n, float64(p.wfts)/n, ms(p.wft)/n, ms(p.wftQueue)/n)}
	names := make([]string, 0, len(p.byActivity))
	for name := range p.byActivity {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		a := p.byActivity[name]
		lines = append(lines, fmt.Sprintf("  %-18s %4.1f calls %7.1f ms exec, %7.1f ms scheduled→started", name,
			float64(a.count)/n, ms(a.exec)/n, ms(a.queue)/n))
	}
	b.Log(strings.Join(lines, "\n"))
}

// recordHistoriesEnv names a folder where BenchmarkOrchestration writes the histories of a deploy that
// rolled out and of a no-op deploy, in the JSON the replay tests read (workflows/testdata), when set.
const recordHistoriesEnv = "RAINFLOW_RECORD_HISTORIES"

// saveHistory writes the history of workflow id to dir/name.json, when dir is not empty (like
// recordHistory of the tests, for a benchmark).
func saveHistory(ctx context.Context, tc client.Client, dir, id, name string) error {
	if dir == "" {
		return nil
	}
	var h historypb.History
	iter := tc.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return fmt.Errorf("read history of %s: %w", id, err)
		}
		h.Events = append(h.Events, ev)
	}
	text, err := protojson.Marshal(&h)
	if err != nil {
		return fmt.Errorf("encode history of %s: %w", id, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".json"), text, 0o644); err != nil {
		return fmt.Errorf("write history of %s: %w", id, err)
	}
	return nil
}
