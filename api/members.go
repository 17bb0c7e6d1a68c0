package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/rainflow/rainflow/store"
)

// A tenant's members and their roles. Any member may list them; the tenant's admins (and platform
// admins) change them.

type putMemberRequest struct {
	Role string `json:"role"`
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) error {
	t, err := s.tenantOf(r)
	if err != nil {
		return err
	}
	return serveList(w, r, func(p store.Page) ([]store.Membership, string, error) {
		return s.store.ListMembers(r.Context(), t.ID, p)
	},
		func(m store.Membership) membershipView { return newMembershipView(t.Name, m.UserName, m) })
}

// memberUser answers the user the path names, or a 404 problem.
func (s *Server) memberUser(r *http.Request) (store.User, error) {
	name := chi.URLParam(r, "user")
	u, err := s.store.GetUser(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, notFound("user %q not found", name)
	}
	return u, err
}

func (s *Server) getMember(w http.ResponseWriter, r *http.Request) error {
	t, err := s.tenantOf(r)
	if err != nil {
		return err
	}
	u, err := s.memberUser(r)
	if err != nil {
		return err
	}
	m, err := s.store.GetMembership(r.Context(), t.ID, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("user %q is not a member of tenant %q", u.Name, t.Name)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newMembershipView(t.Name, u.Name, m))
	return nil
}

func (s *Server) putMember(w http.ResponseWriter, r *http.Request) error {
	t, err := s.tenantOf(r)
	if err != nil {
		return err
	}
	var req putMemberRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if store.RoleRank(req.Role) == 0 {
		return validationProblem("member", fieldErrors{{Field: "role", Reason: fmt.Sprintf("must be one of %s", strings.Join(store.Roles, ", "))}})
	}
	u, err := s.memberUser(r)
	if err != nil {
		return err
	}
	m, created, err := s.store.SetMembership(r.Context(), t.ID, u.ID, req.Role)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("tenant %q or user %q not found", t.Name, u.Name)
	}
	if err != nil {
		return err
	}
	s.logger.InfoContext(r.Context(), "set member role", "tenant", t.Name, "user", u.Name, "role", m.Role, "request_id", RequestIDFrom(r.Context()))
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	view := newMembershipView(t.Name, u.Name, m)
	w.Header().Set("Location", view.Links["self"])
	writeJSON(w, status, view)
	return nil
}

func (s *Server) deleteMember(w http.ResponseWriter, r *http.Request) error {
	t, err := s.tenantOf(r)
	if err != nil {
		return err
	}
	u, err := s.memberUser(r)
	if err != nil {
		return err
	}
	if err := s.store.DeleteMembership(r.Context(), t.ID, u.ID); errors.Is(err, store.ErrNotFound) {
		return notFound("user %q is not a member of tenant %q", u.Name, t.Name)
	} else if err != nil {
		return err
	}
	s.logger.InfoContext(r.Context(), "removed member", "tenant", t.Name, "user", u.Name, "request_id", RequestIDFrom(r.Context()))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
