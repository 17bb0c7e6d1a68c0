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

// A deploy applies the component's routes and records them with its release; a rollback restores the
// release's routes, and makes them the component's routes again.

// routesForDeploy answers the component's routes for a deploy of spec; a route whose port the spec no
// longer has (or has with another protocol) is a 422 naming it.
func (s *Server) routesForDeploy(ctx context.Context, c store.Component, spec contract.ComponentSpec) ([]contract.Route, error) {
	routes, err := s.store.ComponentRoutes(ctx, c.ID)
	if err != nil {
		return nil, fmt.Errorf("read the routes of component %q: %w", c.Name, err)
	}
	var all []FieldError
	for _, r := range routes {
		var errs fieldErrors
		resolveRoutePort(&errs, routeRequest{PortName: r.PortName, Port: r.Port}, r.Kind, spec.Ports)
		for _, e := range errs {
			all = append(all, FieldError{Field: fmt.Sprintf("routes[%q].%s", r.Name, e.Field),
				Reason: e.Reason + "; change the route, or the spec back"})
		}
	}
	if len(all) > 0 {
		return nil, validationProblem(fmt.Sprintf("the routes of component %q", c.Name), all)
	}
	return routes, nil
}

// routesRestore checks that the release's routes can be the component's again (their certificates
// exist, no other route claims what they claim) and answers the function that makes them so; nil when
// they are the component's routes already.
func (s *Server) routesRestore(ctx context.Context, c store.Component, rel store.Release) (func(ctx context.Context) error, error) {
	current, err := s.store.ComponentRoutes(ctx, c.ID)
	if err != nil {
		return nil, fmt.Errorf("read the routes of component %q: %w", c.Name, err)
	}
	if len(current) == 0 && len(rel.Routes) == 0 || reflect.DeepEqual(current, rel.Routes) {
		return nil, nil
	}
	err = s.store.CheckReplaceRoutes(ctx, c.ID, rel.Routes)
	var claim *store.RouteConflictError
	switch {
	case errors.As(err, &claim):
		return nil, &Problem{Type: typeRouteConflict, Status: http.StatusConflict,
			Detail: fmt.Sprintf("release %s cannot run again: %v", rel.ID, claim)}
	case errors.Is(err, store.ErrNotFound):
		return nil, validationProblem(fmt.Sprintf("the routes of release %s", rel.ID), []FieldError{{Field: "releaseId",
			Reason: fmt.Sprintf("a route of the release uses a certificate the tenant no longer has (%v): create it again first", err)}})
	case err != nil:
		return nil, err
	}
	return func(ctx context.Context) error { return s.store.ReplaceRoutes(ctx, c.ID, rel.Routes) }, nil
}
