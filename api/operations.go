package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/rainflow/rainflow/store"
)

// statePending is an operation recorded whose workflow has not started yet.
const statePending = "pending"

// listOperations answers the component's operations, newest first, from the store: their states are
// in GET .../operations/{operation}, which asks Temporal.
func (s *Server) listOperations(w http.ResponseWriter, r *http.Request) error {
	t, a, c, err := s.componentOf(r)
	if err != nil {
		return err
	}
	page, err := pageOf(r)
	if err != nil {
		return err
	}
	ops, next, err := s.store.ListOperations(r.Context(), c.ID, page)
	if err != nil {
		return listError(err)
	}
	n := names{tenant: t.Name, app: a.Name, component: c.Name}
	views := make([]operationView, len(ops))
	for i, op := range ops {
		views[i] = newOperationView(n, op, s.temporalLink(op.WorkflowID, op.RunID))
	}
	writeList(w, r, views, next)
	return nil
}

// getOperation answers the operation with its state, steps, times, and error or result, read from
// its workflow run in Temporal.
func (s *Server) getOperation(w http.ResponseWriter, r *http.Request) error {
	t, op, err := s.operationOf(r)
	if err != nil {
		return err
	}
	v := newOperationView(s.operationNames(r.Context(), t, op), op, s.temporalLink(op.WorkflowID, op.RunID))
	if op.RunID == "" {
		v.State = statePending
		v.StateNote = "the operation's workflow is being started"
		writeJSON(w, http.StatusOK, v)
		return nil
	}
	st, err := s.wf.Describe(r.Context(), op.WorkflowID, op.RunID)
	switch {
	case errors.Is(err, ErrExecutionNotFound):
		v.State = "unknown"
		v.StateNote = fmt.Sprintf("Temporal does not know run %s of workflow %s: it ended longer ago than the namespace's retention period", op.RunID, op.WorkflowID)
	case err != nil:
		return &Problem{Type: typeWorkflowsUnavailable, Status: http.StatusServiceUnavailable,
			Detail: fmt.Sprintf("read the state of operation %s from Temporal: %v", op.ID, err)}
	default:
		v = v.withStatus(st)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// cancelOperation asks the operation's running workflow to cancel, and answers 202: the workflow
// compensates and ends as canceled, which GET shows.
func (s *Server) cancelOperation(w http.ResponseWriter, r *http.Request) error {
	t, op, err := s.operationOf(r)
	if err != nil {
		return err
	}
	notRunning := func(why string) error {
		return &Problem{Type: typeOperationNotRunning, Status: http.StatusConflict,
			Detail: fmt.Sprintf("operation %s cannot be canceled: %s", op.ID, why)}
	}
	if op.RunID == "" {
		return notRunning("its workflow has not started")
	}
	st, err := s.wf.Describe(r.Context(), op.WorkflowID, op.RunID)
	switch {
	case errors.Is(err, ErrExecutionNotFound):
		return notRunning("Temporal no longer knows its workflow run")
	case err != nil:
		return &Problem{Type: typeWorkflowsUnavailable, Status: http.StatusServiceUnavailable,
			Detail: fmt.Sprintf("read the state of operation %s from Temporal: %v", op.ID, err)}
	case st.State != StateRunning:
		return notRunning("it already ended as " + st.State)
	}
	err = s.wf.Cancel(r.Context(), op.WorkflowID, op.RunID)
	switch {
	case errors.Is(err, ErrExecutionNotFound):
		return notRunning("it ended meanwhile")
	case err != nil:
		return &Problem{Type: typeWorkflowsUnavailable, Status: http.StatusServiceUnavailable,
			Detail: fmt.Sprintf("cancel operation %s: %v", op.ID, err)}
	}
	p, _ := PrincipalFrom(r.Context())
	s.logger.InfoContext(r.Context(), "requested operation cancellation", "tenant", t.Name, "operation_id", op.ID,
		"workflow_id", op.WorkflowID, "run_id", op.RunID, "principal", p.Name, "request_id", RequestIDFrom(r.Context()))
	v := newOperationView(s.operationNames(r.Context(), t, op), op, s.temporalLink(op.WorkflowID, op.RunID)).withStatus(st)
	v.CancelRequest = true
	w.Header().Set("Location", operationPath(t.Name, op.ID))
	writeJSON(w, http.StatusAccepted, v)
	return nil
}

// operationOf answers the tenant and the operation the path names, or a 404 problem naming the
// missing one.
func (s *Server) operationOf(r *http.Request) (store.Tenant, store.Operation, error) {
	t, err := s.tenantOf(r)
	if err != nil {
		return store.Tenant{}, store.Operation{}, err
	}
	id := chi.URLParam(r, "operation")
	op, err := s.store.GetOperation(r.Context(), t.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Tenant{}, store.Operation{}, notFound("operation %q not found in tenant %q", id, t.Name)
	}
	return t, op, err
}

// operationNames answers the names of the operation's app and component; a deleted one has none.
func (s *Server) operationNames(ctx context.Context, t store.Tenant, op store.Operation) names {
	n := names{tenant: t.Name}
	if op.AppID != "" {
		if a, err := s.store.GetAppByID(ctx, op.AppID); err == nil {
			n.app = a.Name
		}
	}
	if op.ComponentID != "" {
		if c, err := s.store.GetComponentByID(ctx, op.ComponentID); err == nil {
			n.component = c.Name
		}
	}
	return n
}
