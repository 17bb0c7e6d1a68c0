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

// operationKind says how startOperation starts one kind of operation on a component.
type operationKind struct {
	kind     contract.OperationKind
	workflow string // the contract.Workflow* the operation runs
	// body is what the request's JSON body decodes into, strictly (no unknown fields); nil takes only
	// {}. An absent body is {} unless bodyRequired.
	body         any
	bodyRequired bool
	// validate checks the decoded body; nil checks nothing.
	validate func() error
	// check answers a problem when the component cannot run the operation (its image is missing, its
	// spec asks for no replicas, ...). Like prepare, it runs for a new operation only, never for a
	// retry that its Idempotency-Key recognized.
	check func(ctx context.Context, c store.Component) error
	// started runs once the workflow started (or was found started by an earlier try of the same
	// request), before the operation records its run: a scale stores its replicas there, so that a
	// request refused as busy never changes the component. Its failure leaves the run unrecorded, and a
	// retry with the same Idempotency-Key runs it again.
	started func(ctx context.Context, o startingOperation) error
	// input is the workflow's input for the recorded operation.
	input func(o startingOperation) any
}

// startingOperation is what an operation's workflow input is made of.
type startingOperation struct {
	ID          string
	Ref         contract.ComponentRef
	Component   store.Component
	RequestedBy string
}

// startOperation starts an operation of the kind on the component the path names: it decodes and
// checks the request, records the operation, starts its workflow under the component's workflow id
// and answers 202 with where to follow it. The same Idempotency-Key answers the same operation; a
// component busy with another operation answers 409 naming it; Temporal unreachable answers 503. An
// operation refused for any reason leaves no record and no change behind.
func (s *Server) startOperation(w http.ResponseWriter, r *http.Request, k operationKind) error {
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
	if err := s.decodeOperationBody(w, r, k); err != nil {
		return err
	}

	// A retried request finds the operation its first try recorded.
	var op store.Operation
	if key != "" {
		existing, found, err := s.operationByKey(ctx, t, c, k.kind, key)
		if err != nil {
			return err
		}
		if found && existing.RunID != "" {
			s.acceptOperation(w, t, existing, true)
			return nil
		}
		op = existing // recorded, but its start was not: start it (again) below
	}

	if ifMatch := r.Header.Get("If-Match"); ifMatch != "" && !ifMatches(ifMatch, etagOf(c.Version)) {
		return preconditionFailed(fmt.Sprintf("component %q", c.Name), ifMatch, etagOf(c.Version))
	}
	if k.check != nil {
		if err := k.check(ctx, c); err != nil {
			return err
		}
	}

	ref := contract.ComponentRef{Tenant: t.Name, App: a.Name, Component: c.Name}
	principal, _ := PrincipalFrom(ctx)
	if op.ID == "" {
		op, err = s.store.CreateOperation(ctx, store.Operation{
			TenantID: t.ID, ComponentID: c.ID, Kind: k.kind,
			WorkflowID: contract.ComponentWorkflowID(ref), IdempotencyKey: key, RequestedBy: principal.Name,
		})
		if errors.Is(err, store.ErrAlreadyExists) && key != "" {
			// a concurrent request with the same key recorded it first: go on with that one
			existing, _, kerr := s.operationByKey(ctx, t, c, k.kind, key)
			if kerr != nil {
				return kerr
			}
			if existing.RunID != "" {
				s.acceptOperation(w, t, existing, true)
				return nil
			}
			op, err = existing, nil
		}
		if err != nil {
			return fmt.Errorf("record %s operation: %w", k.kind, err)
		}
	}

	starting := startingOperation{ID: op.ID, Ref: ref, Component: c, RequestedBy: principal.Name}
	runID, err := s.wf.Start(ctx, WorkflowStart{
		Workflow: k.workflow, Kind: k.kind, OperationID: op.ID, Ref: ref, Input: k.input(starting),
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
			Detail: fmt.Sprintf("start the %s of component %q: %v", k.kind, c.Name, err)}
	}
	if k.started != nil {
		if err := k.started(ctx, starting); err != nil {
			return err
		}
	}
	if err := s.store.SetOperationRunID(ctx, op.ID, runID); err != nil {
		return fmt.Errorf("record run %s of operation %s: %w", runID, op.ID, err)
	}
	op.RunID = runID
	s.logger.InfoContext(ctx, "started operation", "tenant", t.Name, "app", a.Name, "component", c.Name,
		"operation_id", op.ID, "kind", op.Kind, "workflow_id", op.WorkflowID, "run_id", runID,
		"principal", principal.Name, "request_id", RequestIDFrom(ctx))
	s.acceptOperation(w, t, op, false)
	return nil
}

// decodeOperationBody decodes and validates the request's body as the kind takes it.
func (s *Server) decodeOperationBody(w http.ResponseWriter, r *http.Request, k operationKind) error {
	body := k.body
	if body == nil {
		body = &struct{}{}
	}
	decode := decodeOptionalJSON
	if k.bodyRequired {
		decode = decodeJSON
	}
	if err := decode(w, r, s.cfg.MaxBodyBytes, body); err != nil {
		return err
	}
	if k.validate != nil {
		return k.validate()
	}
	return nil
}

// operationByKey answers the tenant's operation recorded with the idempotency key, if any. A key used
// for another component or kind of operation is the client's mistake: 422.
func (s *Server) operationByKey(ctx context.Context, t store.Tenant, c store.Component, kind contract.OperationKind, key string) (store.Operation, bool, error) {
	op, err := s.store.GetOperationByIdempotencyKey(ctx, t.ID, key)
	if errors.Is(err, store.ErrNotFound) {
		return store.Operation{}, false, nil
	}
	if err != nil {
		return store.Operation{}, false, err
	}
	if op.ComponentID != c.ID || op.Kind != kind {
		of := "another component"
		if op.ComponentID == c.ID {
			of = fmt.Sprintf("component %q", c.Name)
		}
		return store.Operation{}, false, &Problem{
			Type: typeIdempotencyKeyReused, Status: http.StatusUnprocessableEntity,
			Detail: fmt.Sprintf("Idempotency-Key %q was used for operation %s (%s of %s); use a new key for a new request", key, op.ID, op.Kind, of),
			Errors: []FieldError{{Field: idempotencyKeyHeader, Reason: "was used for another request"}},
		}
	}
	return op, true, nil
}

// acceptOperation answers 202 with the operation to follow; a replay answers the same body.
func (s *Server) acceptOperation(w http.ResponseWriter, t store.Tenant, op store.Operation, replayed bool) {
	self := operationPath(t.Name, op.ID)
	links := map[string]string{"operation": self, "cancel": self + "/cancel"}
	if ui := s.temporalLink(op.WorkflowID, op.RunID); ui != "" {
		links["temporalUI"] = ui
	}
	w.Header().Set("Location", self)
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, http.StatusAccepted, operationAccepted{
		OperationID: op.ID, Kind: string(op.Kind), WorkflowID: op.WorkflowID, RunID: op.RunID, Links: links,
	})
}

// forgetOperation takes back the record of an operation whose workflow did not start, so that it
// never shows as an operation and its idempotency key may be used again.
func (s *Server) forgetOperation(ctx context.Context, op store.Operation) {
	if err := s.store.DeleteOperation(context.WithoutCancel(ctx), op.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.logger.ErrorContext(ctx, "forget operation that did not start", "operation_id", op.ID, "error", err)
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
