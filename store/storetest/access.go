package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/store"
)

func digestOf(s string) string {
	d := sha256.Sum256([]byte(s))
	return hex.EncodeToString(d[:])
}

func testUsersAndTokens(t *testing.T, open Opener) {
	st := open(t)
	ctx := t.Context()

	u, err := st.CreateUser(ctx, store.User{Name: uniq("ana"), DisplayName: "Ana"})
	require.NoError(t, err)
	require.NotEmpty(t, u.ID)
	got, err := st.GetUser(ctx, u.Name)
	require.NoError(t, err)
	require.Equal(t, u, got)
	_, err = st.CreateUser(ctx, store.User{Name: u.Name})
	require.ErrorIs(t, err, store.ErrAlreadyExists)
	_, err = st.GetUser(ctx, uniq("nobody"))
	require.ErrorIs(t, err, store.ErrNotFound)

	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	secret := uniq("secret")
	tok, err := st.CreateToken(ctx, store.Token{UserID: u.ID, Name: "ci", Digest: digestOf(secret), ExpiresAt: &expires})
	require.NoError(t, err)
	require.Nil(t, tok.RevokedAt)
	_, err = st.CreateToken(ctx, store.Token{UserID: u.ID, Name: "ci", Digest: digestOf(uniq("other"))})
	require.ErrorIs(t, err, store.ErrAlreadyExists, "a user's token names are unique")
	_, err = st.CreateToken(ctx, store.Token{UserID: "00000000-0000-0000-0000-000000000000", Name: "x", Digest: digestOf(uniq("x"))})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = st.CreateToken(ctx, store.Token{UserID: u.ID, Name: "short", Digest: "abc"})
	require.ErrorIs(t, err, store.ErrInvalid)

	byDigest, owner, err := st.TokenByDigest(ctx, digestOf(secret))
	require.NoError(t, err)
	require.Equal(t, tok.ID, byDigest.ID)
	require.Equal(t, u, owner)
	require.WithinDuration(t, expires, *byDigest.ExpiresAt, time.Millisecond)
	_, _, err = st.TokenByDigest(ctx, digestOf("never issued"))
	require.ErrorIs(t, err, store.ErrNotFound)

	list, err := st.ListTokens(ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)

	revoked, err := st.RevokeToken(ctx, u.ID, tok.ID)
	require.NoError(t, err)
	require.NotNil(t, revoked.RevokedAt)
	again, err := st.RevokeToken(ctx, u.ID, tok.ID)
	require.NoError(t, err)
	require.Equal(t, revoked.RevokedAt, again.RevokedAt, "revoking twice keeps the first time")
	after, _, err := st.TokenByDigest(ctx, digestOf(secret))
	require.NoError(t, err)
	require.NotNil(t, after.RevokedAt)

	other, err := st.CreateUser(ctx, store.User{Name: uniq("bo")})
	require.NoError(t, err)
	_, err = st.RevokeToken(ctx, other.ID, tok.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "a user cannot revoke another's token")

	require.NoError(t, st.DeleteUser(ctx, u.ID))
	_, _, err = st.TokenByDigest(ctx, digestOf(secret))
	require.ErrorIs(t, err, store.ErrNotFound, "deleting a user deletes its tokens")
	require.ErrorIs(t, st.DeleteUser(ctx, u.ID), store.ErrNotFound)
}

func testMemberships(t *testing.T, open Opener) {
	st := open(t)
	ctx := t.Context()
	t1, err := st.CreateTenant(ctx, store.Tenant{Name: uniq("m1")})
	require.NoError(t, err)
	t2, err := st.CreateTenant(ctx, store.Tenant{Name: uniq("m2")})
	require.NoError(t, err)
	ana, err := st.CreateUser(ctx, store.User{Name: uniq("ana")})
	require.NoError(t, err)
	bo, err := st.CreateUser(ctx, store.User{Name: uniq("bo")})
	require.NoError(t, err)

	m, created, err := st.SetMembership(ctx, t1.ID, ana.ID, store.RoleViewer)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, store.RoleViewer, m.Role)
	m, created, err = st.SetMembership(ctx, t1.ID, ana.ID, store.RoleAdmin)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, store.RoleAdmin, m.Role)
	_, _, err = st.SetMembership(ctx, t1.ID, ana.ID, "owner")
	require.ErrorIs(t, err, store.ErrInvalid)
	_, _, err = st.SetMembership(ctx, t1.ID, "00000000-0000-0000-0000-000000000000", store.RoleViewer)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, _, err = st.SetMembership(ctx, t2.ID, ana.ID, store.RoleDeveloper)
	require.NoError(t, err)
	_, _, err = st.SetMembership(ctx, t1.ID, bo.ID, store.RoleDeveloper)
	require.NoError(t, err)

	tenant, role, err := st.TenantAccess(ctx, t1.Name, ana.ID)
	require.NoError(t, err)
	require.Equal(t, t1, tenant)
	require.Equal(t, store.RoleAdmin, role)
	_, role, err = st.TenantAccess(ctx, t2.Name, bo.ID)
	require.NoError(t, err)
	require.Empty(t, role, "no member")
	_, role, err = st.TenantAccess(ctx, t1.Name, "")
	require.NoError(t, err)
	require.Empty(t, role)
	_, _, err = st.TenantAccess(ctx, uniq("nope"), ana.ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	got, err := st.GetMembership(ctx, t1.ID, ana.ID)
	require.NoError(t, err)
	require.Equal(t, store.RoleAdmin, got.Role)
	_, err = st.GetMembership(ctx, t2.ID, bo.ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	members, next, err := st.ListMembers(ctx, t1.ID, store.Page{Limit: 1})
	require.NoError(t, err)
	require.Len(t, members, 1)
	require.NotEmpty(t, next)
	rest, last, err := st.ListMembers(ctx, t1.ID, store.Page{Limit: 1, Cursor: next})
	require.NoError(t, err)
	require.Empty(t, last)
	require.ElementsMatch(t, []string{ana.Name, bo.Name}, []string{members[0].UserName, rest[0].UserName})

	mine, _, err := st.ListMemberships(ctx, ana.ID, store.Page{})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{t1.Name, t2.Name}, []string{mine[0].TenantName, mine[1].TenantName})
	tenants, _, err := st.ListTenantsOf(ctx, bo.ID, store.Page{})
	require.NoError(t, err)
	require.Len(t, tenants, 1)
	require.Equal(t, t1.ID, tenants[0].ID)

	require.NoError(t, st.DeleteMembership(ctx, t1.ID, bo.ID))
	require.ErrorIs(t, st.DeleteMembership(ctx, t1.ID, bo.ID), store.ErrNotFound)
	tenants, _, err = st.ListTenantsOf(ctx, bo.ID, store.Page{})
	require.NoError(t, err)
	require.Empty(t, tenants)

	require.NoError(t, st.DeleteTenant(ctx, t2.ID))
	mine, _, err = st.ListMemberships(ctx, ana.ID, store.Page{})
	require.NoError(t, err)
	require.Len(t, mine, 1, "deleting a tenant deletes its memberships")
}

func testAudit(t *testing.T, open Opener) {
	st := open(t)
	ctx := t.Context()
	tenant, err := st.CreateTenant(ctx, store.Tenant{Name: uniq("audit")})
	require.NoError(t, err)
	who := uniq("auditor")
	before := time.Now().Add(-time.Second)
	for i, action := range []string{"POST /v1/tenants/{tenant}/apps", "DELETE /v1/tenants/{tenant}/apps/{app}", "POST /v1/users"} {
		e := store.AuditEvent{Principal: who, Action: action, Path: "/v1/x", Status: 200 + i, RequestID: "r"}
		if i < 2 {
			e.TenantID, e.TenantName = tenant.ID, tenant.Name
		}
		_, err := st.RecordAudit(ctx, e)
		require.NoError(t, err)
	}
	_, err = st.RecordAudit(ctx, store.AuditEvent{Action: "x"})
	require.ErrorIs(t, err, store.ErrInvalid)

	inTenant, next, err := st.ListAudit(ctx, store.AuditFilter{TenantID: tenant.ID}, store.Page{Limit: 1})
	require.NoError(t, err)
	require.Len(t, inTenant, 1)
	require.Equal(t, "DELETE /v1/tenants/{tenant}/apps/{app}", inTenant[0].Action, "newest first")
	older, last, err := st.ListAudit(ctx, store.AuditFilter{TenantID: tenant.ID}, store.Page{Limit: 1, Cursor: next})
	require.NoError(t, err)
	require.Empty(t, last)
	require.Equal(t, 200, older[0].Status)

	all, _, err := st.ListAudit(ctx, store.AuditFilter{Principal: who, Since: before}, store.Page{})
	require.NoError(t, err)
	require.Len(t, all, 3)
	none, _, err := st.ListAudit(ctx, store.AuditFilter{Principal: who, Until: before}, store.Page{})
	require.NoError(t, err)
	require.Empty(t, none)

	require.NoError(t, st.DeleteTenant(ctx, tenant.ID))
	kept, _, err := st.ListAudit(ctx, store.AuditFilter{TenantID: tenant.ID}, store.Page{})
	require.NoError(t, err)
	require.Len(t, kept, 2, "the audit trail outlives its tenant")
}
