package api

import (
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/rainflow/rainflow/store"
)

type createTenantRequest struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
}

// maxDisplayName is the longest display name kept.
const maxDisplayName = 255

func (s *Server) createTenant(w http.ResponseWriter, r *http.Request) error {
	var req createTenantRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	var errs fieldErrors
	validateTenantName(&errs, "name", req.Name)
	if utf8.RuneCountInString(req.DisplayName) > maxDisplayName {
		errs.add("displayName", fmt.Sprintf("must be at most %d characters", maxDisplayName))
	}
	if len(errs) > 0 {
		return validationProblem("tenant", errs)
	}
	t, err := s.store.CreateTenant(r.Context(), store.Tenant{Name: req.Name, DisplayName: req.DisplayName})
	if errors.Is(err, store.ErrAlreadyExists) {
		return &Problem{Type: typeAlreadyExists, Status: http.StatusConflict, Detail: fmt.Sprintf("tenant %q already exists", req.Name)}
	}
	if err != nil {
		return err
	}
	s.logger.InfoContext(r.Context(), "created tenant", "tenant", t.Name, "tenant_id", t.ID, "request_id", RequestIDFrom(r.Context()))
	w.Header().Set("Location", tenantPath(t.Name))
	writeJSON(w, http.StatusCreated, newTenantView(t))
	return nil
}

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request) error {
	page, err := pageOf(r)
	if err != nil {
		return err
	}
	// A platform admin sees every tenant; anyone else the tenants it is a member of.
	p, _ := PrincipalFrom(r.Context())
	var tenants []store.Tenant
	var next string
	switch {
	case p.Admin:
		tenants, next, err = s.store.ListTenants(r.Context(), page)
	case p.UserID != "":
		tenants, next, err = s.store.ListTenantsOf(r.Context(), p.UserID, page)
	}
	if err != nil {
		return listError(err)
	}
	views := make([]tenantView, len(tenants))
	for i, t := range tenants {
		views[i] = newTenantView(t)
	}
	writeList(w, r, views, next)
	return nil
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := s.tenantOf(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newTenantView(t))
	return nil
}

func (s *Server) deleteTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := s.tenantOf(r)
	if err != nil {
		return err
	}
	err = s.store.DeleteTenant(r.Context(), t.ID)
	switch {
	case errors.Is(err, store.ErrNotEmpty):
		return &Problem{Type: typeNotEmpty, Status: http.StatusConflict,
			Detail: fmt.Sprintf("tenant %q still has apps; delete them first (%v)", t.Name, err)}
	case errors.Is(err, store.ErrNotFound):
		return notFound("tenant %q not found", t.Name)
	case err != nil:
		return err
	}
	s.logger.InfoContext(r.Context(), "deleted tenant", "tenant", t.Name, "tenant_id", t.ID, "request_id", RequestIDFrom(r.Context()))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
