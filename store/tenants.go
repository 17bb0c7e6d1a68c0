package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/rainflow/rainflow/contract"
)

// CreateTenant stores a new tenant and answers it with its ID and CreatedAt set. A tenant with the same
// name answers ErrAlreadyExists.
func (s *Store) CreateTenant(ctx context.Context, t Tenant) (Tenant, error) {
	if t.Name == "" {
		return Tenant{}, fmt.Errorf("create tenant: name is empty: %w", ErrInvalid)
	}
	row := tenantRow{ID: newID(), Name: t.Name, DisplayName: t.DisplayName, CreatedAt: now(), Settings: &t.Settings}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return Tenant{}, fmt.Errorf("create tenant %q: %w", t.Name, translate(err))
	}
	return row.model(), nil
}

// GetTenant answers the tenant with this name.
func (s *Store) GetTenant(ctx context.Context, name string) (Tenant, error) {
	var row tenantRow
	if err := s.db.WithContext(ctx).Where("name = ?", name).Take(&row).Error; err != nil {
		return Tenant{}, fmt.Errorf("get tenant %q: %w", name, translate(err))
	}
	return row.model(), nil
}

// GetTenantByID answers the tenant with this id.
func (s *Store) GetTenantByID(ctx context.Context, id string) (Tenant, error) {
	var row tenantRow
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return Tenant{}, fmt.Errorf("get tenant %s: %w", id, translate(err))
	}
	return row.model(), nil
}

// UpdateTenant stores the tenant's display name and settings (its name never changes) and answers it.
func (s *Store) UpdateTenant(ctx context.Context, t Tenant) (Tenant, error) {
	res := s.db.WithContext(ctx).Model(&tenantRow{}).Where("id = ?", t.ID).
		Updates(map[string]any{"display_name": t.DisplayName, "settings": settingsJSON(t.Settings)})
	if res.Error != nil {
		return Tenant{}, fmt.Errorf("update tenant %s: %w", t.ID, translate(res.Error))
	}
	return s.GetTenantByID(ctx, t.ID) // a missing tenant answers ErrNotFound here (MySQL counts changed rows only)
}

// settingsJSON is the settings column's value (Updates with a map bypasses the serializer).
func settingsJSON(v contract.TenantSettings) string {
	b, _ := json.Marshal(v) // plain structs always marshal
	return string(b)
}

// ListTenants answers one page of tenants ordered by name, and the cursor of the next page ("" after
// the last).
func (s *Store) ListTenants(ctx context.Context, page Page) ([]Tenant, string, error) {
	rows, next, err := listByName(s.db.WithContext(ctx).Model(&tenantRow{}), page,
		func(r tenantRow) string { return r.Name })
	if err != nil {
		return nil, "", fmt.Errorf("list tenants: %w", translate(err))
	}
	return models(rows, tenantRow.model), next, nil
}

// DeleteTenant deletes the tenant and its operations' records. A tenant that still has apps answers
// ErrNotEmpty.
func (s *Store) DeleteTenant(ctx context.Context, id string) error {
	if err := s.deleteEmpty(ctx, id, &tenantRow{}, &appRow{}, "tenant_id", "apps"); err != nil {
		return fmt.Errorf("delete tenant %s: %w", id, err)
	}
	return nil
}

// newID answers a new time-ordered UUID (v7), so that new rows land at the end of the primary index.
func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// notEmptyOnForeignKey reads a foreign key violation on delete as "still has children": the count
// checked first can race with a concurrent insert, the database cannot.
func notEmptyOnForeignKey(err error) error {
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		return fmt.Errorf("rows still refer to it: %w", ErrNotEmpty)
	}
	return err
}
