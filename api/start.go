package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/google/uuid"

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
	// started runs once the operation is in its component's queue (or was found there by an earlier
	// try of the same request), before the operation records its queue run: a scale stores its replicas
	// there, so that a request refused (queue full, Temporal down) never changes the component. Requests
	// with a started run one at a time per component (lockComponent), so the stored spec ends as the
	// last queued one's. Its failure leaves the operation unrecorded as queued, and a retry with the
	// same Idempotency-Key runs it again.
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
		if found && s.answerStarted(ctx, w, t, existing) {
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
		id := uuid.NewString()
		op, err = s.store.CreateOperation(ctx, store.Operation{
			ID: id, TenantID: t.ID, ComponentID: c.ID, Kind: k.kind,
			WorkflowID: contract.OperationWorkflowID(k.kind, ref, id), IdempotencyKey: key, RequestedBy: principal.Name,
		})
		if errors.Is(err, store.ErrAlreadyExists) && key != "" {
			// a concurrent request with the same key recorded it first: go on with that one
			existing, _, kerr := s.operationByKey(ctx, t, c, k.kind, key)
			if kerr != nil {
				return kerr
			}
			if s.answerStarted(ctx, w, t, existing) {
				return nil
			}
			op, err = existing, nil
		}
		if err != nil {
			return fmt.Errorf("record %s operation: %w", k.kind, err)
		}
	}

	starting := startingOperation{ID: op.ID, Ref: ref, Component: c, RequestedBy: op.RequestedBy}
	input := k.input(starting)
	merge, err := mergeKey(k.kind, input)
	if err != nil {
		s.forgetOperation(ctx, op)
		return err
	}
	if k.started != nil {
		// What started stores must end as the last queued operation's: queue and store one at a time.
		unlock := s.lockComponent(c.ID)
		defer unlock()
	}
	enq, err := s.wf.Enqueue(ctx, WorkflowStart{
		Workflow: k.workflow, Kind: k.kind, OperationID: op.ID, Ref: ref, Input: input,
		RequestedBy: op.RequestedBy, MergeKey: merge,
	})
	switch {
	case errors.Is(err, ErrQueueFull):
		s.forgetOperation(ctx, op)
		return &Problem{Type: typeQueueFull, Status: http.StatusTooManyRequests, RetryAfter: 10,
			Detail: fmt.Sprintf("component %q cannot take another operation now: %v", c.Name, err)}
	case err != nil:
		s.forgetOperation(ctx, op)
		return &Problem{Type: typeWorkflowsUnavailable, Status: http.StatusServiceUnavailable,
			Detail: fmt.Sprintf("queue the %s of component %q: %v", k.kind, c.Name, err)}
	}
	if enq.Merged && enq.OperationID != op.ID {
		// The same request already waits in the queue: this one is that one.
		s.forgetOperation(ctx, op)
		merged, err := s.store.GetOperation(ctx, t.ID, enq.OperationID)
		if err != nil {
			return fmt.Errorf("read operation %s that %s was merged into: %w", enq.OperationID, k.kind, err)
		}
		s.logger.InfoContext(ctx, "merged operation into a waiting one", "tenant", t.Name, "app", a.Name,
			"component", c.Name, "operation_id", merged.ID, "kind", merged.Kind, "position", enq.Position,
			"principal", principal.Name, "request_id", RequestIDFrom(ctx))
		noteOperation(ctx, merged.ID)
		s.acceptOperation(w, t, merged, &enq.EnqueueResult)
		return nil
	}
	if k.started != nil {
		if err := k.started(ctx, starting); err != nil {
			return err
		}
	}
	if err := s.store.SetOperationRunID(ctx, op.ID, enq.QueueRunID); err != nil {
		return fmt.Errorf("record queue run %s of operation %s: %w", enq.QueueRunID, op.ID, err)
	}
	op.RunID = enq.QueueRunID
	s.logger.InfoContext(ctx, "queued operation", "tenant", t.Name, "app", a.Name, "component", c.Name,
		"operation_id", op.ID, "kind", op.Kind, "workflow_id", op.WorkflowID, "queue_run_id", op.RunID,
		"position", enq.Position, "principal", principal.Name, "request_id", RequestIDFrom(ctx))
	noteOperation(ctx, op.ID)
	s.acceptOperation(w, t, op, &enq.EnqueueResult)
	return nil
}

// lockComponent serializes, in this process, the requests on one component that store what they
// queue (see operationKind.started); it answers the unlock.
func (s *Server) lockComponent(componentID string) func() {
	v, _ := s.componentLocks.LoadOrStore(componentID, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
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

// acceptOperation answers 202 with the operation to follow and where it is in its component's queue;
// a replay (enq nil) answers without the position, which GET .../operations/{id} tells.
func (s *Server) acceptOperation(w http.ResponseWriter, t store.Tenant, op store.Operation, enq *contract.EnqueueResult) {
	w.Header().Set("Location", operationPath(t.Name, op.ID))
	if enq == nil {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, http.StatusAccepted, s.acceptedOperation(t, op, enq))
}

// acceptedOperation is the view of an operation taken into its queue (see acceptOperation).
func (s *Server) acceptedOperation(t store.Tenant, op store.Operation, enq *contract.EnqueueResult) operationAccepted {
	self := operationPath(t.Name, op.ID)
	links := map[string]string{"operation": self, "cancel": self + "/cancel"}
	if ui := s.temporalWorkflowLink(op.WorkflowID); ui != "" {
		links["temporalUI"] = ui
	}
	body := operationAccepted{OperationID: op.ID, Kind: string(op.Kind), WorkflowID: op.WorkflowID, Links: links}
	switch {
	case enq == nil:
		body.State = "accepted"
	case enq.Merged:
		body.State, body.Merged, body.Position = "merged", true, &enq.Position
	case enq.Position > 0:
		body.State, body.Position = "queued", &enq.Position
	case enq.Done:
		body.State = "done"
	case enq.Pending:
		body.State = statePending
	default:
		body.State, body.Position = "running", &enq.Position
	}
	return body
}

// forgetOperation takes back the record of an operation whose workflow did not start, so that it
// never shows as an operation and its idempotency key may be used again.
// answerStarted answers 202 with the operation an earlier try of the request (the same Idempotency-Key)
// started; false, answering nothing, when that try recorded it but never started it.
func (s *Server) answerStarted(ctx context.Context, w http.ResponseWriter, t store.Tenant, op store.Operation) bool {
	if op.RunID == "" {
		return false
	}
	noteOperation(ctx, op.ID)
	s.acceptOperation(w, t, op, nil)
	return true
}

func (s *Server) forgetOperation(ctx context.Context, op store.Operation) {
	if err := s.store.DeleteOperation(context.WithoutCancel(ctx), op.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.logger.ErrorContext(ctx, "forget operation that did not start", "operation_id", op.ID, "error", err)
	}
}

// mergeKey is equal for two requests of the kind that would do the same: their workflow inputs are
// equal but for the operation's id and who asked.
func mergeKey(kind contract.OperationKind, input any) (string, error) {
	raw, err := json.Marshal(input)
	if err != nil {
		return "", fmt.Errorf("encode %s input: %w", kind, err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("decode %s input: %w", kind, err)
	}
	canonical, err := json.Marshal(withoutRequestFields(v)) // maps marshal with sorted keys
	if err != nil {
		return "", fmt.Errorf("encode %s input: %w", kind, err)
	}
	sum := sha256.Sum256(canonical)
	return string(kind) + ":" + hex.EncodeToString(sum[:]), nil
}

// withoutRequestFields drops the fields that name the request rather than what it does.
func withoutRequestFields(v any) any {
	switch v := v.(type) {
	case map[string]any:
		delete(v, "operationId")
		delete(v, "requestedBy")
		for k, e := range v {
			v[k] = withoutRequestFields(e)
		}
	case []any:
		for i, e := range v {
			v[i] = withoutRequestFields(e)
		}
	}
	return v
}
