package store

import (
	"time"

	"github.com/rainflow/rainflow/contract"
)

// The row types map tables for gorm; the exported types in models.go are what callers see, so that
// nullable columns and gorm tags stay inside the store.

type tenantRow struct {
	ID          string    `gorm:"column:id;primaryKey"`
	Name        string    `gorm:"column:name"`
	DisplayName string    `gorm:"column:display_name"`
	CreatedAt   time.Time `gorm:"column:created_at"`
	// Settings: migration 6; NULL (rows from before it) reads as no settings.
	Settings *contract.TenantSettings `gorm:"column:settings;serializer:json"`
}

func (tenantRow) TableName() string { return "tenants" }

func (r tenantRow) model() Tenant {
	t := Tenant{ID: r.ID, Name: r.Name, DisplayName: r.DisplayName, CreatedAt: r.CreatedAt.UTC()}
	if r.Settings != nil {
		t.Settings = *r.Settings
	}
	return t
}

type appRow struct {
	ID        string    `gorm:"column:id;primaryKey"`
	TenantID  string    `gorm:"column:tenant_id"`
	Name      string    `gorm:"column:name"`
	CreatedAt time.Time `gorm:"column:created_at"`
}

func (appRow) TableName() string { return "apps" }

func (r appRow) model() App {
	return App{ID: r.ID, TenantID: r.TenantID, Name: r.Name, CreatedAt: r.CreatedAt.UTC()}
}

type componentRow struct {
	ID        string                 `gorm:"column:id;primaryKey"`
	TenantID  string                 `gorm:"column:tenant_id"`
	AppID     string                 `gorm:"column:app_id"`
	Name      string                 `gorm:"column:name"`
	Spec      contract.ComponentSpec `gorm:"column:spec;serializer:json"`
	Version   int64                  `gorm:"column:version"`
	CreatedAt time.Time              `gorm:"column:created_at"`
	UpdatedAt time.Time              `gorm:"column:updated_at"`
}

func (componentRow) TableName() string { return "components" }

func (r componentRow) model() Component {
	return Component{
		ID: r.ID, TenantID: r.TenantID, AppID: r.AppID, Name: r.Name, Spec: r.Spec, Version: r.Version,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

type operationRow struct {
	ID             string     `gorm:"column:id;primaryKey"`
	TenantID       string     `gorm:"column:tenant_id"`
	AppID          *string    `gorm:"column:app_id"`
	ComponentID    *string    `gorm:"column:component_id"`
	Kind           string     `gorm:"column:kind"`
	WorkflowID     string     `gorm:"column:workflow_id"`
	RunID          string     `gorm:"column:run_id"`
	IdempotencyKey *string    `gorm:"column:idempotency_key"`
	RequestedBy    string     `gorm:"column:requested_by"`
	CreatedAt      time.Time  `gorm:"column:created_at"`
	CanceledAt     *time.Time `gorm:"column:canceled_at"`
}

func (operationRow) TableName() string { return "operations" }

func (r operationRow) model() Operation {
	return Operation{
		ID: r.ID, TenantID: r.TenantID, AppID: deref(r.AppID), ComponentID: deref(r.ComponentID),
		Kind: contract.OperationKind(r.Kind), WorkflowID: r.WorkflowID, RunID: r.RunID,
		IdempotencyKey: deref(r.IdempotencyKey), RequestedBy: r.RequestedBy, CreatedAt: r.CreatedAt.UTC(),
		CanceledAt: utcOrNil(r.CanceledAt),
	}
}

func utcOrNil(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

type releaseRow struct {
	ID          string                 `gorm:"column:id;primaryKey"`
	ComponentID string                 `gorm:"column:component_id"`
	OperationID string                 `gorm:"column:operation_id"`
	ImageDigest string                 `gorm:"column:image_digest"`
	Spec        contract.ComponentSpec `gorm:"column:spec;serializer:json"`
	CreatedAt   time.Time              `gorm:"column:created_at"`
	// SecretEnvVersion: migration 3
	SecretEnvVersion int64 `gorm:"column:secret_env_version"`
	// Routes: migration 4
	Routes []contract.Route `gorm:"column:routes;serializer:json"`
}

func (releaseRow) TableName() string { return "releases" }

func (r releaseRow) model() Release {
	return Release{
		ID: r.ID, ComponentID: r.ComponentID, OperationID: r.OperationID, ImageDigest: r.ImageDigest,
		Spec: r.Spec, SecretEnvVersion: r.SecretEnvVersion, Routes: r.Routes, CreatedAt: r.CreatedAt.UTC(),
	}
}

// nullable maps "" to NULL.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
