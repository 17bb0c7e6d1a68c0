package api

import (
	"context"
)

// adminPrincipal is the name of the principal the admin token authenticates.
const adminPrincipal = "admin"

// Principal is who is calling: the authenticator puts it in the request's context. Roles and tenant
// memberships join it when users arrive; handlers ask it, never the token.
type Principal struct {
	Name  string
	Admin bool // may create and delete tenants
}

// principalKey is the context key of the Principal.
type principalKey struct{}

var principalCtxKey = &principalKey{}

func withPrincipal(ctx context.Context, p Principal) context.Context {
	if h, ok := ctx.Value(principalHolderCtxKey).(*principalHolder); ok {
		h.name = p.Name
	}
	return context.WithValue(ctx, principalCtxKey, p)
}

// principalHolder lets the access log, which wraps the authenticator, log who the request came from.
type principalHolder struct{ name string }

type principalHolderKey struct{}

var principalHolderCtxKey = &principalHolderKey{}

func withPrincipalHolder(ctx context.Context, h *principalHolder) context.Context {
	return context.WithValue(ctx, principalHolderCtxKey, h)
}

// PrincipalFrom answers the principal the request was authenticated as.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalCtxKey).(Principal)
	return p, ok
}
