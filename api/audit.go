package api

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/rainflow/rainflow/store"
)

// The audit trail: every request that asks for a change (any method but GET, HEAD and OPTIONS) from
// an authenticated principal is recorded with its outcome, in its tenant when it has one, with the
// operation it started. Reads are not recorded.

// audit records the change requests it wraps. It sits inside authenticate and outside the routes, so
// it sees the final status; the tenant and the operation come from the request's notes.
func (s *Server) audit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		p, _ := PrincipalFrom(r.Context())
		e := store.AuditEvent{Principal: p.Name, Action: r.Method + " " + routePattern(r), Path: r.URL.Path,
			Status: status, RequestID: RequestIDFrom(r.Context()), RemoteAddr: r.RemoteAddr}
		if n := notesOf(r.Context()); n != nil {
			e.TenantID, e.TenantName, e.OperationID = n.tenant.ID, n.tenant.Name, n.operationID
		}
		// The answer is written: record on a context the client's going away does not cancel.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
		defer cancel()
		if _, err := s.store.RecordAudit(ctx, e); err != nil {
			s.metrics.auditFailures.Inc()
			s.logger.ErrorContext(ctx, "record audit event", "action", e.Action, "path", e.Path, "principal", e.Principal,
				"status", e.Status, "request_id", e.RequestID, "error", err)
		}
	})
}

type auditEventView struct {
	ID          string    `json:"id"`
	At          time.Time `json:"at"`
	Tenant      string    `json:"tenant,omitempty"`
	Principal   string    `json:"principal"`
	Action      string    `json:"action"`
	Path        string    `json:"path"`
	Status      int       `json:"status"`
	RequestID   string    `json:"requestId,omitempty"`
	OperationID string    `json:"operationId,omitempty"`
	RemoteAddr  string    `json:"remoteAddr,omitempty"`
}

func newAuditEventView(e store.AuditEvent) auditEventView {
	return auditEventView{ID: e.ID, At: e.CreatedAt, Tenant: e.TenantName, Principal: e.Principal, Action: e.Action,
		Path: e.Path, Status: e.Status, RequestID: e.RequestID, OperationID: e.OperationID, RemoteAddr: e.RemoteAddr}
}

// auditFilterOf reads the principal, since and until (RFC 3339) query parameters.
func auditFilterOf(r *http.Request) (store.AuditFilter, error) {
	q := r.URL.Query()
	f := store.AuditFilter{Principal: q.Get("principal")}
	var errs fieldErrors
	for _, p := range []struct {
		name string
		into *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				errs.add(p.name, "must be an RFC 3339 time, e.g. 2026-11-28T10:00:00Z")
			}
			*p.into = t
		}
	}
	if len(errs) > 0 {
		return f, &Problem{Type: typeMalformedRequest, Status: http.StatusBadRequest, Detail: "invalid audit filter", Errors: errs}
	}
	return f, nil
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, f store.AuditFilter) error {
	return serveList(w, r, func(p store.Page) ([]store.AuditEvent, string, error) { return s.store.ListAudit(r.Context(), f, p) }, newAuditEventView)
}

// listTenantAudit answers the tenant's audit trail, newest first (tenant admins).
func (s *Server) listTenantAudit(w http.ResponseWriter, r *http.Request) error {
	t, err := s.tenantOf(r)
	if err != nil {
		return err
	}
	f, err := auditFilterOf(r)
	if err != nil {
		return err
	}
	f.TenantID = t.ID
	return s.listAudit(w, r, f)
}

// listAllAudit answers the whole audit trail, newest first (platform admins); ?tenant= narrows it.
func (s *Server) listAllAudit(w http.ResponseWriter, r *http.Request) error {
	f, err := auditFilterOf(r)
	if err != nil {
		return err
	}
	if name := r.URL.Query().Get("tenant"); name != "" {
		t, err := s.store.GetTenant(r.Context(), name)
		if err != nil {
			return notFound("tenant %q not found", name)
		}
		f.TenantID = t.ID
	}
	return s.listAudit(w, r, f)
}
