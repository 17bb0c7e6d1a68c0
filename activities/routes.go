package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/kubernetes"

	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/seal"
	"github.com/rainflow/rainflow/store"
)

// A component's routes become Ingresses, TLS Secrets and TCP/UDP Services (contract/routes.go). The
// private key of a certificate never leaves ApplyRoutes: its input names certificates, the key is
// opened from the store here, rendered into the TLS Secret, applied, and wiped. No error, heartbeat or
// log line of this file holds a key.

// ErrTypeCertificateUnavailable: a route's certificate cannot be read (gone from the tenant, or the
// worker has no encryption key, or not the one that sealed it).
const ErrTypeCertificateUnavailable = "CertificateUnavailable"

// RouteStore reads what applying routes needs; *store.Store is one.
type RouteStore interface {
	GetTenant(ctx context.Context, name string) (store.Tenant, error)
	CertificateKey(ctx context.Context, tenantID, name string) (store.Certificate, []byte, error)
	ComponentRoutes(ctx context.Context, componentID string) ([]contract.Route, error)
}

// Routes holds the activities of a component's routes: they read the store and write Kubernetes.
type Routes struct {
	Client kubernetes.Interface
	Store  RouteStore
}

// ComponentRoutesInput names a component.
type ComponentRoutesInput struct {
	ComponentID string `json:"componentId"`
}

// ComponentRoutesResult is the component's routes as stored now, by name.
type ComponentRoutesResult struct {
	Routes []contract.Route `json:"routes,omitempty"`
}

// ComponentRoutes reads the component's current routes.
func (a *Routes) ComponentRoutes(ctx context.Context, in ComponentRoutesInput) (ComponentRoutesResult, error) {
	routes, err := a.Store.ComponentRoutes(ctx, in.ComponentID)
	if err != nil {
		return ComponentRoutesResult{}, fmt.Errorf("read routes: %w", err)
	}
	return ComponentRoutesResult{Routes: routes}, nil
}

// ApplyRoutesInput is the routes of one release of a component.
type ApplyRoutesInput struct {
	Ref       contract.ComponentRef `json:"ref"`
	ReleaseID string                `json:"releaseId"`
	// Ports are the ports of the spec that runs: the routes' backends.
	Ports  []contract.Port  `json:"ports,omitempty"`
	Routes []contract.Route `json:"routes,omitempty"`
}

// ApplyRoutesResult names the objects applied and those pruned, as Kind/name.
type ApplyRoutesResult struct {
	Namespace string   `json:"namespace"`
	Applied   []string `json:"applied,omitempty"`
	Pruned    []string `json:"pruned,omitempty"`
}

// ApplyRoutes renders the routes and applies, with server-side apply, the TLS Secrets of their
// certificates (read from the store here), their Ingresses and their TCP/UDP Services; then it deletes
// the component's route objects the routes no longer render: Ingresses and Services before the
// Secrets they may refer to. Applying the same routes again changes nothing.
func (a *Routes) ApplyRoutes(ctx context.Context, in ApplyRoutesInput) (ApplyRoutesResult, error) {
	objs, err := render.Routes(render.RouteRelease{Ref: in.Ref, ReleaseID: in.ReleaseID, Ports: in.Ports, Routes: in.Routes})
	if err != nil {
		return ApplyRoutesResult{}, permanent(ErrTypeInvalidSpec, err)
	}
	ns := render.Namespace(in.Ref.Tenant)
	out := ApplyRoutesResult{Namespace: ns}
	keep := map[string]bool{}

	for _, name := range objs.Certificates {
		secret, err := a.applyTLSSecret(ctx, in, name)
		if err != nil {
			return ApplyRoutesResult{}, err
		}
		keep[kindSecret+"/"+secret] = true
		out.Applied = append(out.Applied, kindSecret+"/"+secret)
	}
	for _, ing := range objs.Ingresses {
		if _, err := a.Client.NetworkingV1().Ingresses(ns).Apply(ctx, ing, applyOptions()); err != nil {
			return ApplyRoutesResult{}, classify(fmt.Errorf("apply ingress %s/%s: %w", ns, *ing.Name, err))
		}
		keep[kindIngress+"/"+*ing.Name] = true
		out.Applied = append(out.Applied, kindIngress+"/"+*ing.Name)
	}
	for _, svc := range objs.Services {
		if _, err := a.Client.CoreV1().Services(ns).Apply(ctx, svc, applyOptions()); err != nil {
			return ApplyRoutesResult{}, classify(fmt.Errorf("apply service %s/%s: %w", ns, *svc.Name, err))
		}
		keep[kindService+"/"+*svc.Name] = true
		out.Applied = append(out.Applied, kindService+"/"+*svc.Name)
	}

	k := &Kube{Client: a.Client}
	for _, kind := range []struct{ kind, label string }{
		{kindIngress, ""}, {kindService, contract.LabelRoute}, {kindSecret, contract.LabelCertificate},
	} {
		pruned, err := k.pruneRouteObjects(ctx, in.Ref, kind.kind, kind.label, keep)
		if err != nil {
			return ApplyRoutesResult{}, err
		}
		out.Pruned = append(out.Pruned, pruned...)
	}
	return out, nil
}

// applyTLSSecret reads the certificate and its key from the store, applies the component's TLS Secret
// of it, and answers the Secret's name.
func (a *Routes) applyTLSSecret(ctx context.Context, in ApplyRoutesInput, certificate string) (string, error) {
	if a.Store == nil {
		return "", permanent(ErrTypeCertificateUnavailable,
			fmt.Errorf("apply certificate %q: this worker has no store to read certificates from", certificate))
	}
	tenant, err := a.Store.GetTenant(ctx, in.Ref.Tenant)
	if err != nil {
		return "", certificateError(fmt.Errorf("apply certificate %q: read tenant %q: %w", certificate, in.Ref.Tenant, err))
	}
	cert, key, err := a.Store.CertificateKey(ctx, tenant.ID, certificate)
	if err != nil {
		return "", certificateError(fmt.Errorf("apply certificate %q of tenant %q: %w", certificate, in.Ref.Tenant, err))
	}
	defer clear(key)
	s := render.TLSSecret(in.Ref, in.ReleaseID, certificate, []byte(cert.CertPEM), key)
	ns, name := *s.Namespace, *s.Name
	if _, err := a.Client.CoreV1().Secrets(ns).Apply(ctx, s, applyOptions()); err != nil {
		return "", classify(fmt.Errorf("apply secret %s/%s: %w", ns, name, withoutMessage(err)))
	}
	return name, nil
}

// certificateError: a certificate that is gone or cannot be opened fails for good; others are retried.
func certificateError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrNoKeyring),
		errors.Is(err, seal.ErrUnknownKey), errors.Is(err, seal.ErrCorrupt):
		return permanent(ErrTypeCertificateUnavailable, err)
	}
	return err
}

// pruneRouteObjects deletes the component's objects of the kind (with the label, when one is given)
// that keep does not hold, and answers them as Kind/name.
func (k *Kube) pruneRouteObjects(ctx context.Context, ref contract.ComponentRef, kind, label string, keep map[string]bool) ([]string, error) {
	ns := render.Namespace(ref.Tenant)
	sel := labels.SelectorFromSet(render.ComponentLabels(ref))
	if label != "" {
		req, err := labels.NewRequirement(label, selection.Exists, nil)
		if err != nil {
			return nil, fmt.Errorf("select %ss by %s: %w", kind, label, err)
		}
		sel = sel.Add(*req)
	}
	objs, err := k.list(ctx, kind, ns, sel.String())
	if err != nil {
		return nil, classify(fmt.Errorf("list %ss of %s/%s/%s: %w", kind, ref.Tenant, ref.App, ref.Component, err))
	}
	var pruned []string
	background := metav1.DeletePropagationBackground
	for _, o := range objs {
		id := kind + "/" + o.GetName()
		if keep[id] || !ownedBy(o, ref) || o.GetDeletionTimestamp() != nil {
			continue
		}
		uid := o.GetUID()
		err := k.remove(ctx, kind, ns, o.GetName(), metav1.DeleteOptions{PropagationPolicy: &background, Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return nil, classify(fmt.Errorf("delete %s %s/%s of a route that is gone: %w", kind, ns, o.GetName(), err))
		}
		pruned = append(pruned, id)
	}
	slices.Sort(pruned)
	return pruned, nil
}
