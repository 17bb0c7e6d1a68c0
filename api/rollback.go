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

// rollbackRequest is the body of POST .../rollbacks.
type rollbackRequest struct {
	ReleaseID string `json:"releaseId"`
}

func (req *rollbackRequest) validate() error {
	if req.ReleaseID == "" {
		return validationProblem("rollback request", []FieldError{{Field: "releaseId", Reason: "is required"}})
	}
	return nil
}

// createRollback starts a Rollback operation that runs the component at one of its earlier releases
// again: the release's image by digest and its whole spec (env, ports, probes, resources), not only the
// image, and its secret env version. Once the workflow started, the release's spec becomes the
// component's stored spec, and its secret env the component's latest secret env version (a new
// version with the release's values, when they are not the latest already), so the next deploy keeps
// them.
func (s *Server) createRollback(w http.ResponseWriter, r *http.Request) error {
	var req rollbackRequest
	var rel store.Release
	var deps []contract.Dependency
	var restoreSecretEnv func(ctx context.Context, by string) error
	var restoreRoutes func(ctx context.Context) error
	return s.startOperation(w, r, operationKind{
		kind: contract.OperationRollback, workflow: contract.WorkflowRollback,
		body: &req, bodyRequired: true, validate: req.validate,
		check: func(ctx context.Context, c store.Component) error {
			var err error
			if rel, err = s.releaseOf(ctx, c, req.ReleaseID); err != nil {
				return err
			}
			if deps, err = s.dependenciesOf(ctx, c, rel.Spec); err != nil {
				return err
			}
			if restoreSecretEnv, err = s.secretEnvRestore(ctx, c, rel); err != nil {
				return err
			}
			if restoreRoutes, err = s.routesRestore(ctx, c, rel); err != nil {
				return err
			}
			return s.checkImage(ctx, rel.ImageDigest)
		},
		started: func(ctx context.Context, o startingOperation) error {
			err := s.storeSpec(ctx, o.Component, "the spec of release "+rel.ID, func(spec *contract.ComponentSpec) bool {
				if reflect.DeepEqual(*spec, rel.Spec) {
					return false
				}
				*spec = rel.Spec
				return true
			})
			if err == nil && restoreSecretEnv != nil {
				err = restoreSecretEnv(ctx, o.RequestedBy)
			}
			if err == nil && restoreRoutes != nil {
				err = restoreRoutes(ctx)
			}
			if err != nil {
				return &Problem{Type: typeStoreUnavailable, Status: http.StatusServiceUnavailable,
					Detail: fmt.Sprintf("the rollback of component %q started as operation %s, but storing the release's spec, secret env or routes failed (%v); "+
						"retry the request with the same Idempotency-Key to finish it", o.Component.Name, o.ID, err)}
			}
			return nil
		},
		input: func(o startingOperation) any {
			spec := rel.Spec
			spec.Image = rel.ImageDigest
			return contract.RollbackInput{ToReleaseID: rel.ID, Deploy: contract.DeployInput{
				OperationID: o.ID, Ref: o.Ref, ComponentID: o.Component.ID, Spec: spec, RequestedBy: o.RequestedBy,
				Dependencies: deps, SecretEnvVersion: rel.SecretEnvVersion, Routes: rel.Routes,
			}}
		},
	})
}

// releaseOf reads a release of the component; a release of another component is not found.
func (s *Server) releaseOf(ctx context.Context, c store.Component, id string) (store.Release, error) {
	rel, err := s.store.GetRelease(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rel.ComponentID != c.ID) {
		return store.Release{}, notFound("release %q is not a release of component %q", id, c.Name)
	}
	if err != nil {
		return store.Release{}, fmt.Errorf("read release %s: %w", id, err)
	}
	return rel, nil
}
