package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// Routes of a component (contract/routes.go): CRUD under .../components/{c}/routes. A write on a
// deployed component queues a Routes operation in the component's queue, which applies the
// component's routes as they are when it runs and records a release with them; the write answers
// the route and that operation. A component never deployed gets its routes with its first deploy.

const typeRouteConflict = problemBase + "route-conflict"

type routeView struct {
	contract.Route
	Tenant    string            `json:"tenant"`
	App       string            `json:"app"`
	Component string            `json:"component"`
	Version   int64             `json:"version"` // also the ETag
	CreatedAt time.Time         `json:"createdAt"`
	UpdatedAt time.Time         `json:"updatedAt"`
	Links     map[string]string `json:"links"`
}

// routeWritten answers a route write: the route, and the operation that applies it, when the
// component is deployed.
type routeWritten struct {
	routeView
	Operation *operationAccepted `json:"operation,omitempty"`
}

func newRouteView(t store.Tenant, a store.App, c store.Component, r store.Route) routeView {
	self := routePath(t.Name, a.Name, c.Name, r.Name)
	links := map[string]string{"self": self, "component": componentPath(t.Name, a.Name, c.Name)}
	if r.Certificate != "" {
		links["certificate"] = certificatePath(t.Name, r.Certificate)
	}
	return routeView{
		Route: r.Route, Tenant: t.Name, App: a.Name, Component: c.Name, Version: r.Version,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Links: links,
	}
}

func routePath(tenant, app, component, route string) string {
	return componentPath(tenant, app, component) + "/routes/" + route
}

func (s *Server) createRoute(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	t, a, c, err := s.componentOf(r)
	if err != nil {
		return err
	}
	var req routeRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	route, err := s.checkRoute(ctx, t, c, req)
	if err != nil {
		return err
	}
	created, err := s.store.CreateRoute(ctx, c.ID, route)
	if err != nil {
		return routeWriteError(t, a, c, route.Name, err)
	}
	op, err := s.queueRoutes(ctx, t, a.Name, c)
	if err != nil {
		if _, uerr := s.store.DeleteRoute(context.WithoutCancel(ctx), c.ID, created.Name); uerr != nil {
			s.logger.ErrorContext(ctx, "take back a route whose operation was refused", "route", created.Name, "error", uerr)
		}
		return err
	}
	s.logRoute(ctx, "created route", t, a, c, created, op)
	w.Header().Set("Location", routePath(t.Name, a.Name, c.Name, created.Name))
	w.Header().Set("ETag", etagOf(created.Version))
	writeJSON(w, http.StatusCreated, routeWritten{routeView: newRouteView(t, a, c, created), Operation: op})
	return nil
}

func (s *Server) listRoutes(w http.ResponseWriter, r *http.Request) error {
	t, a, c, err := s.componentOf(r)
	if err != nil {
		return err
	}
	return serveList(w, r, func(p store.Page) ([]store.Route, string, error) { return s.store.ListRoutes(r.Context(), c.ID, p) },
		func(route store.Route) routeView { return newRouteView(t, a, c, route) })
}

func (s *Server) getRoute(w http.ResponseWriter, r *http.Request) error {
	t, a, c, route, err := s.routeOf(r)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etagOf(route.Version))
	writeJSON(w, http.StatusOK, newRouteView(t, a, c, route))
	return nil
}

// putRoute replaces a route. Like a component's PUT it needs If-Match with the ETag read.
func (s *Server) putRoute(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	t, a, c, cur, err := s.routeOf(r)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("route %q", cur.Name)
	ifMatch := r.Header.Get("If-Match")
	if ifMatch == "" {
		return &Problem{Type: typePreconditionRequired, Status: http.StatusPreconditionRequired,
			Detail: fmt.Sprintf("replacing %s needs an If-Match header with the ETag it was read at (now %s)", what, etagOf(cur.Version)),
			Errors: []FieldError{{Field: "If-Match", Reason: "is required"}}}
	}
	if !ifMatches(ifMatch, etagOf(cur.Version)) {
		return preconditionFailed(what, ifMatch, etagOf(cur.Version))
	}
	var req routeRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.Name != "" && req.Name != cur.Name {
		return validationProblem("route", []FieldError{{Field: "name",
			Reason: fmt.Sprintf("is %q in the path; a route is not renamed (create the new one, delete the old one)", cur.Name)}})
	}
	req.Name = cur.Name
	route, err := s.checkRoute(ctx, t, c, req)
	if err != nil {
		return err
	}
	updated, err := s.store.UpdateRoute(ctx, cur.ID, cur.Version, route)
	var claim *store.RouteConflictError
	if errors.Is(err, store.ErrConflict) && !errors.As(err, &claim) {
		latest, _ := s.store.GetRoute(ctx, c.ID, cur.Name)
		return preconditionFailed(what, ifMatch, etagOf(latest.Version))
	}
	if err != nil {
		return routeWriteError(t, a, c, cur.Name, err)
	}
	op, err := s.queueRoutes(ctx, t, a.Name, c)
	if err != nil {
		if _, uerr := s.store.UpdateRoute(context.WithoutCancel(ctx), cur.ID, updated.Version, cur.Route); uerr != nil {
			s.logger.ErrorContext(ctx, "take back a route change whose operation was refused", "route", cur.Name, "error", uerr)
		}
		return err
	}
	s.logRoute(ctx, "updated route", t, a, c, updated, op)
	w.Header().Set("ETag", etagOf(updated.Version))
	writeJSON(w, http.StatusOK, routeWritten{routeView: newRouteView(t, a, c, updated), Operation: op})
	return nil
}

// deleteRoute deletes a route (If-Match, when sent, must name its ETag) and answers what it was, with
// the operation that takes it off the gateway.
func (s *Server) deleteRoute(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	t, a, c, cur, err := s.routeOf(r)
	if err != nil {
		return err
	}
	if ifMatch := r.Header.Get("If-Match"); ifMatch != "" && !ifMatches(ifMatch, etagOf(cur.Version)) {
		return preconditionFailed(fmt.Sprintf("route %q", cur.Name), ifMatch, etagOf(cur.Version))
	}
	gone, err := s.store.DeleteRoute(ctx, c.ID, cur.Name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("route %q not found in component %q", cur.Name, c.Name)
	}
	if err != nil {
		return err
	}
	op, err := s.queueRoutes(ctx, t, a.Name, c)
	if err != nil {
		if _, uerr := s.store.CreateRoute(context.WithoutCancel(ctx), c.ID, gone.Route); uerr != nil {
			s.logger.ErrorContext(ctx, "put back a route whose delete was refused", "route", cur.Name, "error", uerr)
		}
		return err
	}
	s.logRoute(ctx, "deleted route", t, a, c, gone, op)
	writeJSON(w, http.StatusOK, routeWritten{routeView: newRouteView(t, a, c, gone), Operation: op})
	return nil
}

// checkRoute validates a route request for the component: its fields, its port in the component's
// spec, and its certificate (the tenant's, covering its host, not expired).
func (s *Server) checkRoute(ctx context.Context, t store.Tenant, c store.Component, req routeRequest) (contract.Route, error) {
	var errs fieldErrors
	route := checkedRoute(&errs, req, c.Spec)
	if route.Certificate != "" && len(errs) == 0 {
		cert, err := s.store.GetCertificate(ctx, t.ID, route.Certificate)
		switch {
		case errors.Is(err, store.ErrNotFound):
			errs.add("certificate", fmt.Sprintf("no certificate %q in tenant %q: create it first", route.Certificate, t.Name))
		case err != nil:
			return contract.Route{}, err
		case !covers(cert.SANs, route.Host):
			errs.add("certificate", fmt.Sprintf("certificate %q covers %v, not host %q", cert.Name, cert.SANs, route.Host))
		case !time.Now().Before(cert.NotAfter):
			errs.add("certificate", fmt.Sprintf("certificate %q expired on %s: renew it first", cert.Name, cert.NotAfter.Format(time.RFC3339)))
		}
	}
	if len(errs) > 0 {
		return contract.Route{}, validationProblem("route", errs)
	}
	return route, nil
}

// routeWriteError answers the problem of a route the store refused.
func routeWriteError(t store.Tenant, a store.App, c store.Component, name string, err error) error {
	var claim *store.RouteConflictError
	switch {
	case errors.As(err, &claim):
		detail := claim.Error()
		if claim.With != nil {
			detail += fmt.Sprintf(" (%s)", routePath(t.Name, claim.With.App, claim.With.Component, claim.With.Route))
		}
		return &Problem{Type: typeRouteConflict, Status: http.StatusConflict, Detail: detail}
	case errors.Is(err, store.ErrAlreadyExists):
		return &Problem{Type: typeAlreadyExists, Status: http.StatusConflict,
			Detail: fmt.Sprintf("route %q already exists in component %q of app %q", name, c.Name, a.Name)}
	case errors.Is(err, store.ErrConflict):
		return &Problem{Type: typeRouteConflict, Status: http.StatusConflict,
			Detail: fmt.Sprintf("route %q: %v; retry", name, err)}
	case errors.Is(err, store.ErrNotFound):
		return notFound("route %q: the component or its certificate is gone: %v", name, err)
	}
	return err
}

// routeOf answers the tenant, app, component and route the path names, or a 404 naming the missing one.
func (s *Server) routeOf(r *http.Request) (store.Tenant, store.App, store.Component, store.Route, error) {
	t, a, c, err := s.componentOf(r)
	if err != nil {
		return t, a, c, store.Route{}, err
	}
	name := chi.URLParam(r, "route")
	route, err := s.store.GetRoute(r.Context(), c.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return t, a, c, store.Route{}, notFound("route %q not found in component %q of app %q", name, c.Name, a.Name)
	}
	return t, a, c, route, err
}

func (s *Server) logRoute(ctx context.Context, msg string, t store.Tenant, a store.App, c store.Component, r store.Route, op *operationAccepted) {
	attrs := []any{"tenant", t.Name, "app", a.Name, "component", c.Name, "route", r.Name, "kind", r.Kind,
		"host", r.Host, "request_id", RequestIDFrom(ctx)}
	if op != nil {
		attrs = append(attrs, "operation_id", op.OperationID, "state", op.State)
	}
	s.logger.InfoContext(ctx, msg, attrs...)
}

// queueRoutes queues a Routes operation for a deployed component and answers it; a component never
// deployed answers nil (its first deploy applies its routes). A refused operation leaves no record
// and answers a problem (429 queue full, 503 Temporal unreachable).
func (s *Server) queueRoutes(ctx context.Context, t store.Tenant, app string, c store.Component) (*operationAccepted, error) {
	deployed, err := s.componentDeployed(ctx, c)
	if err != nil || !deployed {
		return nil, err
	}
	ref := contract.ComponentRef{Tenant: t.Name, App: app, Component: c.Name}
	principal, _ := PrincipalFrom(ctx)
	id := uuid.NewString()
	kind := contract.OperationRoutes
	op, err := s.store.CreateOperation(ctx, store.Operation{
		ID: id, TenantID: t.ID, ComponentID: c.ID, Kind: kind,
		WorkflowID: contract.OperationWorkflowID(kind, ref, id), RequestedBy: principal.Name,
	})
	if err != nil {
		return nil, fmt.Errorf("record routes operation: %w", err)
	}
	input := contract.RoutesInput{OperationID: op.ID, Ref: ref, ComponentID: c.ID, RequestedBy: op.RequestedBy}
	merge, err := mergeKey(kind, input)
	if err != nil {
		s.forgetOperation(ctx, op)
		return nil, err
	}
	enq, err := s.wf.Enqueue(ctx, WorkflowStart{
		Workflow: contract.WorkflowRoutes, Kind: kind, OperationID: op.ID, Ref: ref, Input: input,
		RequestedBy: op.RequestedBy, MergeKey: merge,
	})
	switch {
	case errors.Is(err, ErrQueueFull):
		s.forgetOperation(ctx, op)
		return nil, &Problem{Type: typeQueueFull, Status: http.StatusTooManyRequests, RetryAfter: 10,
			Detail: fmt.Sprintf("component %q cannot take another operation now, so the route change is not made: %v", c.Name, err)}
	case err != nil:
		s.forgetOperation(ctx, op)
		return nil, &Problem{Type: typeWorkflowsUnavailable, Status: http.StatusServiceUnavailable,
			Detail: fmt.Sprintf("queue the routes of component %q (the route change is not made): %v", c.Name, err)}
	}
	if enq.Merged && enq.OperationID != op.ID {
		// a Routes operation still waits: it reads the routes when it runs, this change included
		s.forgetOperation(ctx, op)
		merged, err := s.store.GetOperation(ctx, t.ID, enq.OperationID)
		if err != nil {
			return nil, fmt.Errorf("read operation %s that the routes were merged into: %w", enq.OperationID, err)
		}
		noteOperation(ctx, merged.ID)
		v := s.acceptedOperation(t, merged, &enq.EnqueueResult)
		return &v, nil
	}
	if err := s.store.SetOperationRunID(ctx, op.ID, enq.QueueRunID); err != nil {
		return nil, fmt.Errorf("record queue run %s of operation %s: %w", enq.QueueRunID, op.ID, err)
	}
	op.RunID = enq.QueueRunID
	noteOperation(ctx, op.ID)
	v := s.acceptedOperation(t, op, &enq.EnqueueResult)
	return &v, nil
}

// componentDeployed: the component has a release, or an operation (a first deploy may be queued or
// running: a Routes operation queued behind it applies the routes to what it deploys).
func (s *Server) componentDeployed(ctx context.Context, c store.Component) (bool, error) {
	rels, _, err := s.store.ListReleases(ctx, c.ID, store.Page{Limit: 1})
	if err != nil || len(rels) > 0 {
		return len(rels) > 0, err
	}
	ops, _, err := s.store.ListOperations(ctx, c.ID, store.Page{Limit: 1})
	return len(ops) > 0, err
}
