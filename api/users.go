package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rainflow/rainflow/store"
)

// Users and their API tokens. A platform admin manages users; a user manages its own tokens. A token's
// secret is answered once, when it is made: the store keeps only its SHA-256 digest.

type createUserRequest struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	Admin       bool   `json:"admin"`
}

type userView struct {
	Name        string            `json:"name"`
	DisplayName string            `json:"displayName,omitempty"`
	Admin       bool              `json:"admin"`
	CreatedAt   time.Time         `json:"createdAt"`
	Links       map[string]string `json:"links"`
}

func userPath(name string) string { return "/v1/users/" + name }

func newUserView(u store.User) userView {
	self := userPath(u.Name)
	return userView{Name: u.Name, DisplayName: u.DisplayName, Admin: u.Admin, CreatedAt: u.CreatedAt,
		Links: map[string]string{"self": self, "tokens": self + "/tokens", "memberships": self + "/memberships"}}
}

// userNamePattern: lower-case names, e-mail addresses included, since a client certificate's common
// name is matched against them.
var userNamePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9._@+-]{0,126}[a-z0-9])?$`)

func validateUserName(errs *fieldErrors, field, name string) {
	switch {
	case name == "":
		errs.add(field, "is required")
	case !userNamePattern.MatchString(name):
		errs.add(field, "must be 1-128 of a-z, 0-9 and . _ @ + -, starting and ending with a letter or digit")
	case name == adminPrincipal:
		errs.add(field, `is reserved for the configured admin token's principal`)
	}
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	var req createUserRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	var errs fieldErrors
	validateUserName(&errs, "name", req.Name)
	validateDisplayName(&errs, "displayName", req.DisplayName)
	if len(errs) > 0 {
		return validationProblem("user", errs)
	}
	u, err := s.store.CreateUser(r.Context(), store.User{Name: req.Name, DisplayName: req.DisplayName, Admin: req.Admin})
	if errors.Is(err, store.ErrAlreadyExists) {
		return &Problem{Type: typeAlreadyExists, Status: http.StatusConflict, Detail: fmt.Sprintf("user %q already exists", req.Name)}
	}
	if err != nil {
		return err
	}
	s.logger.InfoContext(r.Context(), "created user", "user", u.Name, "admin", u.Admin, "request_id", RequestIDFrom(r.Context()))
	w.Header().Set("Location", userPath(u.Name))
	writeJSON(w, http.StatusCreated, newUserView(u))
	return nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	return serveList(w, r, func(p store.Page) ([]store.User, string, error) { return s.store.ListUsers(r.Context(), p) }, newUserView)
}

// userOf answers the user the path names, if the caller is a platform admin or that user; anyone
// else gets the 404 of a user that does not exist.
func (s *Server) userOf(r *http.Request) (store.User, error) {
	name := chi.URLParam(r, "user")
	p, _ := PrincipalFrom(r.Context())
	hidden := notFound("user %q not found", name)
	if !p.Admin && p.Name != name {
		return store.User{}, hidden
	}
	u, err := s.store.GetUser(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, hidden
	}
	return u, err
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.userOf(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newUserView(u))
	return nil
}

// patchUserRequest changes what it names of a user (platform admins only).
type patchUserRequest struct {
	DisplayName *string `json:"displayName"`
	Admin       *bool   `json:"admin"`
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.userOf(r)
	if err != nil {
		return err
	}
	var req patchUserRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if req.DisplayName != nil {
		var errs fieldErrors
		validateDisplayName(&errs, "displayName", *req.DisplayName)
		if len(errs) > 0 {
			return validationProblem("user", errs)
		}
		u.DisplayName = *req.DisplayName
	}
	if req.Admin != nil {
		u.Admin = *req.Admin
	}
	updated, err := s.store.UpdateUser(r.Context(), u)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("user %q not found", u.Name)
	}
	if err != nil {
		return err
	}
	s.forgetTokens(u.ID) // the cached principals carry the admin flag
	s.logger.InfoContext(r.Context(), "changed user", "user", u.Name, "admin", updated.Admin, "request_id", RequestIDFrom(r.Context()))
	writeJSON(w, http.StatusOK, newUserView(updated))
	return nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.userOf(r)
	if err != nil {
		return err
	}
	if err := s.store.DeleteUser(r.Context(), u.ID); errors.Is(err, store.ErrNotFound) {
		return notFound("user %q not found", u.Name)
	} else if err != nil {
		return err
	}
	s.forgetTokens(u.ID)
	s.logger.InfoContext(r.Context(), "deleted user", "user", u.Name, "request_id", RequestIDFrom(r.Context()))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// meView answers who the caller is, and where it is a member.
type meView struct {
	Name  string `json:"name"`
	Admin bool   `json:"admin"`
	Via   string `json:"authenticatedBy"`
	User  bool   `json:"user"` // whether a stored user backs the principal
}

func (s *Server) getMe(w http.ResponseWriter, r *http.Request) error {
	p, _ := PrincipalFrom(r.Context())
	writeJSON(w, http.StatusOK, meView{Name: p.Name, Admin: p.Admin, Via: p.Via, User: p.UserID != ""})
	return nil
}

type membershipView struct {
	Tenant    string            `json:"tenant,omitempty"`
	User      string            `json:"user,omitempty"`
	Role      string            `json:"role"`
	CreatedAt time.Time         `json:"createdAt"`
	UpdatedAt time.Time         `json:"updatedAt"`
	Links     map[string]string `json:"links"`
}

func newMembershipView(tenant, user string, m store.Membership) membershipView {
	return membershipView{Tenant: tenant, User: user, Role: m.Role, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
		Links: map[string]string{"self": tenantPath(tenant) + "/members/" + user, "tenant": tenantPath(tenant), "user": userPath(user)}}
}

func (s *Server) listUserMemberships(w http.ResponseWriter, r *http.Request) error {
	u, err := s.userOf(r)
	if err != nil {
		return err
	}
	return serveList(w, r, func(p store.Page) ([]store.Membership, string, error) {
		return s.store.ListMemberships(r.Context(), u.ID, p)
	},
		func(m store.Membership) membershipView { return newMembershipView(m.TenantName, u.Name, m) })
}

// Token lifetimes.
const (
	defaultTokenDays = 90
	maxTokenDays     = 3650
)

type createTokenRequest struct {
	Name string `json:"name"`
	// ExpiresInDays is the token's lifetime, 1 to 3650 days; 90 when unset.
	ExpiresInDays int `json:"expiresInDays"`
}

type tokenView struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	User      string            `json:"user"`
	CreatedAt time.Time         `json:"createdAt"`
	ExpiresAt *time.Time        `json:"expiresAt,omitempty"`
	RevokedAt *time.Time        `json:"revokedAt,omitempty"`
	Links     map[string]string `json:"links"`
}

// newTokenView never carries a secret: createdTokenView adds it, once.
func newTokenView(user string, t store.Token) tokenView {
	return tokenView{ID: t.ID, Name: t.Name, User: user, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt,
		Links: map[string]string{"self": userPath(user) + "/tokens/" + t.ID, "user": userPath(user)}}
}

type createdTokenView struct {
	tokenView
	// Token is the secret: shown here once, never again.
	Token string `json:"token"`
}

var tokenNamePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$`)

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	u, err := s.userOf(r)
	if err != nil {
		return err
	}
	var req createTokenRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	var errs fieldErrors
	if !tokenNamePattern.MatchString(req.Name) {
		errs.add("name", "must be 1-64 of a-z, 0-9 and . _ -, starting and ending with a letter or digit")
	}
	days := req.ExpiresInDays
	if days == 0 {
		days = defaultTokenDays
	}
	if days < 1 || days > maxTokenDays {
		errs.add("expiresInDays", fmt.Sprintf("must be between 1 and %d", maxTokenDays))
	}
	if len(errs) > 0 {
		return validationProblem("token", errs)
	}
	secret, digest, err := newTokenSecret()
	if err != nil {
		return err
	}
	expires := time.Now().UTC().Add(time.Duration(days) * 24 * time.Hour)
	t, err := s.store.CreateToken(r.Context(), store.Token{UserID: u.ID, Name: req.Name, Digest: digest, ExpiresAt: &expires})
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		return &Problem{Type: typeAlreadyExists, Status: http.StatusConflict,
			Detail: fmt.Sprintf("user %q already has a token named %q; revoke it or choose another name", u.Name, req.Name)}
	case errors.Is(err, store.ErrNotFound):
		return notFound("user %q not found", u.Name)
	case err != nil:
		return err
	}
	s.logger.InfoContext(r.Context(), "created token", "user", u.Name, "token", t.Name, "token_id", t.ID, "request_id", RequestIDFrom(r.Context()))
	view := newTokenView(u.Name, t)
	w.Header().Set("Location", view.Links["self"])
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, createdTokenView{tokenView: view, Token: secret})
	return nil
}

// newTokenSecret answers a new token secret (tokenPrefix + 256 random bits) and its hex SHA-256 digest.
func newTokenSecret() (secret, digest string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("make token: %w", err)
	}
	secret = tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	d := sha256.Sum256([]byte(secret))
	return secret, hex.EncodeToString(d[:]), nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	u, err := s.userOf(r)
	if err != nil {
		return err
	}
	tokens, err := s.store.ListTokens(r.Context(), u.ID)
	if err != nil {
		return err
	}
	views := make([]tokenView, len(tokens))
	for i, t := range tokens {
		views[i] = newTokenView(u.Name, t)
	}
	writeList(w, r, views, "")
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	u, err := s.userOf(r)
	if err != nil {
		return err
	}
	id := chi.URLParam(r, "token")
	t, err := s.store.RevokeToken(r.Context(), u.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("user %q has no token %q", u.Name, id)
	}
	if err != nil {
		return err
	}
	s.forgetTokens(u.ID)
	s.logger.InfoContext(r.Context(), "revoked token", "user", u.Name, "token", t.Name, "token_id", t.ID, "request_id", RequestIDFrom(r.Context()))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// forgetTokens makes this process ask the store again for the user's tokens (see tokenCache).
func (s *Server) forgetTokens(userID string) {
	if a, ok := s.auth.(*authenticator); ok {
		a.forgetUser(userID)
	}
}
