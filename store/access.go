package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/rainflow/rainflow/contract"
)

// Roles a user can hold in a tenant, weakest first: a viewer reads, a developer also changes apps,
// components and their operations, an admin also manages the tenant's members and reads its audit
// trail.
const (
	RoleViewer    = "viewer"
	RoleDeveloper = "developer"
	RoleAdmin     = "admin"
)

// Roles lists the roles, weakest first.
var Roles = []string{RoleViewer, RoleDeveloper, RoleAdmin}

// RoleRank answers the role's strength (higher is stronger), 0 for an unknown role.
func RoleRank(role string) int {
	for i, r := range Roles {
		if r == role {
			return i + 1
		}
	}
	return 0
}

// User is someone (or some automation) that calls the API.
type User struct {
	ID          string
	Name        string // unique
	DisplayName string
	Admin       bool // a platform admin: may do anything in every tenant, and manage users and tenants
	CreatedAt   time.Time
}

// Token is a user's API token. Only the SHA-256 digest of its secret is kept.
type Token struct {
	ID        string
	UserID    string
	Name      string // unique per user
	Digest    string // hex SHA-256 of the secret
	CreatedAt time.Time
	ExpiresAt *time.Time
	RevokedAt *time.Time
}

// Membership is a user's role in a tenant.
type Membership struct {
	TenantID   string
	TenantName string // filled by the reads that join tenants
	UserID     string
	UserName   string // filled by the reads that join users
	Role       string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

type userRow struct {
	ID          string    `gorm:"column:id;primaryKey"`
	Name        string    `gorm:"column:name"`
	DisplayName string    `gorm:"column:display_name"`
	Admin       bool      `gorm:"column:admin"`
	CreatedAt   time.Time `gorm:"column:created_at"`
}

func (userRow) TableName() string { return "users" }

func (r userRow) model() User {
	return User{ID: r.ID, Name: r.Name, DisplayName: r.DisplayName, Admin: r.Admin, CreatedAt: r.CreatedAt.UTC()}
}

type tokenRow struct {
	ID        string     `gorm:"column:id;primaryKey"`
	UserID    string     `gorm:"column:user_id"`
	Name      string     `gorm:"column:name"`
	Digest    string     `gorm:"column:digest"`
	CreatedAt time.Time  `gorm:"column:created_at"`
	ExpiresAt *time.Time `gorm:"column:expires_at"`
	RevokedAt *time.Time `gorm:"column:revoked_at"`
}

func (tokenRow) TableName() string { return "api_tokens" }

func (r tokenRow) model() Token {
	return Token{ID: r.ID, UserID: r.UserID, Name: r.Name, Digest: r.Digest, CreatedAt: r.CreatedAt.UTC(),
		ExpiresAt: utcOrNil(r.ExpiresAt), RevokedAt: utcOrNil(r.RevokedAt)}
}

type membershipRow struct {
	TenantID  string    `gorm:"column:tenant_id;primaryKey"`
	UserID    string    `gorm:"column:user_id;primaryKey"`
	Role      string    `gorm:"column:role"`
	CreatedAt time.Time `gorm:"column:created_at"`
	UpdatedAt time.Time `gorm:"column:updated_at"`
}

func (membershipRow) TableName() string { return "memberships" }

// membershipJoin is a membership row with the names of its tenant and user (gorm maps only exported
// fields, so the row is spelled out rather than embedded).
type membershipJoin struct {
	TenantID   string    `gorm:"column:tenant_id"`
	UserID     string    `gorm:"column:user_id"`
	Role       string    `gorm:"column:role"`
	CreatedAt  time.Time `gorm:"column:created_at"`
	UpdatedAt  time.Time `gorm:"column:updated_at"`
	TenantName string    `gorm:"column:tenant_name"`
	UserName   string    `gorm:"column:user_name"`
}

func (r membershipRow) joined() membershipJoin {
	return membershipJoin{TenantID: r.TenantID, UserID: r.UserID, Role: r.Role, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func (r membershipJoin) model() Membership {
	return Membership{TenantID: r.TenantID, TenantName: r.TenantName, UserID: r.UserID, UserName: r.UserName,
		Role: r.Role, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// CreateUser stores a new user. A user with the same name answers ErrAlreadyExists.
func (s *Store) CreateUser(ctx context.Context, u User) (User, error) {
	if u.Name == "" {
		return User{}, fmt.Errorf("create user: name is empty: %w", ErrInvalid)
	}
	row := userRow{ID: newID(), Name: u.Name, DisplayName: u.DisplayName, Admin: u.Admin, CreatedAt: now()}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return User{}, fmt.Errorf("create user %q: %w", u.Name, translate(err))
	}
	return row.model(), nil
}

// GetUser answers the user with this name.
func (s *Store) GetUser(ctx context.Context, name string) (User, error) {
	var row userRow
	if err := s.db.WithContext(ctx).Where("name = ?", name).Take(&row).Error; err != nil {
		return User{}, fmt.Errorf("get user %q: %w", name, translate(err))
	}
	return row.model(), nil
}

// ListUsers answers one page of users ordered by name.
func (s *Store) ListUsers(ctx context.Context, page Page) ([]User, string, error) {
	rows, next, err := listByName(s.db.WithContext(ctx).Model(&userRow{}), page, func(r userRow) string { return r.Name })
	if err != nil {
		return nil, "", fmt.Errorf("list users: %w", translate(err))
	}
	return models(rows, userRow.model), next, nil
}

// UpdateUser stores the user's display name and admin flag (its name never changes) and answers it.
func (s *Store) UpdateUser(ctx context.Context, u User) (User, error) {
	res := s.db.WithContext(ctx).Model(&userRow{}).Where("id = ?", u.ID).
		Updates(map[string]any{"display_name": u.DisplayName, "admin": u.Admin})
	if res.Error != nil {
		return User{}, fmt.Errorf("update user %s: %w", u.ID, translate(res.Error))
	}
	var row userRow
	if err := s.db.WithContext(ctx).Where("id = ?", u.ID).Take(&row).Error; err != nil {
		return User{}, fmt.Errorf("update user %s: %w", u.ID, translate(err))
	}
	return row.model(), nil
}

// DeleteUser deletes the user, its tokens and its memberships.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	res := s.db.WithContext(ctx).Where("id = ?", id).Delete(&userRow{})
	if res.Error != nil {
		return fmt.Errorf("delete user %s: %w", id, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete user %s: %w", id, ErrNotFound)
	}
	return nil
}

// CreateToken stores a new token of a user; ID and CreatedAt are set. UserID, Name and Digest are
// required; a name the user already gave a token answers ErrAlreadyExists.
func (s *Store) CreateToken(ctx context.Context, t Token) (Token, error) {
	if t.UserID == "" || t.Name == "" || len(t.Digest) != 64 {
		return Token{}, fmt.Errorf("create token: user, name and a hex SHA-256 digest are required: %w", ErrInvalid)
	}
	row := tokenRow{ID: newID(), UserID: t.UserID, Name: t.Name, Digest: t.Digest, CreatedAt: now(),
		ExpiresAt: utcOrNil(t.ExpiresAt)}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		if errors.Is(err, gorm.ErrForeignKeyViolated) {
			return Token{}, fmt.Errorf("create token: user %s: %w", t.UserID, ErrNotFound)
		}
		return Token{}, fmt.Errorf("create token %q: %w", t.Name, translate(err))
	}
	return row.model(), nil
}

// TokenByDigest answers the token with this digest and its user, whatever its expiry or revocation:
// the caller decides, so that it can say why a token is refused.
func (s *Store) TokenByDigest(ctx context.Context, digest string) (Token, User, error) {
	var row struct {
		ID           string     `gorm:"column:id"`
		UserID       string     `gorm:"column:user_id"`
		Name         string     `gorm:"column:name"`
		Digest       string     `gorm:"column:digest"`
		CreatedAt    time.Time  `gorm:"column:created_at"`
		ExpiresAt    *time.Time `gorm:"column:expires_at"`
		RevokedAt    *time.Time `gorm:"column:revoked_at"`
		UName        string     `gorm:"column:u_name"`
		UDisplayName string     `gorm:"column:u_display_name"`
		UAdmin       bool       `gorm:"column:u_admin"`
		UCreatedAt   time.Time  `gorm:"column:u_created_at"`
	}
	err := s.db.WithContext(ctx).Table("api_tokens AS t").
		Select("t.*, u.name AS u_name, u.display_name AS u_display_name, u.admin AS u_admin, u.created_at AS u_created_at").
		Joins("JOIN users u ON u.id = t.user_id").Where("t.digest = ?", digest).Take(&row).Error
	if err != nil {
		return Token{}, User{}, fmt.Errorf("get token by digest: %w", translate(err))
	}
	u := userRow{ID: row.UserID, Name: row.UName, DisplayName: row.UDisplayName, Admin: row.UAdmin, CreatedAt: row.UCreatedAt}
	t := tokenRow{ID: row.ID, UserID: row.UserID, Name: row.Name, Digest: row.Digest, CreatedAt: row.CreatedAt,
		ExpiresAt: row.ExpiresAt, RevokedAt: row.RevokedAt}
	return t.model(), u.model(), nil
}

// ListTokens answers every token of the user, newest first (a user has few).
func (s *Store) ListTokens(ctx context.Context, userID string) ([]Token, error) {
	var rows []tokenRow
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("created_at DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list tokens of user %s: %w", userID, translate(err))
	}
	return models(rows, tokenRow.model), nil
}

// RevokeToken marks the user's token revoked (a token revoked before stays revoked at its first time).
func (s *Store) RevokeToken(ctx context.Context, userID, tokenID string) (Token, error) {
	var out Token
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var row tokenRow
		if err := tx.Where("id = ? AND user_id = ?", tokenID, userID).Take(&row).Error; err != nil {
			return err
		}
		if row.RevokedAt == nil {
			at := now()
			if err := tx.Model(&tokenRow{}).Where("id = ?", row.ID).Update("revoked_at", at).Error; err != nil {
				return err
			}
			row.RevokedAt = &at
		}
		out = row.model()
		return nil
	})
	if err != nil {
		return Token{}, fmt.Errorf("revoke token %s: %w", tokenID, translate(err))
	}
	return out, nil
}

// SetMembership gives the user the role in the tenant, and answers whether the membership is new.
func (s *Store) SetMembership(ctx context.Context, tenantID, userID, role string) (Membership, bool, error) {
	if RoleRank(role) == 0 {
		return Membership{}, false, fmt.Errorf("set membership: role %q: %w", role, ErrInvalid)
	}
	var created bool
	var out membershipRow
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var row membershipRow
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).
			Where("tenant_id = ? AND user_id = ?", tenantID, userID).Take(&row).Error
		at := now()
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			created = true
			out = membershipRow{TenantID: tenantID, UserID: userID, Role: role, CreatedAt: at, UpdatedAt: at}
			return tx.Create(&out).Error
		case err != nil:
			return err
		}
		out = row
		if row.Role != role {
			out.Role, out.UpdatedAt = role, at
			return tx.Model(&membershipRow{}).Where("tenant_id = ? AND user_id = ?", tenantID, userID).
				Updates(map[string]any{"role": role, "updated_at": at}).Error
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, gorm.ErrForeignKeyViolated) {
			return Membership{}, false, fmt.Errorf("set membership: tenant %s or user %s: %w", tenantID, userID, ErrNotFound)
		}
		return Membership{}, false, fmt.Errorf("set membership of user %s in tenant %s: %w", userID, tenantID, translate(err))
	}
	return out.joined().model(), created, nil
}

// GetMembership answers the user's membership in the tenant.
func (s *Store) GetMembership(ctx context.Context, tenantID, userID string) (Membership, error) {
	var row membershipRow
	if err := s.db.WithContext(ctx).Where("tenant_id = ? AND user_id = ?", tenantID, userID).Take(&row).Error; err != nil {
		return Membership{}, fmt.Errorf("get membership of user %s in tenant %s: %w", userID, tenantID, translate(err))
	}
	return row.joined().model(), nil
}

// DeleteMembership takes the user out of the tenant.
func (s *Store) DeleteMembership(ctx context.Context, tenantID, userID string) error {
	res := s.db.WithContext(ctx).Where("tenant_id = ? AND user_id = ?", tenantID, userID).Delete(&membershipRow{})
	if res.Error != nil {
		return fmt.Errorf("delete membership of user %s in tenant %s: %w", userID, tenantID, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete membership of user %s in tenant %s: %w", userID, tenantID, ErrNotFound)
	}
	return nil
}

// ListMembers answers one page of the tenant's members ordered by user name.
func (s *Store) ListMembers(ctx context.Context, tenantID string, page Page) ([]Membership, string, error) {
	q := s.db.WithContext(ctx).Table("memberships AS m").
		Select("m.*, u.name AS user_name").
		Joins("JOIN users u ON u.id = m.user_id").Where("m.tenant_id = ?", tenantID)
	rows, next, err := listByName(q, page, func(r membershipJoin) string { return r.UserName })
	if err != nil {
		return nil, "", fmt.Errorf("list members of tenant %s: %w", tenantID, translate(err))
	}
	return models(rows, membershipJoin.model), next, nil
}

// ListMemberships answers one page of the user's memberships ordered by tenant name.
func (s *Store) ListMemberships(ctx context.Context, userID string, page Page) ([]Membership, string, error) {
	q := s.db.WithContext(ctx).Table("memberships AS m").
		Select("m.*, t.name AS tenant_name").
		Joins("JOIN tenants t ON t.id = m.tenant_id").Where("m.user_id = ?", userID)
	rows, next, err := listByName(q, page, func(r membershipJoin) string { return r.TenantName })
	if err != nil {
		return nil, "", fmt.Errorf("list memberships of user %s: %w", userID, translate(err))
	}
	return models(rows, membershipJoin.model), next, nil
}

// ListTenantsOf answers one page, ordered by name, of the tenants the user is a member of.
func (s *Store) ListTenantsOf(ctx context.Context, userID string, page Page) ([]Tenant, string, error) {
	q := s.db.WithContext(ctx).Model(&tenantRow{}).
		Where("id IN (?)", s.db.Model(&membershipRow{}).Select("tenant_id").Where("user_id = ?", userID))
	rows, next, err := listByName(q, page, func(r tenantRow) string { return r.Name })
	if err != nil {
		return nil, "", fmt.Errorf("list tenants of user %s: %w", userID, translate(err))
	}
	return models(rows, tenantRow.model), next, nil
}

// TenantAccess answers the tenant with this name and the user's role in it ("" when the user is no
// member, or userID is ""), in one read: every request inside a tenant asks it.
func (s *Store) TenantAccess(ctx context.Context, name, userID string) (Tenant, string, error) {
	var row struct {
		ID          string                   `gorm:"column:id"`
		Name        string                   `gorm:"column:name"`
		DisplayName string                   `gorm:"column:display_name"`
		CreatedAt   time.Time                `gorm:"column:created_at"`
		Settings    *contract.TenantSettings `gorm:"column:settings;serializer:json"`
		Role        *string                  `gorm:"column:role"`
	}
	err := s.db.WithContext(ctx).Table("tenants AS t").
		Select("t.id, t.name, t.display_name, t.created_at, t.settings, m.role").
		Joins("LEFT JOIN memberships m ON m.tenant_id = t.id AND m.user_id = ?", userID).
		Where("t.name = ?", name).Take(&row).Error
	if err != nil {
		return Tenant{}, "", fmt.Errorf("get tenant %q: %w", name, translate(err))
	}
	t := tenantRow{ID: row.ID, Name: row.Name, DisplayName: row.DisplayName, CreatedAt: row.CreatedAt, Settings: row.Settings}
	return t.model(), deref(row.Role), nil
}
