package opevents

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"

	"github.com/rainflow/rainflow/collector"
	"github.com/rainflow/rainflow/contract"
)

// Progress is a heartbeat detail that says in one line how far its activity got; a heartbeat whose
// detail is not a Progress (or a string) is not an event.
type Progress interface {
	EventMessage() string
}

// Interceptor is the worker interceptor that emits an event line when an activity of an operation's
// workflow starts, reports progress (a heartbeat whose message changed), succeeds or fails.
// Activities of other workflows (a component's queue, a tenant's operations) emit nothing. Local
// activities (a deploy's short steps) go through the same inbound interceptor and emit the same.
type Interceptor struct {
	interceptor.WorkerInterceptorBase
	emit func(Line)
}

// NewInterceptor emits through e.
func NewInterceptor(e *Emitter) *Interceptor { return &Interceptor{emit: e.Emit} }

// InterceptActivity wraps one activity execution.
func (i *Interceptor) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &activityInbound{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, emit: i.emit}
}

type activityInbound struct {
	interceptor.ActivityInboundInterceptorBase
	emit func(Line)
	out  *activityOutbound
}

func (a *activityInbound) Init(outbound interceptor.ActivityOutboundInterceptor) error {
	a.out = &activityOutbound{ActivityOutboundInterceptorBase: interceptor.ActivityOutboundInterceptorBase{Next: outbound}}
	return a.Next.Init(a.out)
}

func (a *activityInbound) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	info := activity.GetInfo(ctx)
	op, ok := contract.ParseOperationWorkflowID(info.WorkflowExecution.ID)
	if !ok {
		return a.Next.ExecuteActivity(ctx, in)
	}
	step := StepName(info.ActivityType.Name)
	base := Line{
		Kind: collector.KindEvent, Tenant: op.Tenant, App: op.App, Component: op.Component, Operation: op.ID,
		Workflow: info.WorkflowExecution.ID, Run: info.WorkflowExecution.RunID,
		Activity: info.ActivityType.Name, Attempt: int(info.Attempt), Step: step,
	}
	event := func(level, msg string) {
		l := base
		l.Time, l.Level, l.Message = time.Now(), level, msg
		a.emit(l)
	}
	a.out.progress = func(msg string) { event(collector.LevelInfo, step+": "+msg) }

	if info.Attempt > 1 {
		event(collector.LevelInfo, fmt.Sprintf("%s: started (attempt %d)", step, info.Attempt))
	} else {
		event(collector.LevelInfo, step+": started")
	}
	start := time.Now()
	res, err := a.Next.ExecuteActivity(ctx, in)
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case err == nil:
		event(collector.LevelInfo, fmt.Sprintf("%s: done in %s", step, took))
	case retried(err, info):
		event(collector.LevelWarn, fmt.Sprintf("%s: attempt %d failed after %s, will retry: %v", step, info.Attempt, took, err))
	default:
		event(collector.LevelError, fmt.Sprintf("%s: failed after %s: %v", step, took, err))
	}
	return res, err
}

// retried says whether Temporal will run the activity again after err: not for a non-retryable
// application error, a cancellation, or the last attempt of its retry policy.
func retried(err error, info activity.Info) bool {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.NonRetryable() {
		return false
	}
	if errors.Is(err, context.Canceled) || temporal.IsCanceledError(err) {
		return false
	}
	if p := info.RetryPolicy; p != nil {
		if p.MaximumAttempts > 0 && info.Attempt >= p.MaximumAttempts {
			return false
		}
		if app != nil && containsString(p.NonRetryableErrorTypes, app.Type()) {
			return false
		}
	}
	return true
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// activityOutbound turns heartbeats whose message changed into progress events.
type activityOutbound struct {
	interceptor.ActivityOutboundInterceptorBase
	progress func(string)

	mu   sync.Mutex
	last string
}

func (o *activityOutbound) RecordHeartbeat(ctx context.Context, details ...any) {
	o.Next.RecordHeartbeat(ctx, details...)
	if o.progress == nil || len(details) == 0 {
		return
	}
	var msg string
	switch d := details[0].(type) {
	case Progress:
		msg = d.EventMessage()
	case string:
		msg = d
	default:
		return
	}
	o.mu.Lock()
	changed := msg != "" && msg != o.last
	o.last = msg
	o.mu.Unlock()
	if changed {
		o.progress(msg)
	}
}

// StepName is how an event names an activity: its type in lower-case words ("WaitRollout" is "wait
// rollout").
func StepName(activityType string) string {
	var b strings.Builder
	for i, r := range activityType {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte(' ')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
