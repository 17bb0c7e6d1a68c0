package contract

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// App-level operations act on every component of an app: an AppOperation workflow queues each
// component's operation in its component's queue (so one operation per component still holds), in
// dependency order: a component's operation is queued once the operations of the components it
// depends on succeeded; independent ones run in parallel. A stop goes the other way: a component
// stops after the components that depend on it stopped.

// WorkflowAppOperation names the app-level operation workflow.
const WorkflowAppOperation = "AppOperation"

// AppOperationKind is the kind of the app-level operation that runs kind on every component:
// "app-deploy", "app-stop", ...
func AppOperationKind(kind OperationKind) OperationKind { return "app-" + kind }

// AppOperationWorkflowID is the workflow id of an app-level operation: "app-<kind>/<tenant>/<app>/<id>".
func AppOperationWorkflowID(kind OperationKind, tenant, app, operationID string) string {
	return string(AppOperationKind(kind)) + "/" + tenant + "/" + app + "/" + operationID
}

// AppOperationInput starts an AppOperation.
type AppOperationInput struct {
	OperationID string                  `json:"operationId"`
	Tenant      string                  `json:"tenant"`
	App         string                  `json:"app"`
	Kind        OperationKind           `json:"kind"` // the components' operation: deploy, start, stop or restart
	Components  []AppComponentOperation `json:"components"`
	RequestedBy string                  `json:"requestedBy,omitempty"`
}

// AppComponentOperation is one component's part of an app-level operation.
type AppComponentOperation struct {
	Component   string   `json:"component"`
	DependsOn   []string `json:"dependsOn,omitempty"`
	OperationID string   `json:"operationId"` // the component operation's own id
	Workflow    string   `json:"workflow"`    // the Workflow* it runs
	// Input is the component workflow's input (a DeployInput for a deploy, ...), as JSON.
	Input json.RawMessage `json:"input"`
}

// Component operation outcomes, as an AppOperationResult reports them.
const (
	ComponentSucceeded = "succeeded"
	ComponentFailed    = "failed"
	ComponentCanceled  = "canceled"
	// ComponentSkipped: not run, because an operation it waited for did not succeed.
	ComponentSkipped = "skipped"
)

// StepSkipped is the state of an app operation's step for a component that was not run, because an
// operation it waited for did not succeed.
const StepSkipped = "skipped"

// AppOperationResult is what a finished AppOperation reports, per component.
type AppOperationResult struct {
	Components map[string]string `json:"components"` // component → outcome
}

// DependencyEdge names what one component depends on.
type DependencyEdge struct {
	Component string
	DependsOn []string
}

// CycleError says the dependencies form a cycle; Cycle names it, first component repeated last.
type CycleError struct{ Cycle []string }

func (e *CycleError) Error() string {
	return "the dependencies form a cycle: " + strings.Join(e.Cycle, " → ")
}

// UnknownDependencyError says a component depends on a component the app does not have.
type UnknownDependencyError struct{ Component, DependsOn string }

func (e *UnknownDependencyError) Error() string {
	return fmt.Sprintf("component %q depends on %q, which the app does not have", e.Component, e.DependsOn)
}

// DependencyLevels orders components by their dependencies: level 0 depends on nothing, level n on
// components of levels below n only. Names within a level are sorted. A dependency the app lacks
// answers an *UnknownDependencyError; a cycle a *CycleError naming it.
func DependencyLevels(deps []DependencyEdge) ([][]string, error) {
	known := make(map[string][]string, len(deps))
	for _, d := range deps {
		known[d.Component] = d.DependsOn
	}
	names := make([]string, 0, len(deps))
	for _, d := range deps {
		names = append(names, d.Component)
		for _, on := range d.DependsOn {
			if _, ok := known[on]; !ok {
				return nil, &UnknownDependencyError{Component: d.Component, DependsOn: on}
			}
		}
	}
	slices.Sort(names)
	if cycle := findCycle(names, known); cycle != nil {
		return nil, &CycleError{Cycle: cycle}
	}
	level := map[string]int{}
	var depth func(string) int
	depth = func(n string) int {
		if l, ok := level[n]; ok {
			return l
		}
		l := 0
		for _, on := range known[n] {
			l = max(l, depth(on)+1)
		}
		level[n] = l
		return l
	}
	var levels [][]string
	for _, n := range names {
		l := depth(n)
		for len(levels) <= l {
			levels = append(levels, nil)
		}
		levels[l] = append(levels[l], n)
	}
	return levels, nil
}

// findCycle answers a cycle among the dependencies (first name repeated last), nil when none; it
// visits names in order, so the same graph always names the same cycle.
func findCycle(names []string, deps map[string][]string) []string {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(string) []string
	visit = func(n string) []string {
		state[n] = visiting
		stack = append(stack, n)
		on := slices.Clone(deps[n])
		slices.Sort(on)
		for _, d := range on {
			switch state[d] {
			case visiting:
				i := slices.Index(stack, d)
				return append(slices.Clone(stack[i:]), d)
			case unvisited:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		return nil
	}
	for _, n := range names {
		if state[n] == unvisited {
			if c := visit(n); c != nil {
				return c
			}
		}
	}
	return nil
}
