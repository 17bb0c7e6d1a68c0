package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/rainflow/rainflow/seal"
	"github.com/rainflow/rainflow/store"
)

// Certificates of a tenant: POST /v1/tenants/{t}/certificates takes a PEM chain and its private key,
// checks them, and keeps the key sealed (AES-GCM); no answer ever holds the key. HTTP routes name a
// certificate to answer HTTPS; renewing one (PUT) applies it again to every deployed component whose
// routes use it; deleting one that routes use is refused.

const typeCertificateInUse = problemBase + "certificate-in-use"

type certificateRequest struct {
	Name    string `json:"name"`
	CertPEM string `json:"certPEM"`
	KeyPEM  string `json:"keyPEM"`
}

type putCertificateRequest struct {
	CertPEM string `json:"certPEM"`
	KeyPEM  string `json:"keyPEM"`
}

type certificateView struct {
	Name      string    `json:"name"`
	Tenant    string    `json:"tenant"`
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	SANs      []string  `json:"sans"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	// ExpiresInDays is the whole days left until NotAfter; negative once expired.
	ExpiresInDays int               `json:"expiresInDays"`
	Expired       bool              `json:"expired"`
	Fingerprint   string            `json:"fingerprint"` // SHA-256 of the leaf certificate, hex
	CertPEM       string            `json:"certPEM"`     // the chain, leaf first; never the key
	CreatedAt     time.Time         `json:"createdAt"`
	UpdatedAt     time.Time         `json:"updatedAt"`
	Links         map[string]string `json:"links"`
}

func newCertificateView(t store.Tenant, c store.Certificate, now time.Time) certificateView {
	left := c.NotAfter.Sub(now)
	days := int(left / (24 * time.Hour))
	if left < 0 && left%(24*time.Hour) != 0 {
		days-- // floor: a certificate that expired an hour ago has -1 days left
	}
	return certificateView{
		Name: c.Name, Tenant: t.Name, Subject: c.Subject, Issuer: c.Issuer, SANs: c.SANs,
		NotBefore: c.NotBefore, NotAfter: c.NotAfter, ExpiresInDays: days, Expired: !now.Before(c.NotAfter),
		Fingerprint: c.Fingerprint, CertPEM: c.CertPEM, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		Links: map[string]string{"self": certificatePath(t.Name, c.Name), "tenant": tenantPath(t.Name)},
	}
}

// certificateRenewed answers a PUT: the certificate, and the operations that apply it again.
type certificateRenewed struct {
	certificateView
	Operations []operationAccepted `json:"operations,omitempty"`
}

func certificatePath(tenant, name string) string { return tenantPath(tenant) + "/certificates/" + name }

func (s *Server) createCertificate(w http.ResponseWriter, r *http.Request) error {
	t, err := s.tenantOf(r)
	if err != nil {
		return err
	}
	var req certificateRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	var errs fieldErrors
	validateCertificateName(&errs, "name", req.Name)
	parsed := parseCertificate(&errs, req.CertPEM, req.KeyPEM, time.Now())
	if len(errs) > 0 {
		return validationProblem("certificate", errs)
	}
	in := parsed.cert
	in.TenantID, in.Name = t.ID, req.Name
	c, err := s.store.CreateCertificate(r.Context(), in, parsed.keyPEM)
	clear(parsed.keyPEM)
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		return &Problem{Type: typeAlreadyExists, Status: http.StatusConflict,
			Detail: fmt.Sprintf("certificate %q already exists in tenant %q; PUT it to renew it", req.Name, t.Name)}
	case err != nil:
		return certificateError(t, req.Name, err)
	}
	s.logger.InfoContext(r.Context(), "created certificate", "tenant", t.Name, "certificate", c.Name,
		"fingerprint", c.Fingerprint, "not_after", c.NotAfter, "request_id", RequestIDFrom(r.Context()))
	w.Header().Set("Location", certificatePath(t.Name, c.Name))
	writeJSON(w, http.StatusCreated, newCertificateView(t, c, time.Now()))
	return nil
}

func (s *Server) listCertificates(w http.ResponseWriter, r *http.Request) error {
	t, err := s.tenantOf(r)
	if err != nil {
		return err
	}
	now := time.Now()
	return serveList(w, r, func(p store.Page) ([]store.Certificate, string, error) {
		return s.store.ListCertificates(r.Context(), t.ID, p)
	},
		func(c store.Certificate) certificateView { return newCertificateView(t, c, now) })
}

func (s *Server) getCertificate(w http.ResponseWriter, r *http.Request) error {
	t, c, err := s.certificateOf(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newCertificateView(t, c, time.Now()))
	return nil
}

// putCertificate renews a certificate: a new chain and key under the same name. Every deployed
// component with a route that uses it gets a Routes operation that applies it.
func (s *Server) putCertificate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	t, cur, err := s.certificateOf(r)
	if err != nil {
		return err
	}
	var req putCertificateRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	var errs fieldErrors
	parsed := parseCertificate(&errs, req.CertPEM, req.KeyPEM, time.Now())
	if len(errs) > 0 {
		return validationProblem("certificate", errs)
	}
	users, err := s.store.RoutesUsingCertificate(ctx, t.ID, cur.Name)
	if err != nil {
		return err
	}
	if e := s.renewalCoversRoutes(ctx, cur.Name, parsed.cert.SANs, users); e != nil {
		return e
	}
	in := parsed.cert
	in.TenantID, in.Name = t.ID, cur.Name
	c, err := s.store.ReplaceCertificate(ctx, in, parsed.keyPEM)
	clear(parsed.keyPEM)
	if err != nil {
		return certificateError(t, cur.Name, err)
	}
	s.logger.InfoContext(ctx, "renewed certificate", "tenant", t.Name, "certificate", c.Name,
		"fingerprint", c.Fingerprint, "not_after", c.NotAfter, "routes", len(users), "request_id", RequestIDFrom(ctx))

	out := certificateRenewed{certificateView: newCertificateView(t, c, time.Now())}
	done := map[string]bool{}
	for _, u := range users {
		if done[u.ComponentID] {
			continue
		}
		done[u.ComponentID] = true
		comp, err := s.store.GetComponentByID(ctx, u.ComponentID)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		op, err := s.queueRoutes(ctx, t, u.App, comp)
		if err != nil {
			return &Problem{Type: typeWorkflowsUnavailable, Status: http.StatusServiceUnavailable,
				Detail: fmt.Sprintf("certificate %q was renewed, but applying it to component %s/%s failed (%v); "+
					"PUT the same certificate again to apply it", c.Name, u.App, u.Component, err)}
		}
		if op != nil {
			out.Operations = append(out.Operations, *op)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// renewalCoversRoutes refuses a renewal that would no longer cover the hosts of the routes using it.
func (s *Server) renewalCoversRoutes(ctx context.Context, name string, sans []string, users []store.RouteRef) error {
	var errs fieldErrors
	for _, u := range users {
		route, err := s.store.GetRoute(ctx, u.ComponentID, u.Route)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if !covers(sans, route.Host) {
			errs.add("certPEM", fmt.Sprintf("does not cover host %q of route %s, which uses certificate %q (it covers %s)",
				route.Host, u, name, strings.Join(sans, ", ")))
		}
	}
	if len(errs) > 0 {
		return validationProblem("certificate", errs)
	}
	return nil
}

func (s *Server) deleteCertificate(w http.ResponseWriter, r *http.Request) error {
	t, c, err := s.certificateOf(r)
	if err != nil {
		return err
	}
	err = s.store.DeleteCertificate(r.Context(), t.ID, c.Name)
	var inUse *store.CertificateInUseError
	switch {
	case errors.As(err, &inUse):
		names := make([]string, len(inUse.Routes))
		for i, u := range inUse.Routes {
			names[i] = u.String()
		}
		return &Problem{Type: typeCertificateInUse, Status: http.StatusConflict,
			Detail: fmt.Sprintf("certificate %q is used by routes %s (app/component/route): remove it from them, or delete them, first",
				c.Name, strings.Join(names, ", "))}
	case errors.Is(err, store.ErrNotFound):
		return notFound("certificate %q not found in tenant %q", c.Name, t.Name)
	case err != nil:
		return err
	}
	s.logger.InfoContext(r.Context(), "deleted certificate", "tenant", t.Name, "certificate", c.Name,
		"request_id", RequestIDFrom(r.Context()))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// certificateOf answers the tenant and the certificate the path names, or a 404 naming the missing one.
func (s *Server) certificateOf(r *http.Request) (store.Tenant, store.Certificate, error) {
	t, err := s.tenantOf(r)
	if err != nil {
		return store.Tenant{}, store.Certificate{}, err
	}
	name := chi.URLParam(r, "certificate")
	c, err := s.store.GetCertificate(r.Context(), t.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.Tenant{}, store.Certificate{}, notFound("certificate %q not found in tenant %q", name, t.Name)
	}
	return t, c, err
}

// certificateError answers the problem of a store error about a certificate; none holds the key.
func certificateError(t store.Tenant, name string, err error) error {
	switch {
	case errors.Is(err, store.ErrNoKeyring):
		return &Problem{Type: typeNoEncryptionKey, Status: http.StatusServiceUnavailable,
			Detail: "the server has no encryption key configured (--encryption-keys / $RAINFLOW_ENCRYPTION_KEYS), " +
				"so it cannot keep a certificate's private key; an operator must configure one"}
	case errors.Is(err, seal.ErrUnknownKey), errors.Is(err, seal.ErrCorrupt):
		return &Problem{Type: typeInternal, Status: http.StatusInternalServerError,
			Detail: fmt.Sprintf("the key of certificate %q cannot be sealed with the server's encryption keys (%v)", name, err)}
	case errors.Is(err, store.ErrNotFound):
		return notFound("certificate %q not found in tenant %q", name, t.Name)
	}
	return err
}

// validateCertificateName: a certificate's name is part of its TLS Secrets' names and a label value,
// so it is a DNS-1123 label.
func validateCertificateName(errs *fieldErrors, field, name string) {
	if name == "" {
		errs.add(field, "is required")
		return
	}
	errs.addAll(field, validation.IsDNS1123Label(name))
}
