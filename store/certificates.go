package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Certificate is a TLS certificate of a tenant: its chain and what was read from it. Its private key is
// sealed in the database (package seal, bound to the row) and only CertificateKey opens it: no other
// read answers it.
type Certificate struct {
	ID       string
	TenantID string
	Name     string // unique within the tenant
	// CertPEM is the chain, leaf first.
	CertPEM     string
	Subject     string
	Issuer      string
	SANs        []string // the leaf's DNS names
	NotBefore   time.Time
	NotAfter    time.Time
	Fingerprint string // SHA-256 of the leaf, hex
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// RouteRef names a route by its app, component and name.
type RouteRef struct {
	ComponentID string
	App         string
	Component   string
	Route       string
}

func (r RouteRef) String() string { return r.App + "/" + r.Component + "/" + r.Route }

// CertificateInUseError answers deleting a certificate that routes use; it is ErrNotEmpty.
type CertificateInUseError struct {
	Certificate string
	Routes      []RouteRef
}

func (e *CertificateInUseError) Error() string {
	names := make([]string, len(e.Routes))
	for i, r := range e.Routes {
		names[i] = r.String()
	}
	return fmt.Sprintf("certificate %q is used by routes %s", e.Certificate, strings.Join(names, ", "))
}

func (e *CertificateInUseError) Unwrap() error { return ErrNotEmpty }

// certificateKeyAD is the additional data that binds a sealed key to its certificate's row.
func certificateKeyAD(id string) string { return "certificate-key/" + id }

// CreateCertificate stores a new certificate of c.TenantID with its private key sealed, and answers it
// with its ID and timestamps set. The caller has checked the chain and the key. A certificate of the same
// name in the tenant answers ErrAlreadyExists; an unknown tenant ErrNotFound; a store without a keyring
// ErrNoKeyring.
func (s *Store) CreateCertificate(ctx context.Context, c Certificate, keyPEM []byte) (Certificate, error) {
	if c.TenantID == "" || c.Name == "" || c.CertPEM == "" || len(keyPEM) == 0 {
		return Certificate{}, fmt.Errorf("create certificate %q: tenant, name, chain and key are required: %w", c.Name, ErrInvalid)
	}
	row := newCertificateRow(c)
	row.ID = newID()
	row.CreatedAt = row.UpdatedAt
	sealed, err := s.sealSecret(keyPEM, certificateKeyAD(row.ID))
	if err != nil {
		return Certificate{}, fmt.Errorf("create certificate %q: seal key: %w", c.Name, err)
	}
	row.KeySealed = sealed
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		if errors.Is(err, gorm.ErrForeignKeyViolated) {
			return Certificate{}, fmt.Errorf("create certificate %q: tenant %s: %w", c.Name, c.TenantID, ErrNotFound)
		}
		return Certificate{}, fmt.Errorf("create certificate %q: %w", c.Name, translate(err))
	}
	return row.model(), nil
}

// ReplaceCertificate replaces the chain and the key of the tenant's certificate (a renewal), and
// answers it. An unknown certificate answers ErrNotFound.
func (s *Store) ReplaceCertificate(ctx context.Context, c Certificate, keyPEM []byte) (Certificate, error) {
	if c.TenantID == "" || c.Name == "" || c.CertPEM == "" || len(keyPEM) == 0 {
		return Certificate{}, fmt.Errorf("replace certificate %q: tenant, name, chain and key are required: %w", c.Name, ErrInvalid)
	}
	var out certificateRow
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var cur certificateRow
		if err := tx.Where("tenant_id = ? AND name = ?", c.TenantID, c.Name).Take(&cur).Error; err != nil {
			return err
		}
		sealed, err := s.sealSecret(keyPEM, certificateKeyAD(cur.ID))
		if err != nil {
			return fmt.Errorf("seal key: %w", err)
		}
		out = newCertificateRow(c)
		out.ID, out.CreatedAt, out.KeySealed = cur.ID, cur.CreatedAt, sealed
		return tx.Save(&out).Error
	})
	if err != nil {
		return Certificate{}, fmt.Errorf("replace certificate %q: %w", c.Name, translate(err))
	}
	return out.model(), nil
}

// GetCertificate answers the tenant's certificate with this name, without its key.
func (s *Store) GetCertificate(ctx context.Context, tenantID, name string) (Certificate, error) {
	row, err := s.certificateRow(ctx, tenantID, name)
	if err != nil {
		return Certificate{}, fmt.Errorf("get certificate %q: %w", name, err)
	}
	return row.model(), nil
}

// CertificateKey answers the tenant's certificate with this name and its private key, opened: for the
// one activity that puts it into the TLS Secret the gateway reads. Nothing that answers a client or
// ends in a workflow's history may call it.
func (s *Store) CertificateKey(ctx context.Context, tenantID, name string) (Certificate, []byte, error) {
	row, err := s.certificateRow(ctx, tenantID, name)
	if err != nil {
		return Certificate{}, nil, fmt.Errorf("read key of certificate %q: %w", name, err)
	}
	key, err := s.openSecret(row.KeySealed, certificateKeyAD(row.ID))
	if err != nil {
		return Certificate{}, nil, fmt.Errorf("read key of certificate %q: %w", name, err)
	}
	return row.model(), key, nil
}

func (s *Store) certificateRow(ctx context.Context, tenantID, name string) (certificateRow, error) {
	var row certificateRow
	err := s.db.WithContext(ctx).Where("tenant_id = ? AND name = ?", tenantID, name).Take(&row).Error
	return row, translate(err)
}

// ListCertificates answers one page of the tenant's certificates ordered by name, and the next page's
// cursor.
func (s *Store) ListCertificates(ctx context.Context, tenantID string, page Page) ([]Certificate, string, error) {
	q := s.db.WithContext(ctx).Model(&certificateRow{}).Where("tenant_id = ?", tenantID)
	rows, next, err := listByName(q, page, func(r certificateRow) string { return r.Name })
	if err != nil {
		return nil, "", fmt.Errorf("list certificates: %w", translate(err))
	}
	return models(rows, certificateRow.model), next, nil
}

// DeleteCertificate deletes the tenant's certificate. One that routes use answers a
// *CertificateInUseError (ErrNotEmpty) naming them; an unknown one ErrNotFound.
func (s *Store) DeleteCertificate(ctx context.Context, tenantID, name string) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		users, err := routesUsing(tx, tenantID, name)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return &CertificateInUseError{Certificate: name, Routes: users}
		}
		res := tx.Where("tenant_id = ? AND name = ?", tenantID, name).Delete(&certificateRow{})
		if res.Error != nil {
			return notEmptyOnForeignKey(res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete certificate %q: %w", name, translate(err))
	}
	return nil
}

// RoutesUsingCertificate answers the routes that name the tenant's certificate, by app, component and
// route name.
func (s *Store) RoutesUsingCertificate(ctx context.Context, tenantID, name string) ([]RouteRef, error) {
	refs, err := routesUsing(s.db.WithContext(ctx), tenantID, name)
	if err != nil {
		return nil, fmt.Errorf("list routes using certificate %q: %w", name, translate(err))
	}
	return refs, nil
}

func routesUsing(db *gorm.DB, tenantID, certificate string) ([]RouteRef, error) {
	var refs []RouteRef
	err := db.Table("routes").
		Select("routes.component_id AS component_id, apps.name AS app, components.name AS component, routes.name AS route").
		Joins("JOIN components ON components.id = routes.component_id").
		Joins("JOIN apps ON apps.id = components.app_id").
		Where("routes.tenant_id = ? AND routes.certificate_name = ?", tenantID, certificate).
		Order("apps.name, components.name, routes.name").
		Scan(&refs).Error
	return refs, err
}
