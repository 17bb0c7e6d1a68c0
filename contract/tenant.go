package contract

// Operations on a tenant itself: its namespace, with the LimitRange that gives containers default
// resources and the ResourceQuota that bounds the whole tenant, set up when the tenant is created and
// each time its quota changes; and the namespace's removal when the tenant is deleted.

// Tenant workflow type names.
const (
	WorkflowTenantSetup  = "TenantSetup"
	WorkflowTenantDelete = "TenantDelete"
)

// Tenant operation kinds.
const (
	OperationTenantSetup  OperationKind = "tenant-setup"
	OperationTenantDelete OperationKind = "tenant-delete"
)

// TenantOperationWorkflowID is the workflow id of one operation on a tenant.
func TenantOperationWorkflowID(kind OperationKind, tenant, operationID string) string {
	return string(kind) + "/" + tenant + "/" + operationID
}

// TenantOperationInput starts TenantSetup or TenantDelete. A setup applies the tenant's settings as
// the store holds them when it runs, not as they were when it was asked: of two setups racing, either
// leaves the latest settings in place.
type TenantOperationInput struct {
	OperationID string `json:"operationId"`
	Tenant      string `json:"tenant"`   // the tenant's name: its namespace
	TenantID    string `json:"tenantId"` // the store's id
	RequestedBy string `json:"requestedBy,omitempty"`
}

// TenantSettings are what a tenant's namespace allows, as the store keeps them.
type TenantSettings struct {
	// Quota bounds what the tenant uses in total; nil: no ResourceQuota.
	Quota *TenantQuota `json:"quota,omitempty"`
	// ContainerDefaults are the requests and limits of a container that sets none (LimitRange); empty
	// fields take the platform's defaults.
	ContainerDefaults Resources `json:"containerDefaults,omitzero"`
}

// TenantSetupResult says what the setup applied.
type TenantSetupResult struct {
	Namespace     string `json:"namespace"`
	LimitRange    string `json:"limitRange"`
	ResourceQuota string `json:"resourceQuota,omitempty"` // empty when the tenant has no quota
	// QuotaRemoved is true when a quota applied before was removed because the tenant has none now.
	QuotaRemoved bool `json:"quotaRemoved,omitempty"`
}

// TenantDeleteResult says what the delete removed.
type TenantDeleteResult struct {
	Namespace        string `json:"namespace"`
	NamespaceDeleted bool   `json:"namespaceDeleted"` // false when it was gone already
	Forgotten        bool   `json:"forgotten"`        // false when the record was gone already
}
