package opevents

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/collector"
)

type progress struct{ n int }

func (p progress) EventMessage() string { return strings.Repeat("*", p.n) }

func WaitThing(ctx context.Context) error {
	for _, n := range []int{1, 1, 2} { // the repeated message is one event
		activity.RecordHeartbeat(ctx, progress{n})
	}
	return nil
}

func FlakyThing(ctx context.Context) error {
	if activity.GetInfo(ctx).Attempt < 2 {
		return errors.New("try again")
	}
	return temporal.NewNonRetryableApplicationError("the spec is invalid", "InvalidSpec", nil)
}

func testOperation(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Millisecond, MaximumAttempts: 5},
	})
	if err := workflow.ExecuteActivity(ctx, WaitThing).Get(ctx, nil); err != nil {
		return err
	}
	return workflow.ExecuteActivity(ctx, FlakyThing).Get(ctx, nil)
}

// localOperation runs the same steps as local activities (as a deploy runs its short steps): they go
// through the same inbound interceptor, so they emit the same events.
func localOperation(ctx workflow.Context) error {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Millisecond, MaximumAttempts: 5},
	})
	if err := workflow.ExecuteLocalActivity(ctx, WaitThing).Get(ctx, nil); err != nil {
		return err
	}
	return workflow.ExecuteLocalActivity(ctx, FlakyThing).Get(ctx, nil)
}

// operations are the test workflows, whose events must be the same.
var operations = []struct {
	name string
	run  func(workflow.Context) error
}{{"activities", testOperation}, {"local activities", localOperation}}

// recorder collects the emitted lines.
type recorder struct {
	mu    sync.Mutex
	lines []Line
}

func (r *recorder) emit(l Line) {
	r.mu.Lock()
	r.lines = append(r.lines, l)
	r.mu.Unlock()
}

func runOperation(t *testing.T, operation func(workflow.Context) error, workflowID string) []Line {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	rec := &recorder{}
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&Interceptor{emit: rec.emit}}})
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflowID})
	env.RegisterWorkflow(operation)
	env.RegisterActivity(WaitThing)
	env.RegisterActivity(FlakyThing)
	env.ExecuteWorkflow(operation)
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() == nil {
		t.Fatalf("the operation should end failed; completed %v, err %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	return rec.lines
}

func TestInterceptorEmitsEachStepsEvents(t *testing.T) {
	t.Parallel()
	for _, op := range operations {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel()
			requireStepsEvents(t, runOperation(t, op.run, "deploy/acme/shop/web/op-1"))
		})
	}
}

func requireStepsEvents(t *testing.T, lines []Line) {
	t.Helper()
	want := []struct{ level, msg string }{
		{collector.LevelInfo, "wait thing: started"},
		{collector.LevelInfo, "wait thing: *"},
		{collector.LevelInfo, "wait thing: **"},
		{collector.LevelInfo, "wait thing: done in"},
		{collector.LevelInfo, "flaky thing: started"},
		{collector.LevelWarn, "flaky thing: attempt 1 failed after"},
		{collector.LevelInfo, "flaky thing: started (attempt 2)"},
		{collector.LevelError, "flaky thing: failed after"},
	}
	if len(lines) != len(want) {
		var got []string
		for _, l := range lines {
			got = append(got, l.Message)
		}
		t.Fatalf("got %d events, want %d:\n%s", len(lines), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		l := lines[i]
		if l.Level != w.level || !strings.HasPrefix(l.Message, w.msg) {
			t.Errorf("event %d is %s %q, want %s %q...", i, l.Level, l.Message, w.level, w.msg)
		}
		if l.Kind != collector.KindEvent || l.Tenant != "acme" || l.App != "shop" || l.Component != "web" ||
			l.Operation != "op-1" || l.Workflow != "deploy/acme/shop/web/op-1" || l.Run == "" || l.Activity == "" || l.Attempt < 1 {
			t.Errorf("event %d does not name its operation, run, activity and attempt: %+v", i, l)
		}
	}
	if lines[len(lines)-1].Attempt != 2 {
		t.Errorf("the last event is of attempt %d, want 2", lines[len(lines)-1].Attempt)
	}
	if !strings.Contains(lines[len(lines)-1].Message, "the spec is invalid") {
		t.Errorf("the failure event does not say why: %q", lines[len(lines)-1].Message)
	}
}

func TestInterceptorIgnoresOtherWorkflows(t *testing.T) {
	t.Parallel()
	for _, op := range operations {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel()
			if lines := runOperation(t, op.run, "rainflow/acme/shop/web"); len(lines) != 0 {
				t.Fatalf("a queue's activities emitted %d events", len(lines))
			}
		})
	}
}

func TestStepName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"WaitRollout": "wait rollout", "Apply": "apply", "ResolveImage": "resolve image", "": ""} {
		if got := StepName(in); got != want {
			t.Errorf("StepName(%q) = %q, want %q", in, got, want)
		}
	}
}
