package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// idempotencyKeyHeader names the header that makes a POST safe to retry: the same key in the same
// tenant answers the same operation instead of starting another.
const idempotencyKeyHeader = "Idempotency-Key"

// deployRequest is the body of POST .../deploys: the deploy rolls the component out to its stored
// spec, so the body may be absent or {}.
type deployRequest struct{}

// createDeploy starts a Deploy operation of the component at its current spec: it checks that the
// image exists, records the operation, starts its workflow and answers 202 with where to follow it.
func (s *Server) createDeploy(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	t, a, c, err := s.componentOf(r)
	if err != nil {
		return err
	}
	key := r.Header.Get(idempotencyKeyHeader)
	if key != "" {
		if p := validateIdempotencyKey(key); p != nil {
			return p
		}
	}
	var req deployRequest
	if err := decodeOptionalJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}

	// A retried request finds the operation its first try recorded.
	var op store.Operation
	if key != "" {
		existing, found, err := s.operationByKey(ctx, t, c, key)
		if err != nil {
			return err
		}
		if found && existing.RunID != "" {
			s.acceptDeploy(w, t, existing, true)
			return nil
		}
		op = existing // recorded, but its start was not: start it (again) below
	}

	if ifMatch := r.Header.Get("If-Match"); ifMatch != "" && !ifMatches(ifMatch, etagOf(c.Version)) {
		return preconditionFailed(fmt.Sprintf("component %q", c.Name), ifMatch, etagOf(c.Version))
	}
	if err := s.checkImage(ctx, c.Spec.Image); err != nil {
		return err
	}

	ref := contract.ComponentRef{Tenant: t.Name, App: a.Name, Component: c.Name}
	principal, _ := PrincipalFrom(ctx)
	if op.ID == "" {
		op, err = s.store.CreateOperation(ctx, store.Operation{
			TenantID: t.ID, ComponentID: c.ID, Kind: contract.OperationDeploy,
			WorkflowID: contract.ComponentWorkflowID(ref), IdempotencyKey: key, RequestedBy: principal.Name,
		})
		if errors.Is(err, store.ErrAlreadyExists) && key != "" {
			// a concurrent request with the same key recorded it first: go on with that one
			existing, _, kerr := s.operationByKey(ctx, t, c, key)
			if kerr != nil {
				return kerr
			}
			if existing.RunID != "" {
				s.acceptDeploy(w, t, existing, true)
				return nil
			}
			op, err = existing, nil
		}
		if err != nil {
			return fmt.Errorf("record deploy operation: %w", err)
		}
	}

	runID, err := s.wf.StartDeploy(ctx, contract.DeployInput{
		OperationID: op.ID, Ref: ref, ComponentID: c.ID, Spec: c.Spec, RequestedBy: principal.Name,
	})
	var busy *BusyError
	switch {
	case errors.As(err, &busy) && busy.OperationID == op.ID:
		runID = busy.RunID // an earlier try of this same request started it
	case errors.As(err, &busy):
		s.forgetOperation(ctx, op)
		return busyProblem(t, c, busy)
	case err != nil:
		s.forgetOperation(ctx, op)
		return &Problem{Type: typeWorkflowsUnavailable, Status: http.StatusServiceUnavailable,
			Detail: fmt.Sprintf("start the deploy of component %q: %v", c.Name, err)}
	}
	if err := s.store.SetOperationRunID(ctx, op.ID, runID); err != nil {
		return fmt.Errorf("record run %s of operation %s: %w", runID, op.ID, err)
	}
	op.RunID = runID
	s.logger.InfoContext(ctx, "started operation", "tenant", t.Name, "app", a.Name, "component", c.Name,
		"operation_id", op.ID, "kind", op.Kind, "workflow_id", op.WorkflowID, "run_id", runID,
		"principal", principal.Name, "request_id", RequestIDFrom(ctx))
	s.acceptDeploy(w, t, op, false)
	return nil
}

// operationByKey answers the tenant's operation recorded with the idempotency key, if any. A key used
// for another component or kind of operation is the client's mistake: 422.
func (s *Server) operationByKey(ctx context.Context, t store.Tenant, c store.Component, key string) (store.Operation, bool, error) {
	op, err := s.store.GetOperationByIdempotencyKey(ctx, t.ID, key)
	if errors.Is(err, store.ErrNotFound) {
		return store.Operation{}, false, nil
	}
	if err != nil {
		return store.Operation{}, false, err
	}
	if op.ComponentID != c.ID || op.Kind != contract.OperationDeploy {
		return store.Operation{}, false, &Problem{
			Type: typeIdempotencyKeyReused, Status: http.StatusUnprocessableEntity,
			Detail: fmt.Sprintf("Idempotency-Key %q was used for operation %s (%s of another component); use a new key for a new request", key, op.ID, op.Kind),
			Errors: []FieldError{{Field: idempotencyKeyHeader, Reason: "was used for another request"}},
		}
	}
	return op, true, nil
}

// acceptDeploy answers 202 with the operation to follow; a replay answers the same body.
func (s *Server) acceptDeploy(w http.ResponseWriter, t store.Tenant, op store.Operation, replayed bool) {
	self := operationPath(t.Name, op.ID)
	links := map[string]string{"operation": self, "cancel": self + "/cancel"}
	if ui := s.temporalLink(op.WorkflowID, op.RunID); ui != "" {
		links["temporalUI"] = ui
	}
	w.Header().Set("Location", self)
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, http.StatusAccepted, deployAccepted{OperationID: op.ID, WorkflowID: op.WorkflowID, RunID: op.RunID, Links: links})
}

// forgetOperation takes back the record of an operation whose workflow did not start, so that it
// never shows as an operation and its idempotency key may be used again.
func (s *Server) forgetOperation(ctx context.Context, op store.Operation) {
	if err := s.store.DeleteOperation(ctx, op.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.logger.ErrorContext(ctx, "forget operation that did not start", "operation_id", op.ID, "error", err)
	}
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

// busyProblem answers 409 naming the operation the component runs.
func busyProblem(t store.Tenant, c store.Component, busy *BusyError) *Problem {
	running := "an operation"
	ref := &OperationRef{WorkflowID: busy.WorkflowID, RunID: busy.RunID, ID: busy.OperationID, Kind: busy.Kind}
	if busy.OperationID != "" {
		running = fmt.Sprintf("operation %s (%s)", busy.OperationID, busy.Kind)
		ref.Href = operationPath(t.Name, busy.OperationID)
	}
	return &Problem{
		Type: typeBusy, Status: http.StatusConflict, Operation: ref,
		Detail: fmt.Sprintf("component %q is busy: %s is running as workflow %s run %s; wait for it to finish or cancel it",
			c.Name, running, busy.WorkflowID, busy.RunID),
	}
}
