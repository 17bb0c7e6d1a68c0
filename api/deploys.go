package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// deployRequest is the body of POST .../deploys: the deploy rolls the component out to its stored
// spec, so the body may be absent or {}; it only tunes how the rollout is judged.
type deployRequest struct {
	// NoRollback keeps a failed upgrade in place instead of going back to the release that ran before.
	NoRollback bool `json:"noRollback"`
	// RolloutTimeoutSeconds bounds the wait for the new pods to be ready (default 300).
	RolloutTimeoutSeconds *int32 `json:"rolloutTimeoutSeconds"`
}

// maxRolloutTimeoutSeconds bounds a deploy's rollout timeout to an hour.
const maxRolloutTimeoutSeconds = 3600

func (req *deployRequest) validate() error {
	if t := req.RolloutTimeoutSeconds; t != nil && (*t < 1 || *t > maxRolloutTimeoutSeconds) {
		return validationProblem("deploy request", []FieldError{{Field: "rolloutTimeoutSeconds",
			Reason: fmt.Sprintf("%d is out of range: 1 to %d seconds", *t, maxRolloutTimeoutSeconds)}})
	}
	return nil
}

func (req *deployRequest) timeout() int32 {
	if req.RolloutTimeoutSeconds == nil {
		return 0
	}
	return *req.RolloutTimeoutSeconds
}

// createDeploy starts a Deploy operation of the component at its current spec, once its image is
// known to be in the registry; startOperation does the rest.
func (s *Server) createDeploy(w http.ResponseWriter, r *http.Request) error {
	var req deployRequest
	return s.startOperation(w, r, s.deployKind(&req))
}

// deployKind answers how a deploy with the request's options starts (its body decodes into req).
func (s *Server) deployKind(req *deployRequest) operationKind {
	var deps []contract.Dependency
	var secretEnv int64 // the secret env version: a number, never values
	var routes []contract.Route
	return operationKind{
		kind: contract.OperationDeploy, workflow: contract.WorkflowDeploy, body: req, validate: req.validate,
		check: func(ctx context.Context, c store.Component) error {
			var err error
			if deps, err = s.dependenciesOf(ctx, c, c.Spec); err != nil {
				return err
			}
			if secretEnv, err = s.secretEnvForDeploy(ctx, c, c.Spec); err != nil {
				return err
			}
			if routes, err = s.routesForDeploy(ctx, c, c.Spec); err != nil {
				return err
			}
			return s.checkImage(ctx, c.Spec.Image)
		},
		input: func(o startingOperation) any {
			return contract.DeployInput{
				OperationID: o.ID, Ref: o.Ref, ComponentID: o.Component.ID, Spec: o.Component.Spec, RequestedBy: o.RequestedBy,
				NoRollback: req.NoRollback, RolloutTimeoutSeconds: req.timeout(), Dependencies: deps,
				SecretEnvVersion: secretEnv, Routes: routes,
			}
		},
	}
}

// dependenciesOf answers the components the spec depends on with their ports, read from the store,
// for their env in the component's containers; a dependency the app does not have is a 422.
func (s *Server) dependenciesOf(ctx context.Context, c store.Component, spec contract.ComponentSpec) ([]contract.Dependency, error) {
	var deps []contract.Dependency
	var errs []FieldError
	for i, name := range spec.DependsOn {
		dep, err := s.store.GetComponent(ctx, c.AppID, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			errs = append(errs, FieldError{Field: fmt.Sprintf("spec.dependsOn[%d]", i),
				Reason: fmt.Sprintf("component %q is not in the app: create it, or remove it from dependsOn", name)})
			continue
		case err != nil:
			return nil, fmt.Errorf("read dependency %q of component %q: %w", name, c.Name, err)
		}
		deps = append(deps, contract.Dependency{Component: name, Ports: dep.Spec.Ports})
	}
	if len(errs) > 0 {
		return nil, validationProblem(fmt.Sprintf("the dependencies of component %q", c.Name), errs)
	}
	return deps, nil
}

// checkImage answers a problem when the component's image is not in its registry, or the registry
// cannot say.
func (s *Server) checkImage(ctx context.Context, image string) error {
	_, err := s.images.CheckImage(ctx, image)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrImageNotFound):
		return &Problem{Type: typeImageNotFound, Status: http.StatusUnprocessableEntity,
			Detail: fmt.Sprintf("image %q not found in registry (%v); push it, or change the component's spec.image", image, err),
			Errors: []FieldError{{Field: "spec.image", Reason: "not found in registry"}}}
	case errors.Is(err, ErrImageDenied):
		return &Problem{Type: typeImageDenied, Status: http.StatusUnprocessableEntity,
			Detail: fmt.Sprintf("registry denied access to image %q (%v)", image, err),
			Errors: []FieldError{{Field: "spec.image", Reason: "registry denied access"}}}
	case errors.Is(err, ErrRegistryUnreachable):
		return &Problem{Type: typeRegistryUnavailable, Status: http.StatusServiceUnavailable,
			Detail: fmt.Sprintf("cannot reach the registry of image %q: %v", image, err)}
	default:
		return &Problem{Type: typeRegistryUnavailable, Status: http.StatusBadGateway,
			Detail: fmt.Sprintf("the registry of image %q failed: %v", image, err)}
	}
}
