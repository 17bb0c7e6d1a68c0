package store

import (
	"time"

	"github.com/rainflow/rainflow/contract"
)

// Tenant is a team, the unit of isolation; its name is also its Kubernetes namespace.
type Tenant struct {
	ID          string
	Name        string // unique
	DisplayName string
	// Settings are what the tenant's namespace allows: its quota and containers' default resources.
	Settings  contract.TenantSettings
	CreatedAt time.Time
}

// App is a group of components released together.
type App struct {
	ID        string
	TenantID  string
	Name      string // unique within the tenant
	CreatedAt time.Time
}

// Component is one deployable service and its desired spec.
type Component struct {
	ID       string
	TenantID string // set by the store from the app
	AppID    string
	Name     string // unique within the app
	Spec     contract.ComponentSpec
	// Version counts the spec's changes, from 1; it is the component's ETag, and UpdateComponentSpec
	// refuses a write that names an older one.
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Operation is one user-visible action, run as one Temporal workflow execution. Its state lives in
// Temporal; the row keeps who asked, for what, and where to find the run.
type Operation struct {
	ID          string // a UUID
	TenantID    string
	AppID       string // empty when the app was deleted, or for tenant-wide operations
	ComponentID string // empty when the component was deleted, or for app-wide operations
	Kind        contract.OperationKind
	WorkflowID  string
	// RunID is empty until the operation was started: then the run of the component's queue that took
	// it (its own workflow's run for operations recorded before queues; see WorkflowID).
	RunID string
	// IdempotencyKey is unique within the tenant; empty means none.
	IdempotencyKey string
	RequestedBy    string
	CreatedAt      time.Time
	// CanceledAt is when the operation was canceled while it waited in its component's queue: it never
	// ran. nil otherwise (an operation canceled while it ran is canceled in Temporal).
	CanceledAt *time.Time
}

// Release is a snapshot that ran: the image by digest and the spec it ran with. Its id is chosen by
// the workflow that recorded it, so that a retried record is recognized.
type Release struct {
	ID          string
	ComponentID string
	OperationID string
	ImageDigest string // repository@sha256:...
	Spec        contract.ComponentSpec
	// SecretEnvVersion is the version of the component's secret env the release ran with (0: none), so
	// that a rollback restores it.
	SecretEnvVersion int64
	// Routes are the component's routes the release ran with (contract/routes.go), so that a rollback
	// restores them.
	Routes    []contract.Route
	CreatedAt time.Time
}
