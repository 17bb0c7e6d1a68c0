package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/rainflow/rainflow/contract"
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
	return s.writeOperations(w, r, t, store.OperationFilter{TenantID: t.ID, AppID: a.ID, ComponentID: c.ID})
}

// listAppOperations answers the app's operations, newest first: its app-level ones and every one of
// its components' (those of components deleted since included).
func (s *Server) listAppOperations(w http.ResponseWriter, r *http.Request) error {
	t, a, err := s.appOf(r)
	if err != nil {
		return err
	}
	return s.writeOperations(w, r, t, store.OperationFilter{TenantID: t.ID, AppID: a.ID})
}

// listTenantOperations answers every operation of the tenant, newest first.
func (s *Server) listTenantOperations(w http.ResponseWriter, r *http.Request) error {
	t, err := s.tenantOf(r)
	if err != nil {
		return err
	}
	return s.writeOperations(w, r, t, store.OperationFilter{TenantID: t.ID})
}

// writeOperations answers one page of the operations the scope and the request's filters keep.
func (s *Server) writeOperations(w http.ResponseWriter, r *http.Request, t store.Tenant, scope store.OperationFilter) error {
	filter, err := operationFilterOf(r, scope)
	if err != nil {
		return err
	}
	page, err := pageOf(r)
	if err != nil {
		return err
	}
	ops, next, err := s.store.ListOperationsWhere(r.Context(), filter, page)
	if err != nil {
		return listError(err)
	}
	namer := s.newOperationNamer(t)
	views := make([]operationView, len(ops))
	for i, op := range ops {
		views[i] = s.baseView(namer.names(r.Context(), op), op)
	}
	writeList(w, r, views, next)
	return nil
}

// Query parameters that filter the operation lists.
const (
	kindParam        = "kind"
	requestedByParam = "requestedBy"
	sinceParam       = "since"
	untilParam       = "until"
)

// operationKinds are the kinds the operation lists filter by: the component operations', the app-level
// ones' and the tenant's. A new kind of operation joins this list (TestOperationKindsListed finds every
// OperationKind constant of package contract).
func operationKinds() []contract.OperationKind {
	kinds := []contract.OperationKind{
		contract.OperationDeploy, contract.OperationRollback, contract.OperationStart, contract.OperationStop,
		contract.OperationRestart, contract.OperationScale, contract.OperationDelete, contract.OperationRoutes,
	}
	for _, k := range []contract.OperationKind{contract.OperationDeploy, contract.OperationStart, contract.OperationStop, contract.OperationRestart} {
		kinds = append(kinds, contract.AppOperationKind(k))
	}
	return append(kinds, contract.OperationBuild, contract.OperationTenantSetup, contract.OperationTenantDelete)
}

// maxRequestedBy is the longest principal name the requestedBy filter takes (the store keeps 255).
const maxRequestedBy = 255

// operationFilterOf adds the request's filters to scope: kind (one of operationKinds), requestedBy (a
// principal's name), since and until (RFC 3339 times that bound the creation time, since inclusive,
// until exclusive). Each is given at most once; every invalid one is named in one 400 problem.
func operationFilterOf(r *http.Request, scope store.OperationFilter) (store.OperationFilter, error) {
	q := r.URL.Query()
	f := scope
	var errs fieldErrors
	one := func(name string) string {
		values := q[name]
		if len(values) > 1 {
			errs.add(name, fmt.Sprintf("is given %d times; give it once", len(values)))
			return ""
		}
		if len(values) == 0 {
			return ""
		}
		if values[0] == "" {
			errs.add(name, "is empty; leave it out to list every operation")
		}
		return values[0]
	}
	if kind := one(kindParam); kind != "" {
		kinds := operationKinds()
		if slices.Contains(kinds, contract.OperationKind(kind)) {
			f.Kind = contract.OperationKind(kind)
		} else {
			names := make([]string, len(kinds))
			for i, k := range kinds {
				names[i] = string(k)
			}
			errs.add(kindParam, fmt.Sprintf("%q is not a kind of operation: one of %s", truncate(kind, 64), strings.Join(names, ", ")))
		}
	}
	if by := one(requestedByParam); by != "" {
		if len(by) > maxRequestedBy || !utf8.ValidString(by) {
			errs.add(requestedByParam, fmt.Sprintf("must be a principal's name: valid UTF-8, at most %d bytes", maxRequestedBy))
		} else {
			f.RequestedBy = by
		}
	}
	timeParam := func(name string) time.Time {
		v := one(name)
		if v == "" {
			return time.Time{}
		}
		at, err := time.Parse(time.RFC3339Nano, v)
		if err != nil || at.Year() < 1 || at.Year() > 9999 {
			errs.add(name, fmt.Sprintf("%q is not an RFC 3339 time (e.g. 2026-01-02T15:04:05Z)", truncate(v, 64)))
			return time.Time{}
		}
		return at
	}
	f.Since, f.Until = timeParam(sinceParam), timeParam(untilParam)
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		errs.add(untilParam, fmt.Sprintf("must be later than since (%s): since is inclusive, until exclusive", f.Since.Format(time.RFC3339Nano)))
	}
	if len(errs) > 0 {
		return store.OperationFilter{}, queryProblem(errs)
	}
	return f, nil
}

// queryProblem answers 400 naming every invalid query parameter.
func queryProblem(errs []FieldError) *Problem {
	p := badRequest(errs[0].Field, errs[0].Reason)
	if len(errs) > 1 {
		p.Detail += fmt.Sprintf(" (and %d more)", len(errs)-1)
	}
	p.Errors = errs
	return p
}

// truncate shortens what a client sent to at most n bytes (on a rune boundary) for a message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// Operation states the API knows without a workflow run to describe.
const (
	stateQueued   = "queued"
	stateStarting = "starting"
	stateUnknown  = "unknown"
)

// located is where an operation is: its workflow run once its queue started it (run), or a state of
// its own: pending, queued (at position in its component's queue), canceled before it ran, unknown.
type located struct {
	run      *OperationStatus
	state    string
	note     string
	position int
}

// locate finds the operation: in Temporal (its own workflow's run), else in its component's queue.
func (s *Server) locate(ctx context.Context, op store.Operation, n names) (located, error) {
	queued := isQueued(op)
	switch {
	case op.CanceledAt != nil:
		return located{state: StateCanceled, note: "canceled while it waited in its component's queue: it never ran"}, nil
	case op.RunID == "" && !queued:
		return located{state: statePending, note: "its workflow is being started"}, nil
	}
	runID := op.RunID
	if queued {
		runID = "" // op.RunID is the queue's run; the operation's own workflow has one run
	}
	describe := func() (located, bool, error) {
		st, err := s.wf.Describe(ctx, op.WorkflowID, runID)
		switch {
		case errors.Is(err, ErrExecutionNotFound):
			return located{}, false, nil
		case err != nil:
			return located{}, false, &Problem{Type: typeWorkflowsUnavailable, Status: http.StatusServiceUnavailable,
				Detail: fmt.Sprintf("read the state of operation %s from Temporal: %v", op.ID, err)}
		}
		return located{run: &st}, true, nil
	}
	if l, found, err := describe(); found || err != nil {
		return l, err
	}
	gone := located{state: stateUnknown, note: fmt.Sprintf("Temporal does not know workflow %s: it ended longer ago than the namespace's retention period", op.WorkflowID)}
	if !queued || n.app == "" || n.component == "" {
		return gone, nil
	}
	qs, err := s.wf.Queue(ctx, contract.ComponentRef{Tenant: n.tenant, App: n.app, Component: n.component})
	if err != nil {
		// Temporal holds the operation, but no worker answers for its queue (none runs, or all are busy).
		return located{state: statePending, note: fmt.Sprintf(
			"queued; its place cannot be read now (is a worker running?): %v", err)}, nil
	}
	switch pos := qs.Position(op.ID); {
	case pos == 0:
		return located{state: stateStarting, note: "its workflow is starting", position: 0}, nil
	case pos > 0:
		note := fmt.Sprintf("waits in the queue of component %q behind %d operation(s)", n.component, pos)
		if qs.Running != nil {
			note += fmt.Sprintf("; operation %s (%s) runs now", qs.Running.OperationID, qs.Running.Kind)
		}
		return located{state: stateQueued, note: note, position: pos}, nil
	}
	// Not waiting: it may have started since it was looked for.
	if l, found, err := describe(); found || err != nil {
		return l, err
	}
	if op.RunID == "" {
		// Recorded, never queued: its request is being queued, or it is a component's part of an app
		// operation, which queues it once the operations it waits for succeeded (or skips it).
		return located{state: statePending, note: "not queued yet: its request is being queued, or its app operation " +
			"queues it once the operations it waits for succeeded (and skips it if one failed)"}, nil
	}
	gone.note = fmt.Sprintf("neither its workflow %s nor its component's queue is known to Temporal: it ended longer ago than the namespace's retention period, or its queue was terminated before it ran", op.WorkflowID)
	return gone, nil
}

// isQueued says whether the operation went through its component's queue: its workflow id is its
// own (contract.OperationWorkflowID). Operations recorded before queues ran as one run of the
// component's workflow id, which their RunID names.
// A build runs under its own id too, but on the builds task queue, never in the component's queue.
func isQueued(op store.Operation) bool {
	return op.Kind != contract.OperationBuild && strings.HasSuffix(op.WorkflowID, "/"+op.ID)
}

// baseView answers the operation's view from its record alone.
func (s *Server) baseView(n names, op store.Operation) operationView {
	if isQueued(op) {
		v := newOperationView(n, op, s.temporalWorkflowLink(op.WorkflowID))
		v.RunID = "" // the queue's run, not the operation's
		return v
	}
	return newOperationView(n, op, s.temporalLink(op.WorkflowID, op.RunID))
}

// view answers the operation's view with where it is.
func (s *Server) view(n names, op store.Operation, l located) operationView {
	v := s.baseView(n, op)
	if l.run != nil {
		v = v.withStatus(*l.run)
		v.RunID = l.run.RunID
		if ui := s.temporalLink(op.WorkflowID, l.run.RunID); ui != "" {
			v.Links["temporalUI"] = ui
		}
		return v
	}
	v.State, v.StateNote = l.state, l.note
	if l.state == stateQueued || l.state == stateStarting {
		pos := l.position
		v.QueuePosition = &pos
	}
	return v
}

// getOperation answers the operation with its state, steps, times, and error or result, read from
// its workflow run in Temporal, or its place in its component's queue while it waits.
func (s *Server) getOperation(w http.ResponseWriter, r *http.Request) error {
	t, op, err := s.operationOf(r)
	if err != nil {
		return err
	}
	n := s.operationNames(r.Context(), t, op)
	l, err := s.locate(r.Context(), op, n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.view(n, op, l))
	return nil
}

// cancelOperation cancels the operation and answers 202: a running one's workflow is asked to cancel
// (it compensates and ends as canceled, which GET shows); a waiting one is taken out of its queue and
// never runs.
func (s *Server) cancelOperation(w http.ResponseWriter, r *http.Request) error {
	t, op, err := s.operationOf(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	notRunning := func(why string) error {
		return &Problem{Type: typeOperationNotRunning, Status: http.StatusConflict,
			Detail: fmt.Sprintf("operation %s cannot be canceled: %s", op.ID, why)}
	}
	n := s.operationNames(ctx, t, op)
	l, err := s.locate(ctx, op, n)
	if err != nil {
		return err
	}
	if l.state == stateQueued {
		res, err := s.wf.Dequeue(ctx, contract.ComponentRef{Tenant: n.tenant, App: n.app, Component: n.component}, op.ID)
		if err != nil {
			return &Problem{Type: typeWorkflowsUnavailable, Status: http.StatusServiceUnavailable,
				Detail: fmt.Sprintf("take operation %s out of its queue: %v", op.ID, err)}
		}
		if res.Removed {
			if err := s.store.SetOperationCanceled(ctx, op.ID); err != nil {
				return fmt.Errorf("record the cancellation of operation %s: %w", op.ID, err)
			}
			s.logCancel(r, t, op, "dequeued")
			now := time.Now().UTC()
			op.CanceledAt = &now
			l, _ = s.locate(ctx, op, n)
			v := s.view(n, op, l)
			v.CancelRequest = true
			w.Header().Set("Location", operationPath(t.Name, op.ID))
			noteOperation(ctx, op.ID)
			writeJSON(w, http.StatusAccepted, v)
			return nil
		}
		l.state = stateStarting // it left the queue to run meanwhile
	}
	if l.state == stateStarting {
		if l, err = s.awaitRun(ctx, op, n); err != nil {
			return err
		}
	}
	if l.run == nil {
		return notRunning("it is " + l.state + ": " + l.note)
	}
	if l.run.State != StateRunning {
		return notRunning("it already ended as " + l.run.State)
	}
	err = s.wf.Cancel(ctx, op.WorkflowID, l.run.RunID)
	switch {
	case errors.Is(err, ErrExecutionNotFound):
		return notRunning("it ended meanwhile")
	case err != nil:
		return &Problem{Type: typeWorkflowsUnavailable, Status: http.StatusServiceUnavailable,
			Detail: fmt.Sprintf("cancel operation %s: %v", op.ID, err)}
	}
	s.logCancel(r, t, op, "requested")
	noteOperation(ctx, op.ID)
	v := s.view(n, op, l)
	v.CancelRequest = true
	w.Header().Set("Location", operationPath(t.Name, op.ID))
	writeJSON(w, http.StatusAccepted, v)
	return nil
}

// awaitRun waits a little for an operation that is leaving its queue to have its workflow run.
func (s *Server) awaitRun(ctx context.Context, op store.Operation, n names) (located, error) {
	var l located
	for range 20 {
		var err error
		if l, err = s.locate(ctx, op, n); err != nil || l.run != nil || l.state != stateStarting {
			return l, err
		}
		select {
		case <-ctx.Done():
			return l, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return l, nil
}

func (s *Server) logCancel(r *http.Request, t store.Tenant, op store.Operation, how string) {
	p, _ := PrincipalFrom(r.Context())
	s.logger.InfoContext(r.Context(), "operation cancellation "+how, "tenant", t.Name, "operation_id", op.ID,
		"workflow_id", op.WorkflowID, "principal", p.Name, "request_id", RequestIDFrom(r.Context()))
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
	return s.newOperationNamer(t).names(ctx, op)
}

// operationNamer answers the names of operations' apps and components, reading each app and component
// once: a list's operations mostly share them.
type operationNamer struct {
	s          *Server
	tenant     store.Tenant
	apps       map[string]string // by id; "" for one that is gone
	components map[string]string
}

func (s *Server) newOperationNamer(t store.Tenant) *operationNamer {
	return &operationNamer{s: s, tenant: t, apps: map[string]string{}, components: map[string]string{}}
}

func (o *operationNamer) names(ctx context.Context, op store.Operation) names {
	n := names{tenant: o.tenant.Name}
	if op.AppID != "" {
		name, ok := o.apps[op.AppID]
		if !ok {
			if a, err := o.s.store.GetAppByID(ctx, op.AppID); err == nil {
				name = a.Name
			}
			o.apps[op.AppID] = name
		}
		n.app = name
	}
	if op.ComponentID != "" {
		name, ok := o.components[op.ComponentID]
		if !ok {
			if c, err := o.s.store.GetComponentByID(ctx, op.ComponentID); err == nil {
				name = c.Name
			}
			o.components[op.ComponentID] = name
		}
		n.component = name
	}
	if n.component == "" && isQueued(op) {
		// Its component was deleted: the operation's workflow id still names it.
		if app, component, ok := namesOfWorkflowID(op); ok && (n.app == "" || n.app == app) {
			n.app, n.component, n.gone = app, component, true
		}
	}
	return n
}

// namesOfWorkflowID answers the app and component an operation's own workflow id names
// (contract.OperationWorkflowID: <kind>/<tenant>/<app>/<component>/<operation id>).
func namesOfWorkflowID(op store.Operation) (app, component string, ok bool) {
	parts := strings.Split(op.WorkflowID, "/")
	if len(parts) != 5 || parts[0] != string(op.Kind) || parts[4] != op.ID || parts[2] == "" || parts[3] == "" {
		return "", "", false
	}
	return parts[2], parts[3], true
}
