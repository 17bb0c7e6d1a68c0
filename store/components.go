package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/rainflow/rainflow/contract"
)

// CreateComponent stores a new component in c.AppID at version 1 and answers it with its ID, TenantID
// (the app's), Version and timestamps set. A component with the same name in the app answers
// ErrAlreadyExists; an unknown app answers ErrNotFound.
func (s *Store) CreateComponent(ctx context.Context, c Component) (Component, error) {
	if c.Name == "" || c.AppID == "" {
		return Component{}, fmt.Errorf("create component: name and app are required: %w", ErrInvalid)
	}
	db := s.db.WithContext(ctx)
	var app appRow
	if err := db.Where("id = ?", c.AppID).Take(&app).Error; err != nil {
		return Component{}, fmt.Errorf("create component %q: app %s: %w", c.Name, c.AppID, translate(err))
	}
	t := now()
	row := componentRow{
		ID: newID(), TenantID: app.TenantID, AppID: app.ID, Name: c.Name, Spec: c.Spec, Version: 1,
		CreatedAt: t, UpdatedAt: t,
	}
	if err := db.Create(&row).Error; err != nil {
		if errors.Is(err, gorm.ErrForeignKeyViolated) {
			return Component{}, fmt.Errorf("create component %q: app %s: %w", c.Name, c.AppID, ErrNotFound)
		}
		return Component{}, fmt.Errorf("create component %q: %w", c.Name, translate(err))
	}
	return row.model(), nil
}

// GetComponent answers the component with this name in the app.
func (s *Store) GetComponent(ctx context.Context, appID, name string) (Component, error) {
	var row componentRow
	err := s.db.WithContext(ctx).Where("app_id = ? AND name = ?", appID, name).Take(&row).Error
	if err != nil {
		return Component{}, fmt.Errorf("get component %q: %w", name, translate(err))
	}
	return row.model(), nil
}

// GetComponentByID answers the component with this id.
func (s *Store) GetComponentByID(ctx context.Context, id string) (Component, error) {
	var row componentRow
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return Component{}, fmt.Errorf("get component %s: %w", id, translate(err))
	}
	return row.model(), nil
}

// ListComponents answers one page of the app's components ordered by name, and the next page's cursor.
func (s *Store) ListComponents(ctx context.Context, appID string, page Page) ([]Component, string, error) {
	q := s.db.WithContext(ctx).Model(&componentRow{}).Where("app_id = ?", appID)
	rows, next, err := listByName(q, page, func(r componentRow) string { return r.Name })
	if err != nil {
		return nil, "", fmt.Errorf("list components: %w", translate(err))
	}
	return models(rows, componentRow.model), next, nil
}

// UpdateComponentSpec replaces the component's spec if the component is still at expectedVersion, and
// answers it at the next version. A component that changed since answers ErrConflict; one that is gone
// answers ErrNotFound.
func (s *Store) UpdateComponentSpec(ctx context.Context, id string, expectedVersion int64, spec contract.ComponentSpec) (Component, error) {
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return Component{}, fmt.Errorf("update component %s: encode spec: %w", id, err)
	}
	var row componentRow
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&componentRow{}).Where("id = ? AND version = ?", id, expectedVersion).Updates(map[string]any{
			"spec":       string(specJSON),
			"version":    gorm.Expr("version + 1"),
			"updated_at": now(),
		})
		if res.Error != nil {
			return res.Error
		}
		if err := tx.Where("id = ?", id).Take(&row).Error; err != nil {
			return err
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("component is at version %d, not %d: %w", row.Version, expectedVersion, ErrConflict)
		}
		return nil
	})
	if err != nil {
		return Component{}, fmt.Errorf("update component %s: %w", id, translate(err))
	}
	return row.model(), nil
}

// DeleteComponent deletes the component and its releases; its operations' records stay, without it.
func (s *Store) DeleteComponent(ctx context.Context, id string) error {
	res := s.db.WithContext(ctx).Where("id = ?", id).Delete(&componentRow{})
	if res.Error != nil {
		return fmt.Errorf("delete component %s: %w", id, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete component %s: %w", id, ErrNotFound)
	}
	return nil
}

// GetAppComponent answers the tenant's app and its component of these names in one read, for the API,
// whose paths to a component name both. A missing app or component answers ErrNotFound (GetApp says
// which).
func (s *Store) GetAppComponent(ctx context.Context, tenantID, app, component string) (App, Component, error) {
	var row struct {
		ID           string                 `gorm:"column:id"`
		TenantID     string                 `gorm:"column:tenant_id"`
		AppID        string                 `gorm:"column:app_id"`
		Name         string                 `gorm:"column:name"`
		Spec         contract.ComponentSpec `gorm:"column:spec;serializer:json"`
		Version      int64                  `gorm:"column:version"`
		CreatedAt    time.Time              `gorm:"column:created_at"`
		UpdatedAt    time.Time              `gorm:"column:updated_at"`
		AppName      string                 `gorm:"column:app_name"`
		AppCreatedAt time.Time              `gorm:"column:app_created_at"`
	}
	err := s.db.WithContext(ctx).Table("components").
		Select("components.id, components.tenant_id, components.app_id, components.name, components.spec, "+
			"components.version, components.created_at, components.updated_at, apps.name AS app_name, apps.created_at AS app_created_at").
		Joins("JOIN apps ON apps.id = components.app_id").
		Where("apps.tenant_id = ? AND apps.name = ? AND components.name = ?", tenantID, app, component).
		Take(&row).Error
	if err != nil {
		return App{}, Component{}, fmt.Errorf("get component %q of app %q: %w", component, app, translate(err))
	}
	a := appRow{ID: row.AppID, TenantID: row.TenantID, Name: row.AppName, CreatedAt: row.AppCreatedAt}
	c := componentRow{ID: row.ID, TenantID: row.TenantID, AppID: row.AppID, Name: row.Name, Spec: row.Spec,
		Version: row.Version, CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt}
	return a.model(), c.model(), nil
}
