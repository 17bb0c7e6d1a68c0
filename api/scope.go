package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/rainflow/rainflow/store"
)

// tenantAccess is the tenant a request is inside and the caller's role there.
type tenantAccess struct {
	tenant store.Tenant
	role   string
}

type tenantAccessKey struct{}

var tenantAccessCtxKey = &tenantAccessKey{}

func accessFrom(ctx context.Context) (tenantAccess, bool) {
	a, ok := ctx.Value(tenantAccessCtxKey).(tenantAccess)
	return a, ok
}

// tenantScope guards every route inside a tenant: a platform admin may do anything; a member may read
// as a viewer and change things as a developer or admin; anyone else gets the same 404 as for a tenant
// that does not exist, so that tenant names do not leak. The tenant it read is kept in the context
// for the handler (tenantOf) and the audit trail. getComponent decides the same with admitToTenant,
// from its own query.
func (s *Server) tenantScope(next http.Handler) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		p, _ := PrincipalFrom(ctx)
		name := chi.URLParam(r, "tenant")
		t, role, err := s.store.TenantAccess(ctx, name, p.UserID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return hiddenTenant(name)
		case err != nil:
			return err
		}
		role, err = admitToTenant(r, p, t, role)
		if err != nil {
			return err
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, tenantAccessCtxKey, tenantAccess{tenant: t, role: role})))
		return nil
	})
}

// hiddenTenant is the 404 of a tenant that does not exist, or that the caller may not see.
func hiddenTenant(name string) *Problem { return notFound("tenant %q not found", name) }

// admitToTenant admits the principal, who holds role in t ("" for none), into the tenant for the
// request, notes the tenant and role for the audit trail, and answers the role it acts with (a
// platform admin is an admin of every tenant). A principal who is neither a member nor a platform
// admin gets the 404 of hiddenTenant; a member whose role is too weak for the method (a viewer reads;
// changes need a developer) a 403.
func admitToTenant(r *http.Request, p Principal, t store.Tenant, role string) (string, error) {
	switch {
	case p.Admin:
		role = store.RoleAdmin
	case role == "":
		return "", hiddenTenant(t.Name)
	}
	if n := notesOf(r.Context()); n != nil {
		n.tenant, n.role = t, role
	}
	need := store.RoleDeveloper
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		need = store.RoleViewer
	}
	if err := roleAllows(p, t, role, need, r); err != nil {
		return "", err
	}
	return role, nil
}

// requireTenantRole admits, inside tenantScope, only principals holding at least the role in the
// tenant (platform admins always).
func requireTenantRole(role string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := PrincipalFrom(r.Context())
			a, _ := accessFrom(r.Context())
			if err := roleAllows(p, a.tenant, a.role, role, r); err != nil {
				writeProblem(w, r, err.(*Problem))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// roleAllows answers nil when role is at least need, else a 403 problem saying what is missing.
func roleAllows(p Principal, t store.Tenant, role, need string, r *http.Request) error {
	if p.Admin || store.RoleRank(role) >= store.RoleRank(need) {
		return nil
	}
	return &Problem{Type: typeForbidden, Status: http.StatusForbidden,
		Detail: fmt.Sprintf("principal %q is a %s of tenant %q; %s %s needs the %s role", p.Name, role, t.Name, r.Method, r.URL.Path, need)}
}

// requireAdmin answers 403 unless the authenticated principal is a platform admin.
func requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		if !p.Admin {
			writeProblem(w, r, &Problem{
				Type: typeForbidden, Status: http.StatusForbidden,
				Detail: fmt.Sprintf("principal %q may not %s %s: only a platform admin may", p.Name, r.Method, r.URL.Path),
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}
