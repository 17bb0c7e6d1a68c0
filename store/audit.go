package store

import (
	"context"
	"fmt"
	"time"
)

// AuditEvent is one change someone asked the API for, whatever its outcome: who, what, where, and the
// answer's status.
type AuditEvent struct {
	ID          string
	CreatedAt   time.Time
	TenantID    string // empty for requests outside a tenant (users, tenants)
	TenantName  string
	Principal   string
	Action      string // the method and route pattern: "POST /v1/tenants/{tenant}/apps"
	Path        string // the path as requested
	Status      int
	RequestID   string
	OperationID string // the operation the request started, if it started one
	RemoteAddr  string
}

type auditRow struct {
	ID          string    `gorm:"column:id;primaryKey"`
	CreatedAt   time.Time `gorm:"column:created_at"`
	TenantID    *string   `gorm:"column:tenant_id"`
	TenantName  string    `gorm:"column:tenant_name"`
	Principal   string    `gorm:"column:principal"`
	Action      string    `gorm:"column:action"`
	Path        string    `gorm:"column:path"`
	Status      int       `gorm:"column:status"`
	RequestID   string    `gorm:"column:request_id"`
	OperationID *string   `gorm:"column:operation_id"`
	RemoteAddr  string    `gorm:"column:remote_addr"`
}

func (auditRow) TableName() string { return "audit_events" }

func (r auditRow) model() AuditEvent {
	return AuditEvent{ID: r.ID, CreatedAt: r.CreatedAt.UTC(), TenantID: deref(r.TenantID), TenantName: r.TenantName,
		Principal: r.Principal, Action: r.Action, Path: r.Path, Status: r.Status, RequestID: r.RequestID,
		OperationID: deref(r.OperationID), RemoteAddr: r.RemoteAddr}
}

// Longest audit texts kept; longer ones are cut.
const (
	maxAuditPath  = 2048
	maxAuditShort = 255
)

// RecordAudit stores an audit event; ID and CreatedAt are set.
func (s *Store) RecordAudit(ctx context.Context, e AuditEvent) (AuditEvent, error) {
	if e.Principal == "" || e.Action == "" {
		return AuditEvent{}, fmt.Errorf("record audit event: principal and action are required: %w", ErrInvalid)
	}
	row := auditRow{ID: newID(), CreatedAt: now(), TenantID: nullable(e.TenantID), TenantName: cut(e.TenantName, 63),
		Principal: cut(e.Principal, maxAuditShort), Action: cut(e.Action, maxAuditShort), Path: cut(e.Path, maxAuditPath),
		Status: e.Status, RequestID: cut(e.RequestID, 128), OperationID: nullable(e.OperationID),
		RemoteAddr: cut(e.RemoteAddr, 128)}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return AuditEvent{}, fmt.Errorf("record audit event %s: %w", e.Action, translate(err))
	}
	return row.model(), nil
}

// AuditFilter narrows a list of audit events; zero fields do not filter.
type AuditFilter struct {
	TenantID  string
	Principal string
	Since     time.Time // created at or after
	Until     time.Time // created before
}

// ListAudit answers one page of audit events, newest first.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter, page Page) ([]AuditEvent, string, error) {
	q := s.db.WithContext(ctx).Model(&auditRow{})
	if f.TenantID != "" {
		q = q.Where("tenant_id = ?", f.TenantID)
	}
	if f.Principal != "" {
		q = q.Where("principal = ?", f.Principal)
	}
	if !f.Since.IsZero() {
		q = q.Where("created_at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("created_at < ?", f.Until.UTC())
	}
	rows, next, err := listNewestFirst(q, page, func(r auditRow) (time.Time, string) { return r.CreatedAt, r.ID })
	if err != nil {
		return nil, "", fmt.Errorf("list audit events: %w", translate(err))
	}
	return models(rows, auditRow.model), next, nil
}

// cut answers s cut to at most n bytes, on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
