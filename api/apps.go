package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/rainflow/rainflow/store"
)

type createAppRequest struct {
	Name string `json:"name"`
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request) error {
	t, err := s.tenantOf(r)
	if err != nil {
		return err
	}
	var req createAppRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	var errs fieldErrors
	validateAppName(&errs, "name", req.Name)
	if len(errs) > 0 {
		return validationProblem("app", errs)
	}
	a, err := s.store.CreateApp(r.Context(), store.App{TenantID: t.ID, Name: req.Name})
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		return &Problem{Type: typeAlreadyExists, Status: http.StatusConflict,
			Detail: fmt.Sprintf("app %q already exists in tenant %q", req.Name, t.Name)}
	case errors.Is(err, store.ErrNotFound):
		return notFound("tenant %q not found", t.Name)
	case err != nil:
		return err
	}
	s.logger.InfoContext(r.Context(), "created app", "tenant", t.Name, "app", a.Name, "app_id", a.ID, "request_id", RequestIDFrom(r.Context()))
	w.Header().Set("Location", appPath(t.Name, a.Name))
	writeJSON(w, http.StatusCreated, newAppView(t, a))
	return nil
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) error {
	t, err := s.tenantOf(r)
	if err != nil {
		return err
	}
	return serveList(w, r, func(p store.Page) ([]store.App, string, error) { return s.store.ListApps(r.Context(), t.ID, p) },
		func(a store.App) appView { return newAppView(t, a) })
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request) error {
	t, a, err := s.appOf(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newAppView(t, a))
	return nil
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request) error {
	t, a, err := s.appOf(r)
	if err != nil {
		return err
	}
	err = s.store.DeleteApp(r.Context(), a.ID)
	switch {
	case errors.Is(err, store.ErrNotEmpty):
		return &Problem{Type: typeNotEmpty, Status: http.StatusConflict,
			Detail: fmt.Sprintf("app %q of tenant %q still has components; delete them first (%v)", a.Name, t.Name, err)}
	case errors.Is(err, store.ErrNotFound):
		return notFound("app %q not found in tenant %q", a.Name, t.Name)
	case err != nil:
		return err
	}
	s.logger.InfoContext(r.Context(), "deleted app", "tenant", t.Name, "app", a.Name, "app_id", a.ID, "request_id", RequestIDFrom(r.Context()))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
