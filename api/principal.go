package api

import (
	"context"

	"github.com/rainflow/rainflow/store"
)

// adminPrincipal is the name of the principal the admin token authenticates.
const adminPrincipal = "admin"

// How a principal proved who it is.
const (
	viaConfigToken       = "config-token"
	viaToken             = "token"
	viaClientCertificate = "client-certificate"
)

// Principal is who is calling: the authenticator puts it in the request's context; handlers ask it,
// never the token.
type Principal struct {
	Name   string
	UserID string // the store's user; "" for a configured principal without a user of its name
	Admin  bool   // a platform admin: every tenant, and users and tenants themselves
	Via    string // how it authenticated: config-token, token or client-certificate
}

// principalKey is the context key of the Principal.
type principalKey struct{}

var principalCtxKey = &principalKey{}

func withPrincipal(ctx context.Context, p Principal) context.Context {
	if n, ok := ctx.Value(requestNotesCtxKey).(*requestNotes); ok {
		n.principal = p.Name
	}
	return context.WithValue(ctx, principalCtxKey, p)
}

// requestNotes is what inner handlers learn about a request that the middlewares wrapping them (the
// access log, the audit trail) report: who called, in which tenant, and which operation it started.
// One request's notes are written by the one goroutine serving it.
type requestNotes struct {
	principal   string
	tenant      store.Tenant
	role        string
	operationID string
}

type requestNotesKey struct{}

var requestNotesCtxKey = &requestNotesKey{}

func withRequestNotes(ctx context.Context, n *requestNotes) context.Context {
	return context.WithValue(ctx, requestNotesCtxKey, n)
}

func notesOf(ctx context.Context) *requestNotes {
	n, _ := ctx.Value(requestNotesCtxKey).(*requestNotes)
	return n
}

// noteOperation records that the request started (or found) an operation, for the audit trail.
func noteOperation(ctx context.Context, id string) {
	if n := notesOf(ctx); n != nil {
		n.operationID = id
	}
}

// PrincipalFrom answers the principal the request was authenticated as.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalCtxKey).(Principal)
	return p, ok
}
