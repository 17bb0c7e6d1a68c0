package store

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// CreateApp stores a new app in app.TenantID and answers it with its ID and CreatedAt set. An app with
// the same name in the tenant answers ErrAlreadyExists; an unknown tenant answers ErrNotFound.
func (s *Store) CreateApp(ctx context.Context, app App) (App, error) {
	if app.Name == "" || app.TenantID == "" {
		return App{}, fmt.Errorf("create app: name and tenant are required: %w", ErrInvalid)
	}
	row := appRow{ID: newID(), TenantID: app.TenantID, Name: app.Name, CreatedAt: now()}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		if errors.Is(err, gorm.ErrForeignKeyViolated) {
			return App{}, fmt.Errorf("create app %q: tenant %s: %w", app.Name, app.TenantID, ErrNotFound)
		}
		return App{}, fmt.Errorf("create app %q: %w", app.Name, translate(err))
	}
	return row.model(), nil
}

// GetApp answers the app with this name in the tenant.
func (s *Store) GetApp(ctx context.Context, tenantID, name string) (App, error) {
	var row appRow
	err := s.db.WithContext(ctx).Where("tenant_id = ? AND name = ?", tenantID, name).Take(&row).Error
	if err != nil {
		return App{}, fmt.Errorf("get app %q: %w", name, translate(err))
	}
	return row.model(), nil
}

// GetAppByID answers the app with this id.
func (s *Store) GetAppByID(ctx context.Context, id string) (App, error) {
	var row appRow
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return App{}, fmt.Errorf("get app %s: %w", id, translate(err))
	}
	return row.model(), nil
}

// ListApps answers one page of the tenant's apps ordered by name, and the next page's cursor.
func (s *Store) ListApps(ctx context.Context, tenantID string, page Page) ([]App, string, error) {
	q := s.db.WithContext(ctx).Model(&appRow{}).Where("tenant_id = ?", tenantID)
	rows, next, err := listByName(q, page, func(r appRow) string { return r.Name })
	if err != nil {
		return nil, "", fmt.Errorf("list apps: %w", translate(err))
	}
	return models(rows, appRow.model), next, nil
}

// DeleteApp deletes the app. An app that still has components answers ErrNotEmpty; its operations'
// records stay, without the app.
func (s *Store) DeleteApp(ctx context.Context, id string) error {
	if err := s.deleteEmpty(ctx, id, &appRow{}, &componentRow{}, "app_id", "components"); err != nil {
		return fmt.Errorf("delete app %s: %w", id, err)
	}
	return nil
}
