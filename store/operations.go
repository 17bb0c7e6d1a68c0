package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/rainflow/rainflow/contract"
)

// CreateOperation stores a new operation and answers it with its ID (unless set) and CreatedAt set.
// TenantID, Kind and WorkflowID are required; with a ComponentID the store fills AppID from the
// component, which must be in the tenant. An IdempotencyKey already used in the tenant answers
// ErrAlreadyExists: read that operation with GetOperationByIdempotencyKey.
func (s *Store) CreateOperation(ctx context.Context, op Operation) (Operation, error) {
	if op.TenantID == "" || op.Kind == "" || op.WorkflowID == "" {
		return Operation{}, fmt.Errorf("create operation: tenant, kind and workflow id are required: %w", ErrInvalid)
	}
	db := s.db.WithContext(ctx)
	if op.ComponentID != "" {
		var c componentRow
		err := db.Where("id = ? AND tenant_id = ?", op.ComponentID, op.TenantID).Take(&c).Error
		if err != nil {
			return Operation{}, fmt.Errorf("create operation: component %s: %w", op.ComponentID, translate(err))
		}
		op.AppID = c.AppID
	}
	if op.ID == "" {
		op.ID = newID()
	}
	row := operationRow{
		ID: op.ID, TenantID: op.TenantID, AppID: nullable(op.AppID), ComponentID: nullable(op.ComponentID),
		Kind: string(op.Kind), WorkflowID: op.WorkflowID, RunID: op.RunID,
		IdempotencyKey: nullable(op.IdempotencyKey), RequestedBy: op.RequestedBy, CreatedAt: now(),
	}
	if err := db.Create(&row).Error; err != nil {
		if errors.Is(err, gorm.ErrForeignKeyViolated) {
			return Operation{}, fmt.Errorf("create operation: tenant %s or app %s: %w", op.TenantID, op.AppID, ErrNotFound)
		}
		return Operation{}, fmt.Errorf("create operation (idempotency key %q): %w", op.IdempotencyKey, translate(err))
	}
	return row.model(), nil
}

// GetOperation answers the tenant's operation with this id.
func (s *Store) GetOperation(ctx context.Context, tenantID, id string) (Operation, error) {
	var row operationRow
	if err := s.db.WithContext(ctx).Where("tenant_id = ? AND id = ?", tenantID, id).Take(&row).Error; err != nil {
		return Operation{}, fmt.Errorf("get operation %s: %w", id, translate(err))
	}
	return row.model(), nil
}

// GetOperationByIdempotencyKey answers the tenant's operation created with this idempotency key.
func (s *Store) GetOperationByIdempotencyKey(ctx context.Context, tenantID, key string) (Operation, error) {
	if key == "" {
		return Operation{}, fmt.Errorf("get operation by idempotency key: key is empty: %w", ErrInvalid)
	}
	var row operationRow
	err := s.db.WithContext(ctx).Where("tenant_id = ? AND idempotency_key = ?", tenantID, key).Take(&row).Error
	if err != nil {
		return Operation{}, fmt.Errorf("get operation by idempotency key %q: %w", key, translate(err))
	}
	return row.model(), nil
}

// ListOperations answers one page of the component's operations, newest first, and the next page's cursor.
func (s *Store) ListOperations(ctx context.Context, componentID string, page Page) ([]Operation, string, error) {
	q := s.db.WithContext(ctx).Model(&operationRow{}).Where("component_id = ?", componentID)
	rows, next, err := listNewestFirst(q, page, func(r operationRow) (time.Time, string) { return r.CreatedAt, r.ID })
	if err != nil {
		return nil, "", fmt.Errorf("list operations: %w", translate(err))
	}
	return models(rows, operationRow.model), next, nil
}

// OperationFilter says which of a tenant's operations ListOperationsWhere answers. TenantID is
// required; every other field narrows the list when set.
type OperationFilter struct {
	TenantID string
	// AppID keeps the app's operations: its own (app-level) ones and its components' ones, those of
	// components deleted since included.
	AppID string
	// ComponentID keeps the component's operations.
	ComponentID string
	Kind        contract.OperationKind
	RequestedBy string
	// Since and Until bound the creation time: Since <= CreatedAt < Until; zero is unbounded.
	Since, Until time.Time
}

// ListOperationsWhere answers one page of the operations the filter keeps, newest first, and the next
// page's cursor; a cursor is a position in the list, so it stays valid whatever filter asks for the
// next page.
func (s *Store) ListOperationsWhere(ctx context.Context, f OperationFilter, page Page) ([]Operation, string, error) {
	if f.TenantID == "" {
		return nil, "", fmt.Errorf("list operations: tenant is required: %w", ErrInvalid)
	}
	q := s.db.WithContext(ctx).Model(&operationRow{}).Where("tenant_id = ?", f.TenantID)
	if f.AppID != "" {
		q = q.Where("app_id = ?", f.AppID)
	}
	if f.ComponentID != "" {
		q = q.Where("component_id = ?", f.ComponentID)
	}
	if f.Kind != "" {
		q = q.Where("kind = ?", string(f.Kind))
	}
	if f.RequestedBy != "" {
		q = q.Where("requested_by = ?", f.RequestedBy)
	}
	if !f.Since.IsZero() {
		q = q.Where("created_at >= ?", ceilMicrosecond(f.Since))
	}
	if !f.Until.IsZero() {
		q = q.Where("created_at < ?", ceilMicrosecond(f.Until))
	}
	rows, next, err := listNewestFirst(q, page, func(r operationRow) (time.Time, string) { return r.CreatedAt, r.ID })
	if err != nil {
		return nil, "", fmt.Errorf("list operations: %w", translate(err))
	}
	return models(rows, operationRow.model), next, nil
}

// ceilMicrosecond answers t in UTC rounded up to the store's precision (see now), so that a bound
// between two microseconds compares with the stored times as the exact bound would.
func ceilMicrosecond(t time.Time) time.Time {
	u := t.UTC()
	if c := u.Truncate(time.Microsecond); !c.Equal(u) {
		return c.Add(time.Microsecond)
	}
	return u
}

// SetOperationRunID records the run the operation's workflow started as.
func (s *Store) SetOperationRunID(ctx context.Context, id, runID string) error {
	res := s.db.WithContext(ctx).Model(&operationRow{}).Where("id = ?", id).Update("run_id", runID)
	if res.Error != nil {
		return fmt.Errorf("set operation %s run id: %w", id, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		// MySQL counts changed rows only: setting the same run id again is not "not found".
		return s.operationExists(ctx, id, "set operation %s run id")
	}
	return nil
}

// operationExists answers nil when the operation exists, else ErrNotFound (or the database's error),
// wrapped in the message what (with the id in its %s): an update that changed no row may have found
// the row already as it wanted it.
func (s *Store) operationExists(ctx context.Context, id, what string) error {
	var n int64
	if err := s.db.WithContext(ctx).Model(&operationRow{}).Where("id = ?", id).Count(&n).Error; err != nil {
		return fmt.Errorf(what+": %w", id, translate(err))
	}
	if n == 0 {
		return fmt.Errorf(what+": %w", id, ErrNotFound)
	}
	return nil
}

// DeleteOperation deletes the operation's record; the API uses it to take back an operation whose
// workflow never started, so that its idempotency key can be used again.
func (s *Store) DeleteOperation(ctx context.Context, id string) error {
	res := s.db.WithContext(ctx).Where("id = ?", id).Delete(&operationRow{})
	if res.Error != nil {
		return fmt.Errorf("delete operation %s: %w", id, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete operation %s: %w", id, ErrNotFound)
	}
	return nil
}

// SetOperationCanceled records that the operation was canceled before it ran.
func (s *Store) SetOperationCanceled(ctx context.Context, id string) error {
	res := s.db.WithContext(ctx).Model(&operationRow{}).Where("id = ? AND canceled_at IS NULL", id).Update("canceled_at", now())
	if res.Error != nil {
		return fmt.Errorf("set operation %s canceled: %w", id, translate(res.Error))
	}
	if res.RowsAffected == 0 { // canceled already (the first time stays), or no such operation
		return s.operationExists(ctx, id, "set operation %s canceled")
	}
	return nil
}
