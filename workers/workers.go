// Package workers assembles Temporal workers: which workflows and activities run on which task queue.
package workers

import (
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/workflows"
)

// Activities are the activity structs a worker serves, each holding its dependencies.
type Activities struct {
	Kube     *activities.Kube
	Registry *activities.Registry
	Store    *activities.Store
	// Routes applies components' routes and certificates; nil serves none (a deploy of a component
	// with routes then fails at its "apply routes" step, and so does a Routes operation).
	Routes *activities.Routes
	// Operations queues and follows component operations for the app-level operations; nil serves
	// one over the worker's own Temporal client.
	Operations *activities.Operations
}

// Options tune a worker.
type Options struct {
	MaxConcurrentActivities int // default 100
	// StopTimeout is how long Stop lets running activities end before it cancels them (a rollout wait
	// ends at once, and another worker resumes it from its last heartbeat); 0 cancels them at once.
	StopTimeout time.Duration
	// Interceptors wrap the worker's workflows and activities (opevents' writes operation events).
	Interceptors []interceptor.WorkerInterceptor
	// PreferredVersion chooses the version a new run records for a workflow.GetVersion change (nil, or
	// a nil answer: the newest). It keeps a change off while it rolls out, and lets a benchmark run the
	// steps before and after a change side by side (workflows.ChangeLocalSteps).
	PreferredVersion worker.PreferredVersionProvider
}

// taskPollers is how many long polls a worker keeps open per task type.
const taskPollers = 8

// NewOperations returns the worker of the operations task queue: the lifecycle workflows and the
// Kubernetes, registry and store activities they call.
func NewOperations(c client.Client, acts Activities, opts Options) worker.Worker {
	return NewOperationsOn(c, contract.TaskQueueOperations, acts, opts)
}

// NewOperationsOn is NewOperations on another task queue: a benchmark serves the same workflows with
// differently built activities on two queues side by side.
func NewOperationsOn(c client.Client, queue string, acts Activities, opts Options) worker.Worker {
	if opts.MaxConcurrentActivities <= 0 {
		opts.MaxConcurrentActivities = 100
	}
	w := worker.New(c, queue, worker.Options{
		MaxConcurrentActivityExecutionSize: opts.MaxConcurrentActivities,
		WorkerStopTimeout:                  opts.StopTimeout,
		// The SDK's default of 2 pollers left a deploy's workflow tasks waiting most of its time
		// (BenchmarkOrchestration: 2.7 s of 3.9 s); 8 took the wait to about 50 ms.
		MaxConcurrentWorkflowTaskPollers: taskPollers,
		MaxConcurrentActivityTaskPollers: taskPollers,
		Interceptors:                     opts.Interceptors,
		PreferredVersionProvider:         opts.PreferredVersion,
	})
	workflows.Register(w)
	w.RegisterActivity(acts.Kube)
	w.RegisterActivity(acts.Registry)
	w.RegisterActivity(acts.Store)
	if acts.Routes != nil {
		w.RegisterActivity(acts.Routes)
	}
	if acts.Operations == nil {
		acts.Operations = &activities.Operations{Client: c}
	}
	w.RegisterActivity(acts.Operations)
	return w
}

// BuildActivities are the activity structs of the builds task queue.
type BuildActivities struct {
	Builds *activities.Builds
	Store  *activities.BuildStore
	// Operations queues the deploy a build-and-deploy runs; nil serves one over the worker's client.
	Operations *activities.Operations
}

// NewBuilds returns the worker of the builds task queue: the Build workflow and the activities it
// calls. Builds are heavy: MaxConcurrentActivities bounds the builds one worker runs at once.
func NewBuilds(c client.Client, acts BuildActivities, opts Options) worker.Worker {
	if opts.MaxConcurrentActivities <= 0 {
		opts.MaxConcurrentActivities = 4
	}
	w := worker.New(c, contract.TaskQueueBuilds, worker.Options{
		MaxConcurrentActivityExecutionSize: opts.MaxConcurrentActivities,
		WorkerStopTimeout:                  opts.StopTimeout,
		Interceptors:                       opts.Interceptors,
	})
	workflows.RegisterBuilds(w)
	w.RegisterActivity(acts.Builds)
	w.RegisterActivity(acts.Store)
	if acts.Operations == nil {
		acts.Operations = &activities.Operations{Client: c}
	}
	w.RegisterActivity(acts.Operations)
	return w
}
