package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

type createComponentRequest struct {
	Name string                  `json:"name"`
	Spec *contract.ComponentSpec `json:"spec"`
}

type putComponentRequest struct {
	Spec *contract.ComponentSpec `json:"spec"`
}

// checkedSpec normalizes and validates a request's spec for the component of the app; nil is a
// missing spec.
func checkedSpec(errs *fieldErrors, app, component string, spec *contract.ComponentSpec) contract.ComponentSpec {
	if spec == nil {
		errs.add("spec", "is required")
		return contract.ComponentSpec{}
	}
	normalizeSpec(spec)
	validateComponentSpec(errs, "spec", app, component, *spec)
	return *spec
}

func (s *Server) createComponent(w http.ResponseWriter, r *http.Request) error {
	t, a, err := s.appOf(r)
	if err != nil {
		return err
	}
	var req createComponentRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	var errs fieldErrors
	validateComponentName(&errs, "name", req.Name)
	spec := checkedSpec(&errs, a.Name, req.Name, req.Spec)
	if len(errs) > 0 {
		return validationProblem("component", errs)
	}
	c, err := s.store.CreateComponent(r.Context(), store.Component{AppID: a.ID, Name: req.Name, Spec: spec})
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		return &Problem{Type: typeAlreadyExists, Status: http.StatusConflict,
			Detail: fmt.Sprintf("component %q already exists in app %q of tenant %q", req.Name, a.Name, t.Name)}
	case errors.Is(err, store.ErrNotFound):
		return notFound("app %q not found in tenant %q", a.Name, t.Name)
	case err != nil:
		return err
	}
	s.logger.InfoContext(r.Context(), "created component", "tenant", t.Name, "app", a.Name,
		"component", c.Name, "component_id", c.ID, "request_id", RequestIDFrom(r.Context()))
	w.Header().Set("Location", componentPath(t.Name, a.Name, c.Name))
	w.Header().Set("ETag", etagOf(c.Version))
	writeJSON(w, http.StatusCreated, newComponentView(t, a, c))
	return nil
}

func (s *Server) listComponents(w http.ResponseWriter, r *http.Request) error {
	t, a, err := s.appOf(r)
	if err != nil {
		return err
	}
	return serveList(w, r, func(p store.Page) ([]store.Component, string, error) {
		return s.store.ListComponents(r.Context(), a.ID, p)
	},
		func(c store.Component) componentView { return newComponentView(t, a, c) })
}

// getComponent answers a component with its secret env names. It is the API's hottest read, so it is
// routed outside tenantScope and reads the tenant, the caller's role there, the app, the component and
// its secret env names in one query, then admits the caller exactly as tenantScope does (admitToTenant)
// before it says anything about the app or the component.
func (s *Server) getComponent(w http.ResponseWriter, r *http.Request) error {
	p, _ := PrincipalFrom(r.Context())
	tenant, app, name := chi.URLParam(r, "tenant"), chi.URLParam(r, "app"), chi.URLParam(r, "component")
	read, err := s.store.ReadComponent(r.Context(), tenant, p.UserID, app, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return hiddenTenant(tenant)
	case err != nil:
		return err
	}
	if _, err := admitToTenant(r, p, read.Tenant, read.Role); err != nil {
		return err
	}
	t, a, c := read.Tenant, read.App, read.Component
	switch {
	case !read.HasApp:
		return notFound("app %q not found in tenant %q", app, t.Name)
	case !read.HasComponent:
		return notFound("component %q not found in app %q of tenant %q", name, a.Name, t.Name)
	}
	v := newComponentView(t, a, c)
	v.SecretEnv = &secretEnvSummary{Names: read.SecretEnv.Names, Version: read.SecretEnv.Version}
	w.Header().Set("ETag", etagOf(c.Version))
	writeJSON(w, http.StatusOK, v)
	return nil
}

// putComponent replaces the component's spec. It needs If-Match with the ETag the client read, so
// that two clients never overwrite each other's change unseen.
func (s *Server) putComponent(w http.ResponseWriter, r *http.Request) error {
	t, a, c, err := s.componentOf(r)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("component %q", c.Name)
	ifMatch := r.Header.Get("If-Match")
	if ifMatch == "" {
		return &Problem{
			Type: typePreconditionRequired, Status: http.StatusPreconditionRequired,
			Detail: fmt.Sprintf("replacing %s needs an If-Match header with the ETag it was read at (now %s)", what, etagOf(c.Version)),
			Errors: []FieldError{{Field: "If-Match", Reason: "is required"}},
		}
	}
	if !ifMatches(ifMatch, etagOf(c.Version)) {
		return preconditionFailed(what, ifMatch, etagOf(c.Version))
	}
	var req putComponentRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	var errs fieldErrors
	spec := checkedSpec(&errs, a.Name, c.Name, req.Spec)
	if len(errs) > 0 {
		return validationProblem("component", errs)
	}
	updated, err := s.store.UpdateComponentSpec(r.Context(), c.ID, c.Version, spec)
	switch {
	case errors.Is(err, store.ErrConflict):
		current, _ := s.store.GetComponentByID(r.Context(), c.ID)
		return preconditionFailed(what, ifMatch, etagOf(current.Version))
	case errors.Is(err, store.ErrNotFound):
		return notFound("component %q not found in app %q of tenant %q", c.Name, a.Name, t.Name)
	case err != nil:
		return err
	}
	s.logger.InfoContext(r.Context(), "updated component", "tenant", t.Name, "app", a.Name,
		"component", c.Name, "component_id", c.ID, "version", updated.Version, "request_id", RequestIDFrom(r.Context()))
	w.Header().Set("ETag", etagOf(updated.Version))
	writeJSON(w, http.StatusOK, newComponentView(t, a, updated))
	return nil
}
