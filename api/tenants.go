package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// Tenants. A tenant is a Kubernetes namespace: creating one, or changing its quota or its containers'
// default resources, starts a TenantSetup operation that applies them (namespace, LimitRange,
// ResourceQuota); deleting one starts a TenantDelete operation that removes the namespace and then the
// record. Only platform admins create, change and delete tenants.

type createTenantRequest struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	// Quota bounds what the tenant uses in total; omitted: unbounded.
	Quota *contract.TenantQuota `json:"quota"`
	// ContainerDefaults are the requests and limits of a container that sets none.
	ContainerDefaults *contract.Resources `json:"containerDefaults"`
}

// patchTenantRequest changes what it names and keeps the rest. A quota of null removes the quota.
type patchTenantRequest struct {
	DisplayName       *string                         `json:"displayName"`
	Quota             optional[*contract.TenantQuota] `json:"quota"`
	ContainerDefaults *contract.Resources             `json:"containerDefaults"`
}

// maxDisplayName is the longest display name kept.
const maxDisplayName = 255

// maxQuotaCount bounds the pods and volumes a quota may allow, against typos.
const maxQuotaCount = 1_000_000

func validateDisplayName(errs *fieldErrors, field, name string) {
	if utf8.RuneCountInString(name) > maxDisplayName {
		errs.add(field, fmt.Sprintf("must be at most %d characters", maxDisplayName))
	}
}

func validateSettings(errs *fieldErrors, s contract.TenantSettings) {
	if q := s.Quota; q != nil {
		quantity(errs, "quota.cpuRequests", q.CPURequests)
		quantity(errs, "quota.cpuLimits", q.CPULimits)
		quantity(errs, "quota.memoryRequests", q.MemoryRequests)
		quantity(errs, "quota.memoryLimits", q.MemoryLimits)
		quantity(errs, "quota.storage", q.Storage)
		if q.Pods < 0 || q.Pods > maxQuotaCount {
			errs.add("quota.pods", fmt.Sprintf("must be between 0 (unbounded) and %d", maxQuotaCount))
		}
		if q.Volumes < 0 || q.Volumes > maxQuotaCount {
			errs.add("quota.volumes", fmt.Sprintf("must be between 0 (unbounded) and %d", maxQuotaCount))
		}
		if *q == (contract.TenantQuota{}) {
			errs.add("quota", "bounds nothing: give at least one field, or null for no quota")
		}
	}
	validateResources(errs, "containerDefaults", s.ContainerDefaults)
}

func (s *Server) createTenant(w http.ResponseWriter, r *http.Request) error {
	var req createTenantRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	settings := contract.TenantSettings{Quota: req.Quota}
	if req.ContainerDefaults != nil {
		settings.ContainerDefaults = *req.ContainerDefaults
	}
	var errs fieldErrors
	validateTenantName(&errs, "name", req.Name)
	validateDisplayName(&errs, "displayName", req.DisplayName)
	validateSettings(&errs, settings)
	if len(errs) > 0 {
		return validationProblem("tenant", errs)
	}
	t, err := s.store.CreateTenant(r.Context(), store.Tenant{Name: req.Name, DisplayName: req.DisplayName, Settings: settings})
	if errors.Is(err, store.ErrAlreadyExists) {
		return &Problem{Type: typeAlreadyExists, Status: http.StatusConflict, Detail: fmt.Sprintf("tenant %q already exists", req.Name)}
	}
	if err != nil {
		return err
	}
	op, err := s.startTenantOperation(r, t, contract.WorkflowTenantSetup, contract.OperationTenantSetup)
	if err != nil {
		// Without its namespace the tenant would half exist: take it back, and say why.
		if derr := s.store.DeleteTenant(context.WithoutCancel(r.Context()), t.ID); derr != nil {
			s.logger.ErrorContext(r.Context(), "take back tenant whose setup did not start", "tenant", t.Name, "error", derr)
		}
		return err
	}
	s.logger.InfoContext(r.Context(), "created tenant", "tenant", t.Name, "tenant_id", t.ID, "operation_id", op.ID,
		"request_id", RequestIDFrom(r.Context()))
	w.Header().Set("Location", tenantPath(t.Name))
	writeJSON(w, http.StatusCreated, newTenantView(t).withOperation(t, op))
	return nil
}

// startTenantOperation records an operation on the tenant and starts its workflow. A start that fails
// leaves no record, and answers a 503 problem.
func (s *Server) startTenantOperation(r *http.Request, t store.Tenant, workflow string, kind contract.OperationKind) (store.Operation, error) {
	ctx := r.Context()
	p, _ := PrincipalFrom(ctx)
	id := uuid.NewString()
	op, err := s.store.CreateOperation(ctx, store.Operation{ID: id, TenantID: t.ID, Kind: kind,
		WorkflowID: contract.TenantOperationWorkflowID(kind, t.Name, id), RequestedBy: p.Name})
	if err != nil {
		return store.Operation{}, fmt.Errorf("record %s operation: %w", kind, err)
	}
	runID, err := s.wf.StartTenant(ctx, workflow, kind, contract.TenantOperationInput{OperationID: op.ID, Tenant: t.Name,
		TenantID: t.ID, RequestedBy: p.Name})
	if err != nil {
		s.forgetOperation(ctx, op)
		return store.Operation{}, &Problem{Type: typeWorkflowsUnavailable, Status: http.StatusServiceUnavailable, RetryAfter: 5,
			Detail: fmt.Sprintf("start the %s of tenant %q: %v", kind, t.Name, err)}
	}
	if err := s.store.SetOperationRunID(ctx, op.ID, runID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Operation{}, fmt.Errorf("record run %s of operation %s: %w", runID, op.ID, err)
	}
	op.RunID = runID
	noteOperation(ctx, op.ID)
	return op, nil
}

func (s *Server) patchTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := s.tenantOf(r)
	if err != nil {
		return err
	}
	var req patchTenantRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	next := t
	if req.DisplayName != nil {
		next.DisplayName = *req.DisplayName
	}
	if req.Quota.Set {
		next.Settings.Quota = req.Quota.Value
	}
	if req.ContainerDefaults != nil {
		next.Settings.ContainerDefaults = *req.ContainerDefaults
	}
	var errs fieldErrors
	validateDisplayName(&errs, "displayName", next.DisplayName)
	validateSettings(&errs, next.Settings)
	if len(errs) > 0 {
		return validationProblem("tenant", errs)
	}
	updated, err := s.store.UpdateTenant(r.Context(), next)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("tenant %q not found", t.Name)
	}
	if err != nil {
		return err
	}
	view := newTenantView(updated)
	if req.Quota.Set || req.ContainerDefaults != nil {
		op, err := s.startTenantOperation(r, updated, contract.WorkflowTenantSetup, contract.OperationTenantSetup)
		if err != nil {
			return err // the settings are stored: the next change or setup applies them
		}
		view = view.withOperation(updated, op)
	}
	s.logger.InfoContext(r.Context(), "changed tenant", "tenant", t.Name, "tenant_id", t.ID, "request_id", RequestIDFrom(r.Context()))
	writeJSON(w, http.StatusOK, view)
	return nil
}

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request) error {
	page, err := pageOf(r)
	if err != nil {
		return err
	}
	// A platform admin sees every tenant; anyone else the tenants it is a member of.
	p, _ := PrincipalFrom(r.Context())
	var tenants []store.Tenant
	var next string
	switch {
	case p.Admin:
		tenants, next, err = s.store.ListTenants(r.Context(), page)
	case p.UserID != "":
		tenants, next, err = s.store.ListTenantsOf(r.Context(), p.UserID, page)
	}
	if err != nil {
		return listError(err)
	}
	views := make([]tenantView, len(tenants))
	for i, t := range tenants {
		views[i] = newTenantView(t)
	}
	writeList(w, r, views, next)
	return nil
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := s.tenantOf(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newTenantView(t))
	return nil
}

// deleteTenant starts the tenant's delete: its namespace goes, then its record. A tenant that still
// has apps answers 409.
func (s *Server) deleteTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := s.tenantOf(r)
	if err != nil {
		return err
	}
	apps, _, err := s.store.ListApps(r.Context(), t.ID, store.Page{Limit: 1})
	if err != nil {
		return err
	}
	if len(apps) > 0 {
		return &Problem{Type: typeNotEmpty, Status: http.StatusConflict,
			Detail: fmt.Sprintf("tenant %q still has apps (%s, ...); delete them first", t.Name, apps[0].Name)}
	}
	op, err := s.startTenantOperation(r, t, contract.WorkflowTenantDelete, contract.OperationTenantDelete)
	if err != nil {
		return err
	}
	s.logger.InfoContext(r.Context(), "deleting tenant", "tenant", t.Name, "tenant_id", t.ID, "operation_id", op.ID,
		"request_id", RequestIDFrom(r.Context()))
	self := operationPath(t.Name, op.ID)
	w.Header().Set("Location", self)
	writeJSON(w, http.StatusAccepted, operationAccepted{OperationID: op.ID, Kind: string(op.Kind), WorkflowID: op.WorkflowID,
		State: StateRunning, Links: map[string]string{"operation": self}})
	return nil
}
