package api

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/rainflow/rainflow/store"
)

// tenantOf answers the tenant the path names, or a 404 problem naming it.
func (s *Server) tenantOf(r *http.Request) (store.Tenant, error) {
	if a, ok := accessFrom(r.Context()); ok {
		return a.tenant, nil // tenantScope read it
	}
	name := chi.URLParam(r, "tenant")
	t, err := s.store.GetTenant(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return store.Tenant{}, notFound("tenant %q not found", name)
	}
	return t, err
}

// appOf answers the tenant and the app the path names, or a 404 problem naming the missing one.
func (s *Server) appOf(r *http.Request) (store.Tenant, store.App, error) {
	t, err := s.tenantOf(r)
	if err != nil {
		return store.Tenant{}, store.App{}, err
	}
	name := chi.URLParam(r, "app")
	a, err := s.store.GetApp(r.Context(), t.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.Tenant{}, store.App{}, notFound("app %q not found in tenant %q", name, t.Name)
	}
	return t, a, err
}

// componentOf answers the tenant, app and component the path names, or a 404 problem naming the
// missing one.
func (s *Server) componentOf(r *http.Request) (store.Tenant, store.App, store.Component, error) {
	t, err := s.tenantOf(r)
	if err != nil {
		return store.Tenant{}, store.App{}, store.Component{}, err
	}
	// app and component in one read: this is every component request's path
	name := chi.URLParam(r, "component")
	a, c, err := s.store.GetAppComponent(r.Context(), t.ID, chi.URLParam(r, "app"), name)
	if errors.Is(err, store.ErrNotFound) {
		if _, a, err = s.appOf(r); err != nil {
			return store.Tenant{}, store.App{}, store.Component{}, err // the app is missing
		}
		return store.Tenant{}, store.App{}, store.Component{}, notFound("component %q not found in app %q of tenant %q", name, a.Name, t.Name)
	}
	return t, a, c, err
}
