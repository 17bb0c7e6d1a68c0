package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Activity option sets, declared once and named for what they fit.
var (
	// shortRetry retries a quick call with backoff, never for permanent errors.
	shortRetry = &temporal.RetryPolicy{
		InitialInterval:    500 * time.Millisecond,
		BackoffCoefficient: 2,
		MaximumInterval:    30 * time.Second,
	}
	// shortCall fits one quick call to Kubernetes, a registry or the database: retried with backoff
	// for as long as the system is unreachable (up to 10 minutes), never for permanent errors.
	shortCall = workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy:            shortRetry,
	}
	// shortLocal fits the same quick calls run as local activities (changeLocalSteps): in the worker
	// that runs the workflow, with no round trip through a task queue and no events of their own in the
	// history, only a marker with the result. Retried like shortCall; a local activity that outlasts
	// the workflow task keeps it alive, and its retries past a few seconds wait on a timer.
	shortLocal = workflow.LocalActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy:            shortRetry,
	}
	// followOperation fits following another operation to its end (AwaitOperation): it may wait in its
	// component's queue behind others, so hours are allowed; heartbeats every second.
	followOperation = workflow.ActivityOptions{
		StartToCloseTimeout:    6 * time.Hour,
		ScheduleToCloseTimeout: 7 * time.Hour,
		HeartbeatTimeout:       20 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
		},
	}
	// longWait fits waiting for a rollout: heartbeats every few seconds, a worker that dies is noticed
	// within HeartbeatTimeout and the wait resumes elsewhere from the last heartbeat.
	longWait = workflow.ActivityOptions{
		StartToCloseTimeout:    15 * time.Minute,
		ScheduleToCloseTimeout: 20 * time.Minute,
		HeartbeatTimeout:       10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
		},
	}
)
