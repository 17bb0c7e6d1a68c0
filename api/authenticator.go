package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rainflow/rainflow/store"
)

// Authenticator says who a request comes from. Errors wrapping ErrNoCredentials and ErrBadCredentials
// are its answers for a request without credentials and one with wrong credentials; any other error is
// a failure to decide (the store is down).
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, error)
}

// Authentication errors.
var (
	ErrNoCredentials  = errors.New("the request has no Authorization: Bearer header and no client certificate")
	ErrBadCredentials = errors.New("the bearer token is not valid")
)

// tokenPrefix starts every token the API issues, so that a leaked one is easy to recognize (secret
// scanners) and never mistaken for another kind of credential.
const tokenPrefix = "rft_"

// authenticator accepts, in order: the configured tokens (compared in constant time, as SHA-256
// digests, so their lengths leak nothing); tokens the API issued to users (looked up by digest: only
// digests are stored); and, without an Authorization header, a verified client certificate whose
// subject common name is a user's name (mutual TLS).
type authenticator struct {
	configured []tokenDigest
	users      userSource
	cache      *tokenCache
}

// userSource is the part of the store the authenticator reads.
type userSource interface {
	TokenByDigest(ctx context.Context, digest string) (store.Token, store.User, error)
	GetUser(ctx context.Context, name string) (store.User, error)
}

type tokenDigest struct {
	principal Principal
	digest    [sha256.Size]byte
}

func newAuthenticator(cfg Config, users userSource) *authenticator {
	a := &authenticator{users: users, cache: newTokenCache(cfg.TokenCacheTTL)}
	if cfg.AdminToken != "" {
		a.configured = append(a.configured, tokenDigest{
			principal: Principal{Name: adminPrincipal, Admin: true, Via: viaConfigToken},
			digest:    sha256.Sum256([]byte(cfg.AdminToken)),
		})
	}
	for _, t := range cfg.Tokens {
		a.configured = append(a.configured, tokenDigest{
			principal: Principal{Name: t.Principal, Via: viaConfigToken},
			digest:    sha256.Sum256([]byte(t.Secret)),
		})
	}
	return a
}

func (a *authenticator) Authenticate(r *http.Request) (Principal, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return a.clientCertificate(r)
	}
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Principal{}, ErrNoCredentials
	}
	digest := sha256.Sum256([]byte(token))
	var found Principal
	match := 0
	for _, t := range a.configured {
		if subtle.ConstantTimeCompare(digest[:], t.digest[:]) == 1 {
			found, match = t.principal, 1
		}
	}
	if match == 1 {
		if found.Admin {
			return found, nil
		}
		// A configured principal's tenant access is that of the user of its name, if there is one.
		u, err := a.users.GetUser(r.Context(), found.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return found, nil
		case err != nil:
			return Principal{}, fmt.Errorf("read user %q: %w", found.Name, err)
		}
		found.UserID, found.Admin = u.ID, u.Admin
		return found, nil
	}
	if !strings.HasPrefix(token, tokenPrefix) {
		return Principal{}, ErrBadCredentials
	}
	key := hex.EncodeToString(digest[:])
	if p, ok := a.cache.get(key); ok {
		return p, nil
	}
	t, u, err := a.users.TokenByDigest(r.Context(), key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Principal{}, ErrBadCredentials
	case err != nil:
		return Principal{}, fmt.Errorf("look the token up: %w", err)
	case t.RevokedAt != nil:
		return Principal{}, fmt.Errorf("%w: token %q of user %q was revoked at %s", ErrBadCredentials, t.Name, u.Name, t.RevokedAt.Format(time.RFC3339))
	case t.ExpiresAt != nil && !time.Now().Before(*t.ExpiresAt):
		return Principal{}, fmt.Errorf("%w: token %q of user %q expired at %s", ErrBadCredentials, t.Name, u.Name, t.ExpiresAt.Format(time.RFC3339))
	}
	p := Principal{Name: u.Name, UserID: u.ID, Admin: u.Admin, Via: viaToken}
	a.cache.put(key, p, t.ExpiresAt)
	return p, nil
}

// forgetUser drops the cached tokens of the user (its token was revoked, or it was deleted), so that
// this process refuses them at once.
func (a *authenticator) forgetUser(userID string) { a.cache.forgetUser(userID) }

// tokenCache keeps tokens the store vouched for, for a few seconds, so that a client's requests do not
// each look their token up. A revocation through this process takes effect at once; through another
// API process, within the TTL. Memberships are not cached: a changed role counts at once.
type tokenCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cachedToken // by token digest
}

type cachedToken struct {
	principal Principal
	until     time.Time
}

// maxCachedTokens bounds the cache; a full cache starts over.
const maxCachedTokens = 10_000

func newTokenCache(ttl time.Duration) *tokenCache {
	return &tokenCache{ttl: ttl, m: map[string]cachedToken{}}
}

func (c *tokenCache) get(key string) (Principal, bool) {
	if c.ttl <= 0 {
		return Principal{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || !time.Now().Before(e.until) {
		return Principal{}, false
	}
	return e.principal, true
}

func (c *tokenCache) put(key string, p Principal, expires *time.Time) {
	if c.ttl <= 0 {
		return
	}
	until := time.Now().Add(c.ttl)
	if expires != nil && expires.Before(until) {
		until = *expires
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedTokens {
		clear(c.m)
	}
	c.m[key] = cachedToken{principal: p, until: until}
}

func (c *tokenCache) forgetUser(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if e.principal.UserID == userID {
			delete(c.m, k)
		}
	}
}

// clientCertificate answers the user a verified client certificate names by its subject's common name.
func (a *authenticator) clientCertificate(r *http.Request) (Principal, error) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return Principal{}, ErrNoCredentials
	}
	cn := r.TLS.VerifiedChains[0][0].Subject.CommonName
	if cn == "" {
		return Principal{}, fmt.Errorf("%w: the client certificate has no subject common name", ErrBadCredentials)
	}
	u, err := a.users.GetUser(r.Context(), cn)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Principal{}, fmt.Errorf("%w: the client certificate names %q, who is no user", ErrBadCredentials, cn)
	case err != nil:
		return Principal{}, fmt.Errorf("read user %q: %w", cn, err)
	}
	return Principal{Name: u.Name, UserID: u.ID, Admin: u.Admin, Via: viaClientCertificate}, nil
}
