package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// The lifecycle operations of a deployed component: start, stop, restart and scale. Each goes through
// the component's queue, started by startOperation exactly as a deploy is. The *Kind functions answer
// how an operation is started; app-level operations use them for each component.

// createStart starts a Start operation: the workload goes back to the replicas of the stored spec.
func (s *Server) createStart(w http.ResponseWriter, r *http.Request) error {
	return s.startOperation(w, r, startKind())
}

func startKind() operationKind {
	return operationKind{
		kind: contract.OperationStart, workflow: contract.WorkflowStart,
		check: func(_ context.Context, c store.Component) error {
			if c.Spec.Replicas < 1 {
				return &Problem{Type: typeValidation, Status: http.StatusUnprocessableEntity,
					Detail: fmt.Sprintf(`component %q has 0 replicas in its spec, so starting it would run nothing; scale it instead (POST .../components/%s/scale {"replicas": n})`,
						c.Name, c.Name),
					Errors: []FieldError{{Field: "spec.replicas", Reason: "is 0"}}}
			}
			return nil
		},
		input: func(o startingOperation) any {
			return contract.StartInput{OperationID: o.ID, Ref: o.Ref, ComponentID: o.Component.ID,
				Replicas: o.Component.Spec.Replicas, RequestedBy: o.RequestedBy}
		},
	}
}

// createStop starts a Stop operation: the workload goes to zero replicas, every other object stays.
func (s *Server) createStop(w http.ResponseWriter, r *http.Request) error {
	return s.startOperation(w, r, stopKind())
}

func stopKind() operationKind {
	return operationKind{
		kind: contract.OperationStop, workflow: contract.WorkflowStop,
		input: func(o startingOperation) any {
			return contract.StopInput{OperationID: o.ID, Ref: o.Ref, ComponentID: o.Component.ID, RequestedBy: o.RequestedBy}
		},
	}
}

// createRestart starts a Restart operation: a rolling replacement of every pod, without downtime.
func (s *Server) createRestart(w http.ResponseWriter, r *http.Request) error {
	return s.startOperation(w, r, restartKind())
}

func restartKind() operationKind {
	return operationKind{
		kind: contract.OperationRestart, workflow: contract.WorkflowRestart,
		input: func(o startingOperation) any {
			return contract.RestartInput{OperationID: o.ID, Ref: o.Ref, ComponentID: o.Component.ID, RequestedBy: o.RequestedBy}
		},
	}
}

// scaleRequest is the body of POST .../scale.
// scaleRequest is the body of POST .../scale: replicas (horizontal), resources (vertical), or both.
type scaleRequest struct {
	Replicas *int32 `json:"replicas"`
	// Resources replace the component's requests and limits: a rolling deploy of the changed spec.
	Resources *contract.Resources `json:"resources"`
}

func (req *scaleRequest) validate() error {
	var errs fieldErrors
	switch {
	case req.Replicas == nil && req.Resources == nil:
		errs.add("replicas", "is required (or resources, for a vertical scale)")
	case req.Replicas != nil && (*req.Replicas < 0 || *req.Replicas > contract.MaxReplicas):
		errs.add("replicas", fmt.Sprintf("must be between 0 and %d", contract.MaxReplicas))
	}
	if req.Resources != nil {
		validateResources(&errs, "resources", *req.Resources)
	}
	if len(errs) > 0 {
		return validationProblem("scale request", errs)
	}
	return nil
}

// createScale queues a Scale operation. Once it is queued, the new replicas are stored in the
// component's spec, so the next deploy keeps them. Storing them only then (rather than before) means a
// refused scale changes nothing.
//
// With resources (a vertical scale) it is a rolling deploy of the spec with the new resources (and
// replicas, when given): queued as a scale operation that runs the Deploy workflow, so a failed one
// goes back to the release that ran before; the spec is stored once the operation is queued.
func (s *Server) createScale(w http.ResponseWriter, r *http.Request) error {
	var req scaleRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	if req.Resources != nil {
		return s.startOperation(w, r, s.verticalScaleKind(&req))
	}
	return s.startOperation(w, r, operationKind{
		kind: contract.OperationScale, workflow: contract.WorkflowScale,
		started: func(ctx context.Context, o startingOperation) error {
			if err := s.storeReplicas(ctx, o.Component, *req.Replicas); err != nil {
				return &Problem{Type: typeStoreUnavailable, Status: http.StatusServiceUnavailable,
					Detail: fmt.Sprintf("the scale of component %q started as operation %s, but storing its replicas failed (%v); "+
						"retry the request with the same Idempotency-Key to finish it", o.Component.Name, o.ID, err)}
			}
			return nil
		},
		input: func(o startingOperation) any {
			return contract.ScaleInput{OperationID: o.ID, Ref: o.Ref, ComponentID: o.Component.ID,
				Replicas: *req.Replicas, RequestedBy: o.RequestedBy}
		},
	})
}

// verticalScaleKind answers how a vertical scale starts: a deploy of the component's spec with the
// request's resources (and replicas), checked as a deploy is.
func (s *Server) verticalScaleKind(req *scaleRequest) operationKind {
	deploy := s.deployKind(&deployRequest{})
	scaled := func(spec contract.ComponentSpec) contract.ComponentSpec {
		spec.Resources = *req.Resources
		if req.Replicas != nil {
			spec.Replicas = *req.Replicas
		}
		return spec
	}
	return operationKind{
		kind: contract.OperationScale, workflow: contract.WorkflowDeploy,
		check: func(ctx context.Context, c store.Component) error {
			c.Spec = scaled(c.Spec)
			var errs fieldErrors
			validateResources(&errs, "resources", c.Spec.Resources)
			if len(errs) > 0 {
				return validationProblem("scale request", errs)
			}
			return deploy.check(ctx, c)
		},
		started: func(ctx context.Context, o startingOperation) error {
			err := s.storeSpec(ctx, o.Component, "resources", func(spec *contract.ComponentSpec) bool {
				next := scaled(*spec)
				if reflect.DeepEqual(next, *spec) {
					return false
				}
				*spec = next
				return true
			})
			if err != nil {
				return &Problem{Type: typeStoreUnavailable, Status: http.StatusServiceUnavailable,
					Detail: fmt.Sprintf("the scale of component %q started as operation %s, but storing its resources failed (%v); "+
						"retry the request with the same Idempotency-Key to finish it", o.Component.Name, o.ID, err)}
			}
			return nil
		},
		input: func(o startingOperation) any {
			o.Component.Spec = scaled(o.Component.Spec)
			return deploy.input(o)
		},
	}
}

// storeSpecAttempts bounds how often storeSpec reads a component that changed under it again.
const storeSpecAttempts = 5

// storeReplicas writes the replicas into the component's stored spec.
func (s *Server) storeReplicas(ctx context.Context, c store.Component, replicas int32) error {
	return s.storeSpec(ctx, c, fmt.Sprintf("replicas %d", replicas), func(spec *contract.ComponentSpec) bool {
		if spec.Replicas == replicas {
			return false
		}
		spec.Replicas = replicas
		return true
	})
}

// storeSpec changes the component's stored spec with change, optimistically at the version it read; a
// component that changed meanwhile (its spec replaced by a PUT) is read again and changed again. A
// change that reports nothing to change is not written.
func (s *Server) storeSpec(ctx context.Context, c store.Component, what string, change func(*contract.ComponentSpec) bool) error {
	for attempt := 1; ; attempt++ {
		spec := c.Spec
		if !change(&spec) {
			return nil
		}
		_, err := s.store.UpdateComponentSpec(ctx, c.ID, c.Version, spec)
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt == storeSpecAttempts {
			return fmt.Errorf("store %s of component %q: %w", what, c.Name, err)
		}
		current, err := s.store.GetComponentByID(ctx, c.ID)
		if err != nil {
			return fmt.Errorf("store %s of component %q: %w", what, c.Name, err)
		}
		c = current
	}
}
