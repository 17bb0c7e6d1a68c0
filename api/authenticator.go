package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
)

// Authenticator says who a request comes from. ErrNoCredentials and ErrBadCredentials are its answers
// for a request without credentials and one with wrong credentials.
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, error)
}

// Authentication errors.
var (
	ErrNoCredentials  = errors.New("the request has no Authorization: Bearer header")
	ErrBadCredentials = errors.New("the bearer token is not valid")
)

// tokenAuthenticator checks a bearer token against the configured ones in constant time: it compares
// SHA-256 digests (so the tokens' lengths leak nothing) and always compares with every token.
type tokenAuthenticator struct {
	tokens []tokenDigest
}

type tokenDigest struct {
	principal Principal
	digest    [sha256.Size]byte
}

func newTokenAuthenticator(cfg Config) *tokenAuthenticator {
	a := &tokenAuthenticator{}
	if cfg.AdminToken != "" {
		a.tokens = append(a.tokens, tokenDigest{
			principal: Principal{Name: adminPrincipal, Admin: true},
			digest:    sha256.Sum256([]byte(cfg.AdminToken)),
		})
	}
	for _, t := range cfg.Tokens {
		a.tokens = append(a.tokens, tokenDigest{
			principal: Principal{Name: t.Principal},
			digest:    sha256.Sum256([]byte(t.Secret)),
		})
	}
	return a
}

func (a *tokenAuthenticator) Authenticate(r *http.Request) (Principal, error) {
	header := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(header, " ")
	if header == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return Principal{}, ErrNoCredentials
	}
	digest := sha256.Sum256([]byte(strings.TrimSpace(token)))
	var found Principal
	match := 0
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare(digest[:], t.digest[:]) == 1 {
			found, match = t.principal, 1
		}
	}
	if match == 0 {
		return Principal{}, ErrBadCredentials
	}
	return found, nil
}
