package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// Source credentials: a tenant's named secrets that builds use to read their sources (a git token,
// an SSH key, a registry login). Anyone who may read the tenant sees a credential's name, type, host
// and version; the secret parts are sealed together, bound to the tenant, the name and the version
// (see credentialAD), and only OpenCredential opens them.

// Credential types.
const (
	CredentialGitToken = "git-token" // HTTPS git: a token sent as basic auth's password
	CredentialGitSSH   = "git-ssh"   // SSH git: a private key
	CredentialRegistry = "registry"  // an image registry: a user name and password
)

// Credential is a source credential as anyone may see it: never its secret.
type Credential struct {
	TenantID string
	Name     string
	Type     string // CredentialGitToken, CredentialGitSSH or CredentialRegistry
	// Host is the host it may be used for ("" any).
	Host string
	// Version counts its writes from 1.
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
	UpdatedBy string
}

// CredentialSecret is what a credential keeps sealed; the fields its type uses are set.
type CredentialSecret struct {
	Username   string `json:"username,omitempty"`
	Token      string `json:"token,omitempty"`
	Password   string `json:"password,omitempty"`
	PrivateKey string `json:"privateKey,omitempty"`
	Passphrase string `json:"passphrase,omitempty"`
	KnownHosts string `json:"knownHosts,omitempty"`
}

type credentialRow struct {
	TenantID  string    `gorm:"column:tenant_id;primaryKey"`
	Name      string    `gorm:"column:name;primaryKey"`
	Type      string    `gorm:"column:type"`
	Host      string    `gorm:"column:host"`
	Version   int64     `gorm:"column:version"`
	Sealed    string    `gorm:"column:sealed"`
	CreatedAt time.Time `gorm:"column:created_at"`
	UpdatedAt time.Time `gorm:"column:updated_at"`
	UpdatedBy string    `gorm:"column:updated_by"`
}

func (credentialRow) TableName() string { return "source_credentials" }

func (r credentialRow) model() Credential {
	return Credential{TenantID: r.TenantID, Name: r.Name, Type: r.Type, Host: r.Host, Version: r.Version,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), UpdatedBy: r.UpdatedBy}
}

// credentialAD is the additional data a credential's secret is sealed with: a sealed blob copied into
// another tenant's row, another name's, or another version's, does not open.
func credentialAD(tenantID, name string, version int64) string {
	return "source-credential/" + tenantID + "/" + name + "/" + strconv.FormatInt(version, 10)
}

// PutCredential writes c (its TenantID, Name, Type and Host) with its secret as the tenant's
// credential of that name, created or replaced by by, and answers it with created true when it is
// new. An unknown tenant answers ErrNotFound; a missing name or type ErrInvalid; a store without a
// keyring ErrNoKeyring. Errors never hold the secret.
func (s *Store) PutCredential(ctx context.Context, c Credential, secret CredentialSecret, by string) (Credential, bool, error) {
	if c.TenantID == "" || c.Name == "" || c.Type == "" {
		return Credential{}, false, fmt.Errorf("put credential %q: tenant, name and type are required: %w", c.Name, ErrInvalid)
	}
	if s.cfg.Keyring == nil {
		return Credential{}, false, fmt.Errorf("put credential %q: %w", c.Name, ErrNoKeyring)
	}
	plain, err := json.Marshal(secret)
	if err != nil {
		return Credential{}, false, fmt.Errorf("put credential %q: encode: %w", c.Name, err)
	}
	defer clear(plain)
	var out credentialRow
	created := false
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var rows []credentialRow
		if err := tx.Select("tenant_id", "name", "version", "created_at").
			Where("tenant_id = ? AND name = ?", c.TenantID, c.Name).Limit(1).Find(&rows).Error; err != nil {
			return err
		}
		t := now()
		out = credentialRow{TenantID: c.TenantID, Name: c.Name, Type: c.Type, Host: c.Host, Version: 1,
			CreatedAt: t, UpdatedAt: t, UpdatedBy: by}
		if len(rows) > 0 {
			out.Version, out.CreatedAt = rows[0].Version+1, rows[0].CreatedAt
		}
		sealed, err := s.sealSecret(plain, credentialAD(c.TenantID, c.Name, out.Version))
		if err != nil {
			return err
		}
		out.Sealed = sealed
		if len(rows) == 0 {
			created = true
			return tx.Create(&out).Error
		}
		res := tx.Model(&credentialRow{}).Where("tenant_id = ? AND name = ? AND version = ?", c.TenantID, c.Name, rows[0].Version).
			Updates(map[string]any{"type": out.Type, "host": out.Host, "version": out.Version, "sealed": out.Sealed,
				"updated_at": out.UpdatedAt, "updated_by": out.UpdatedBy})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("written concurrently: %w", ErrConflict)
		}
		return nil
	})
	switch {
	case err == nil:
		return out.model(), created, nil
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return Credential{}, false, fmt.Errorf("put credential %q: tenant %s: %w", c.Name, c.TenantID, ErrNotFound)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return Credential{}, false, fmt.Errorf("put credential %q: written concurrently: %w", c.Name, ErrConflict)
	}
	return Credential{}, false, fmt.Errorf("put credential %q: %w", c.Name, translate(err))
}

// GetCredential answers the tenant's credential of this name, without its secret.
func (s *Store) GetCredential(ctx context.Context, tenantID, name string) (Credential, error) {
	var row credentialRow
	err := s.db.WithContext(ctx).Omit("sealed").Where("tenant_id = ? AND name = ?", tenantID, name).Take(&row).Error
	if err != nil {
		return Credential{}, fmt.Errorf("get credential %q: %w", name, translate(err))
	}
	return row.model(), nil
}

// ListCredentials answers one page of the tenant's credentials ordered by name, without their
// secrets, and the next page's cursor.
func (s *Store) ListCredentials(ctx context.Context, tenantID string, page Page) ([]Credential, string, error) {
	q := s.db.WithContext(ctx).Model(&credentialRow{}).Omit("sealed").Where("tenant_id = ?", tenantID)
	rows, next, err := listByName(q, page, func(r credentialRow) string { return r.Name })
	if err != nil {
		return nil, "", fmt.Errorf("list credentials: %w", translate(err))
	}
	return models(rows, credentialRow.model), next, nil
}

// DeleteCredential deletes the tenant's credential; an unknown one answers ErrNotFound. Builds that
// name it and have not read it yet fail.
func (s *Store) DeleteCredential(ctx context.Context, tenantID, name string) error {
	res := s.db.WithContext(ctx).Where("tenant_id = ? AND name = ?", tenantID, name).Delete(&credentialRow{})
	if res.Error != nil {
		return fmt.Errorf("delete credential %q: %w", name, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete credential %q: %w", name, ErrNotFound)
	}
	return nil
}

// OpenCredential answers the tenant's credential of this name with its secret. An unknown one
// answers ErrNotFound; a store without a keyring ErrNoKeyring; a secret sealed with a key the keyring
// lacks seal.ErrUnknownKey, one that does not authenticate (copied from another row) seal.ErrCorrupt.
// Errors never hold the secret.
func (s *Store) OpenCredential(ctx context.Context, tenantID, name string) (Credential, CredentialSecret, error) {
	if s.cfg.Keyring == nil {
		return Credential{}, CredentialSecret{}, fmt.Errorf("open credential %q: %w", name, ErrNoKeyring)
	}
	var row credentialRow
	if err := s.db.WithContext(ctx).Where("tenant_id = ? AND name = ?", tenantID, name).Take(&row).Error; err != nil {
		return Credential{}, CredentialSecret{}, fmt.Errorf("open credential %q: %w", name, translate(err))
	}
	plain, err := s.openSecret(row.Sealed, credentialAD(row.TenantID, row.Name, row.Version))
	if err != nil {
		return Credential{}, CredentialSecret{}, fmt.Errorf("open credential %q: %w", name, err)
	}
	defer clear(plain)
	var secret CredentialSecret
	if err := json.Unmarshal(plain, &secret); err != nil {
		// encoding/json's error may quote the text: say only that it is not a credential
		return Credential{}, CredentialSecret{}, fmt.Errorf("open credential %q: the opened secret is not a JSON object", name)
	}
	return row.model(), secret, nil
}
