package api

import (
	"encoding/json"
	"time"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// The JSON the API answers. Resources are named by their names in paths; operations and releases
// by their ids.

type tenantView struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	// Namespace is the tenant's Kubernetes namespace.
	Namespace         string                `json:"namespace"`
	Quota             *contract.TenantQuota `json:"quota,omitempty"`
	ContainerDefaults contract.Resources    `json:"containerDefaults,omitzero"`
	CreatedAt         time.Time             `json:"createdAt"`
	// Operation is the setup (or delete) the request started, when it started one.
	Operation *OperationRef     `json:"operation,omitempty"`
	Links     map[string]string `json:"links"`
}

func newTenantView(t store.Tenant) tenantView {
	return tenantView{
		Name: t.Name, DisplayName: t.DisplayName, Namespace: t.Name, Quota: t.Settings.Quota,
		ContainerDefaults: t.Settings.ContainerDefaults, CreatedAt: t.CreatedAt,
		Links: map[string]string{"self": tenantPath(t.Name), "apps": tenantPath(t.Name) + "/apps",
			"members": tenantPath(t.Name) + "/members", "operations": tenantPath(t.Name) + "/operations"},
	}
}

// withOperation names the operation the request started.
func (v tenantView) withOperation(t store.Tenant, op store.Operation) tenantView {
	v.Operation = &OperationRef{ID: op.ID, WorkflowID: op.WorkflowID, Kind: string(op.Kind), Href: operationPath(t.Name, op.ID)}
	return v
}

type appView struct {
	Name      string            `json:"name"`
	Tenant    string            `json:"tenant"`
	CreatedAt time.Time         `json:"createdAt"`
	Links     map[string]string `json:"links"`
}

func newAppView(t store.Tenant, a store.App) appView {
	self := appPath(t.Name, a.Name)
	return appView{
		Name: a.Name, Tenant: t.Name, CreatedAt: a.CreatedAt,
		Links: map[string]string{"self": self, "tenant": tenantPath(t.Name), "components": self + "/components"},
	}
}

type componentView struct {
	Name      string                 `json:"name"`
	Tenant    string                 `json:"tenant"`
	App       string                 `json:"app"`
	Spec      contract.ComponentSpec `json:"spec"`
	Version   int64                  `json:"version"` // also the ETag
	CreatedAt time.Time              `json:"createdAt"`
	UpdatedAt time.Time              `json:"updatedAt"`
	Links     componentLinks         `json:"links"`
	// SecretEnv names the component's secret env variables, never their values; a GET of the
	// component only.
	SecretEnv *secretEnvSummary `json:"secretEnv,omitempty"`
}

// componentLinks are a component's links. A struct rather than the other views' map: a component's
// read is the API's hottest, and a map of eleven links was a quarter of its allocations (each key
// sorted and copied again to encode it). Its fields are in the order of their JSON names, so that it
// encodes as the map did, byte for byte.
type componentLinks struct {
	App        string `json:"app"`
	Deploys    string `json:"deploys"`
	Operations string `json:"operations"`
	Releases   string `json:"releases"`
	Restart    string `json:"restart"`
	Routes     string `json:"routes"`
	Scale      string `json:"scale"`
	SecretEnv  string `json:"secretEnv"`
	Self       string `json:"self"`
	Start      string `json:"start"`
	Stop       string `json:"stop"`
}

func newComponentView(t store.Tenant, a store.App, c store.Component) componentView {
	self := componentPath(t.Name, a.Name, c.Name)
	return componentView{
		Name: c.Name, Tenant: t.Name, App: a.Name, Spec: c.Spec, Version: c.Version,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		Links: componentLinks{
			Self: self, App: appPath(t.Name, a.Name), Deploys: self + "/deploys",
			Start: self + "/start", Stop: self + "/stop", Restart: self + "/restart", Scale: self + "/scale",
			Operations: self + "/operations", Releases: self + "/releases", SecretEnv: self + "/secret-env",
			Routes: self + "/routes",
		},
	}
}

// operationAccepted answers an operation taken into its component's queue (or a replayed request).
type operationAccepted struct {
	OperationID string `json:"operationId"`
	Kind        string `json:"kind"`
	WorkflowID  string `json:"workflowId"`
	// State says what became of the request: "running" (it runs now), "queued" (it waits behind
	// Position operations), "merged" (an equal request already waited: OperationID is that one),
	// "pending" (queued, but no worker answered in time: its place is known once one runs),
	// "accepted" (a replay of an earlier request: GET the operation for its state).
	State    string            `json:"state"`
	Position *int              `json:"position,omitempty"`
	Merged   bool              `json:"merged,omitempty"`
	Links    map[string]string `json:"links"`
}

// operationView is an operation; the fields from State on come from Temporal and are only in the
// answer of GET .../operations/{operation}.
type operationView struct {
	ID          string `json:"id"`
	Tenant      string `json:"tenant"`
	App         string `json:"app,omitempty"`
	Component   string `json:"component,omitempty"`
	Kind        string `json:"kind"`
	WorkflowID  string `json:"workflowId"`
	RunID       string `json:"runId,omitempty"`
	RequestedBy string `json:"requestedBy,omitempty"`
	// IdempotencyKey is the Idempotency-Key the operation was requested with.
	IdempotencyKey string    `json:"idempotencyKey,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`

	State      string          `json:"state,omitempty"`
	StartedAt  *time.Time      `json:"startedAt,omitempty"`
	ClosedAt   *time.Time      `json:"closedAt,omitempty"`
	Steps      []contract.Step `json:"steps,omitempty"`
	StepsError string          `json:"stepsError,omitempty"`
	Error      string          `json:"error,omitempty"`
	Result     json.RawMessage `json:"result,omitempty"`
	StateNote  string          `json:"stateNote,omitempty"`
	// QueuePosition is how many operations run before this one in its component's queue, while it waits.
	QueuePosition *int `json:"queuePosition,omitempty"`
	CancelRequest bool `json:"cancelRequested,omitempty"`

	Links map[string]string `json:"links"`
}

// names are an operation's tenant, app and component names; gone when its component was deleted
// (the names then come from its workflow id, and the view links to no component).
type names struct {
	tenant, app, component string
	gone                   bool
}

func newOperationView(n names, op store.Operation, temporalUI string) operationView {
	self := operationPath(n.tenant, op.ID)
	v := operationView{
		ID: op.ID, Tenant: n.tenant, App: n.app, Component: n.component, Kind: string(op.Kind),
		WorkflowID: op.WorkflowID, RunID: op.RunID, RequestedBy: op.RequestedBy,
		IdempotencyKey: op.IdempotencyKey, CreatedAt: op.CreatedAt,
		Links: map[string]string{"self": self, "cancel": self + "/cancel"},
	}
	if n.app != "" && n.component != "" && !n.gone {
		v.Links["component"] = componentPath(n.tenant, n.app, n.component)
	}
	if temporalUI != "" {
		v.Links["temporalUI"] = temporalUI
	}
	return v
}

// withStatus adds what Temporal says about the operation's run.
func (v operationView) withStatus(st OperationStatus) operationView {
	v.State = st.State
	if !st.Started.IsZero() {
		started := st.Started
		v.StartedAt = &started
	}
	v.ClosedAt = st.Closed
	if st.Progress != nil {
		v.Steps = st.Progress.Steps
	}
	v.StepsError = st.ProgressError
	v.Error = st.Error
	v.Result = st.Result
	return v
}

type releaseView struct {
	ID          string                 `json:"id"`
	OperationID string                 `json:"operationId"`
	ImageDigest string                 `json:"imageDigest"`
	Spec        contract.ComponentSpec `json:"spec"`
	Routes      []contract.Route       `json:"routes,omitempty"` // the routes it ran with
	CreatedAt   time.Time              `json:"createdAt"`
	Links       map[string]string      `json:"links"`
}

func newReleaseView(tenant string, r store.Release) releaseView {
	return releaseView{
		ID: r.ID, OperationID: r.OperationID, ImageDigest: r.ImageDigest, Spec: r.Spec, Routes: r.Routes, CreatedAt: r.CreatedAt,
		Links: map[string]string{"operation": operationPath(tenant, r.OperationID)},
	}
}

// Paths of the resources. Names are DNS labels and ids UUIDs: none needs escaping.

func tenantPath(tenant string) string { return "/v1/tenants/" + tenant }

func appPath(tenant, app string) string { return tenantPath(tenant) + "/apps/" + app }

func componentPath(tenant, app, component string) string {
	return appPath(tenant, app) + "/components/" + component
}

func operationPath(tenant, id string) string { return tenantPath(tenant) + "/operations/" + id }
