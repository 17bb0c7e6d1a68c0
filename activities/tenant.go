package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// SetupTenantInput is a tenant and the settings its namespace gets.
type SetupTenantInput struct {
	Tenant   string                  `json:"tenant"`
	Settings contract.TenantSettings `json:"settings"`
}

// SetupTenant applies the tenant's namespace, its LimitRange and its ResourceQuota, and removes a
// ResourceQuota applied before when the tenant has no quota any more.
func (k *Kube) SetupTenant(ctx context.Context, in SetupTenantInput) (contract.TenantSetupResult, error) {
	ns, err := k.EnsureNamespace(ctx, EnsureNamespaceInput{Tenant: in.Tenant, ContainerDefaults: in.Settings.ContainerDefaults,
		Quota: in.Settings.Quota})
	if err != nil {
		return contract.TenantSetupResult{}, err
	}
	out := contract.TenantSetupResult{Namespace: ns.Namespace, LimitRange: ns.LimitRange, ResourceQuota: ns.ResourceQuota}
	if in.Settings.Quota == nil {
		err := k.Client.CoreV1().ResourceQuotas(ns.Namespace).Delete(ctx, render.ResourceQuotaName, metav1.DeleteOptions{})
		switch {
		case err == nil:
			out.QuotaRemoved = true
		case !apierrors.IsNotFound(err):
			return contract.TenantSetupResult{}, classify(fmt.Errorf("delete resourcequota %s/%s: %w", ns.Namespace, render.ResourceQuotaName, err))
		}
	}
	return out, nil
}

// DeleteNamespaceInput names the tenant whose namespace goes.
type DeleteNamespaceInput struct {
	Tenant string `json:"tenant"`
}

// DeleteNamespaceResult says whether this call (or an attempt before it) began the deletion.
type DeleteNamespaceResult struct {
	Namespace string `json:"namespace"`
	Deleted   bool   `json:"deleted"` // false when the namespace was gone already
}

// namespaceProgress is the heartbeat of DeleteNamespace.
type namespaceProgress struct {
	Began bool   `json:"began"`
	Phase string `json:"phase,omitempty"`
}

// DeleteNamespace deletes the tenant's namespace, with everything in it (foreground), and waits until
// Kubernetes has removed it, heartbeating its phase. A namespace gone already is success.
func (k *Kube) DeleteNamespace(ctx context.Context, in DeleteNamespaceInput) (DeleteNamespaceResult, error) {
	if in.Tenant == "" {
		return DeleteNamespaceResult{}, permanent(ErrTypeInvalidSpec, errors.New("delete namespace: no tenant"))
	}
	ns := render.Namespace(in.Tenant)
	var p namespaceProgress
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p)
	}
	foreground := metav1.DeletePropagationForeground
	err := k.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{PropagationPolicy: &foreground})
	switch {
	case err == nil:
		p.Began = true
	case apierrors.IsNotFound(err):
		return DeleteNamespaceResult{Namespace: ns, Deleted: p.Began}, nil
	default:
		return DeleteNamespaceResult{}, classify(fmt.Errorf("delete namespace %s: %w", ns, err))
	}
	tick := time.NewTicker(orDuration(k.PollInterval, 500*time.Millisecond))
	defer tick.Stop()
	for {
		got, err := k.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return DeleteNamespaceResult{Namespace: ns, Deleted: true}, nil
		case err != nil:
			return DeleteNamespaceResult{}, classify(fmt.Errorf("read namespace %s: %w", ns, err))
		}
		p.Phase = string(got.Status.Phase)
		activity.RecordHeartbeat(ctx, p)
		select {
		case <-ctx.Done():
			return DeleteNamespaceResult{}, fmt.Errorf("wait for namespace %s to be deleted (phase %s): %w", ns, p.Phase, ctx.Err())
		case <-tick.C:
		}
	}
}

// TenantKeeper reads a tenant's settings and deletes its record; *store.Store is one. Store finds it
// on its Releases field, like ComponentForgetter.
type TenantKeeper interface {
	GetTenantByID(ctx context.Context, id string) (store.Tenant, error)
	DeleteTenant(ctx context.Context, id string) error
}

// TenantInput names a tenant by its store id.
type TenantInput struct {
	TenantID string `json:"tenantId"`
}

func (s *Store) tenantKeeper(what, id string) (TenantKeeper, error) {
	if id == "" {
		return nil, permanent(ErrTypeInvalidSpec, fmt.Errorf("%s: the tenant id is required", what))
	}
	k, ok := s.Releases.(TenantKeeper)
	if !ok {
		return nil, permanent(ErrTypeInvalidSpec, fmt.Errorf("%s %s: the worker's store (%T) cannot read tenants", what, id, s.Releases))
	}
	return k, nil
}

// ErrTypeTenantDeleted: the tenant's record is gone (a setup that ran after its delete).
const ErrTypeTenantDeleted = "TenantDeleted"

// ReadTenantSettings answers the tenant's settings as the store holds them now.
func (s *Store) ReadTenantSettings(ctx context.Context, in TenantInput) (contract.TenantSettings, error) {
	k, err := s.tenantKeeper("read tenant settings", in.TenantID)
	if err != nil {
		return contract.TenantSettings{}, err
	}
	t, err := k.GetTenantByID(ctx, in.TenantID)
	if errors.Is(err, store.ErrNotFound) {
		return contract.TenantSettings{}, permanent(ErrTypeTenantDeleted, fmt.Errorf("tenant %s was deleted", in.TenantID))
	}
	if err != nil {
		return contract.TenantSettings{}, fmt.Errorf("read tenant %s: %w", in.TenantID, err)
	}
	return t.Settings, nil
}

// ForgetTenantResult says whether this call removed the record.
type ForgetTenantResult struct {
	Forgotten bool `json:"forgotten"` // false when it was gone already
}

// ErrTypeTenantNotEmpty: the tenant got apps while its namespace was being deleted; its record stays
// (the next deploy of those apps recreates the namespace).
const ErrTypeTenantNotEmpty = "TenantNotEmpty"

// ForgetTenant deletes the tenant's record, the last step of a tenant's delete. A record gone already
// is success.
func (s *Store) ForgetTenant(ctx context.Context, in TenantInput) (ForgetTenantResult, error) {
	k, err := s.tenantKeeper("forget tenant", in.TenantID)
	if err != nil {
		return ForgetTenantResult{}, err
	}
	err = k.DeleteTenant(ctx, in.TenantID)
	switch {
	case err == nil:
		return ForgetTenantResult{Forgotten: true}, nil
	case errors.Is(err, store.ErrNotFound):
		return ForgetTenantResult{}, nil
	case errors.Is(err, store.ErrNotEmpty):
		return ForgetTenantResult{}, permanent(ErrTypeTenantNotEmpty, fmt.Errorf("forget tenant %s: %w", in.TenantID, err))
	}
	return ForgetTenantResult{}, fmt.Errorf("forget tenant %s: %w", in.TenantID, err)
}
