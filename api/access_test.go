package api_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/api"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// TestRolesInsideATenant walks one user through every role: no member (the tenant does not exist for
// it), viewer (reads only), developer (changes apps and components), admin (manages members, reads the
// audit trail).
func TestRolesInsideATenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/users", body: `{"name":"ana","displayName":"Ana"}`})
	ana := e.token("ana")
	require.True(t, strings.HasPrefix(ana, "rft_"))

	me := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/me", token: ana}))
	require.Equal(t, map[string]any{"name": "ana", "admin": false, "authenticatedBy": "token", "user": true}, me)
	list := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants", token: ana}))
	require.Empty(t, list["items"], "a user sees only the tenants it is a member of")
	p := problemOf(t, e.do(request{method: "GET", path: "/v1/tenants/acme/apps", token: ana}), 404)
	require.Equal(t, `tenant "acme" not found`, p.Detail, "a non-member cannot tell the tenant exists")

	e.member("ana", "acme", "viewer")
	list = jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants", token: ana}))
	require.Len(t, list["items"], 1)
	e.ok(http.StatusOK, request{method: "GET", path: webPath, token: ana})
	p = problemOf(t, e.do(request{method: "POST", path: "/v1/tenants/acme/apps", token: ana, body: `{"name":"blog"}`}), 403)
	require.Contains(t, p.Detail, `principal "ana" is a viewer of tenant "acme"; POST /v1/tenants/acme/apps needs the developer role`)
	problemOf(t, e.do(request{method: "POST", path: webPath + "/deploys", token: ana}), 403)
	problemOf(t, e.do(request{method: "GET", path: "/v1/tenants/acme/audit", token: ana}), 403)

	e.member("ana", "acme", "developer")
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/acme/apps", token: ana, body: `{"name":"blog"}`})
	e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys", token: ana})
	require.Equal(t, "ana", e.wf.lastStart().RequestedBy, "the operation records who asked")
	problemOf(t, e.do(request{method: "PUT", path: "/v1/tenants/acme/members/ana", token: ana, body: `{"role":"admin"}`}), 403)
	problemOf(t, e.do(request{method: "DELETE", path: "/v1/tenants/acme", token: ana}), 403)

	e.member("ana", "acme", "admin")
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/users", body: `{"name":"bo"}`})
	e.ok(http.StatusCreated, request{method: "PUT", path: "/v1/tenants/acme/members/bo", token: ana, body: `{"role":"viewer"}`})
	members := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/members", token: ana}))
	require.Len(t, members["items"], 2)
	p = problemOf(t, e.do(request{method: "PUT", path: "/v1/tenants/acme/members/bo", token: ana, body: `{"role":"owner"}`}), 422)
	require.Equal(t, "role", p.Errors[0].Field)
	e.ok(http.StatusNoContent, request{method: "DELETE", path: "/v1/tenants/acme/members/bo", token: ana})
	problemOf(t, e.do(request{method: "DELETE", path: "/v1/tenants/acme/members/bo", token: ana}), 404)
	problemOf(t, e.do(request{method: "DELETE", path: "/v1/tenants/acme", token: ana}), 403) // platform admins only
	problemOf(t, e.do(request{method: "POST", path: "/v1/users", token: ana, body: `{"name":"cy"}`}), 403)
}

func TestTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/users", body: `{"name":"ana"}`})
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/users", body: `{"name":"bo"}`})
	ana := e.token("ana")

	// a user makes, lists and revokes its own tokens, and never sees another user
	rec := e.ok(http.StatusCreated, request{method: "POST", path: "/v1/users/ana/tokens", token: ana, body: `{"name":"ci","expiresInDays":7}`})
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	created := jsonOf(t, rec)
	ci := created["token"].(string)
	exp, err := time.Parse(time.RFC3339, created["expiresAt"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(7*24*time.Hour), exp, time.Minute)
	listed := e.ok(http.StatusOK, request{method: "GET", path: "/v1/users/ana/tokens", token: ana}).Body.String()
	require.Contains(t, listed, `"name":"ci"`)
	require.NotContains(t, listed, ci, "a token's secret is shown once")
	require.NotContains(t, listed, `"token"`)
	problemOf(t, e.do(request{method: "GET", path: "/v1/users/bo/tokens", token: ana}), 404)
	problemOf(t, e.do(request{method: "POST", path: "/v1/users/bo/tokens", token: ana, body: `{"name":"x"}`}), 404)
	problemOf(t, e.do(request{method: "POST", path: "/v1/users/ana/tokens", token: ana, body: `{"name":"ci"}`}), 409)
	p := problemOf(t, e.do(request{method: "POST", path: "/v1/users/ana/tokens", token: ana, body: `{"name":"Bad Name","expiresInDays":9999}`}), 422)
	require.ElementsMatch(t, []string{"name", "expiresInDays"}, fields(p))

	// the database keeps the digest only
	digest := sha256.Sum256([]byte(ci))
	tok, u, err := e.st.TokenByDigest(t.Context(), hex.EncodeToString(digest[:]))
	require.NoError(t, err)
	require.Equal(t, "ana", u.Name)
	e.ok(http.StatusOK, request{method: "GET", path: "/v1/me", token: ci})
	e.ok(http.StatusNoContent, request{method: "DELETE", path: "/v1/users/ana/tokens/" + tok.ID, token: ana})
	p = problemOf(t, e.do(request{method: "GET", path: "/v1/me", token: ci}), 401)
	require.Contains(t, p.Detail, `token "ci" of user "ana" was revoked`)

	// an expired token is refused, saying so
	expired := "rft_expired-0123456789abcdef"
	d := sha256.Sum256([]byte(expired))
	past := time.Now().Add(-time.Minute)
	anaUser, err := e.st.GetUser(t.Context(), "ana")
	require.NoError(t, err)
	_, err = e.st.CreateToken(t.Context(), store.Token{UserID: anaUser.ID, Name: "old", Digest: hex.EncodeToString(d[:]), ExpiresAt: &past})
	require.NoError(t, err)
	p = problemOf(t, e.do(request{method: "GET", path: "/v1/me", token: expired}), 401)
	require.Contains(t, p.Detail, `token "old" of user "ana" expired at`)

	// deleting the user ends its tokens
	e.ok(http.StatusNoContent, request{method: "DELETE", path: "/v1/users/ana"})
	problemOf(t, e.do(request{method: "GET", path: "/v1/me", token: ana}), 401)
}

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	e.member("ana", "acme", "developer")
	ana := e.token("ana")
	e.ok(http.StatusOK, request{method: "GET", path: webPath, token: ana})
	op := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys", token: ana}))["operationId"]
	problemOf(t, e.do(request{method: "POST", path: "/v1/tenants/acme/apps", token: ana, body: `{"name":"Bad"}`}), 422)

	trail := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/audit?principal=ana"}))
	items := trail["items"].([]any)
	require.Len(t, items, 2, "reads are not audited; refused changes are")
	refused, deploy := items[0].(map[string]any), items[1].(map[string]any)
	require.Equal(t, "POST /v1/tenants/{tenant}/apps", refused["action"])
	require.EqualValues(t, 422, refused["status"])
	require.Equal(t, "POST /v1/tenants/{tenant}/apps/{app}/components/{component}/deploys", deploy["action"])
	require.Equal(t, op, deploy["operationId"])
	require.Equal(t, "acme", deploy["tenant"])
	require.EqualValues(t, 202, deploy["status"])
	require.NotEmpty(t, deploy["requestId"])

	all := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/audit?tenant=acme&since=" + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}))
	require.GreaterOrEqual(t, len(all["items"].([]any)), 5, "the seed's changes too")
	p := problemOf(t, e.do(request{method: "GET", path: "/v1/audit?since=yesterday"}), 400)
	require.Equal(t, "since", p.Errors[0].Field)
	problemOf(t, e.do(request{method: "GET", path: "/v1/audit", token: ana}), 403)
}

// TestTenantIsolation calls every route of the API's OpenAPI document with the token of a developer of another tenant,
// aimed at tenant acme's things and user ana: every answer must be 403 or 404, or, for the few routes
// that are not about acme or ana (the caller's own user, its tenant list), carry nothing of theirs.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	e.member("ana", "acme", "admin")
	// acme's things every route may aim at: a certificate, a route, secret env, an operation
	cert := newCert(t, certOpts{hosts: []string{"www.acme.example"}})
	e.ok(http.StatusCreated, request{method: "POST", path: certsPath, body: certBody(t, "www-cert", cert)})
	e.ok(http.StatusCreated, request{method: "POST", path: routesPath, body: `{"name":"www","host":"www.acme.example","portName":"http","certificate":"www-cert"}`})
	e.ok(http.StatusOK, request{method: "PUT", path: webPath + "/secret-env", body: `{"env":{"ACME_DB_PASSWORD":"acme-secret-value"}}`})
	e.ok(http.StatusCreated, request{method: "PUT", path: "/v1/tenants/acme/credentials/acme-git", body: `{"type":"git-token","token":"acme-git-token"}`})
	e.release(t, "rel-acme-1", contract.ComponentSpec{Image: "127.0.0.1:5056/web:v1", Replicas: 1})
	deploy := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys"}))
	opID := deploy["operationId"].(string)
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants", body: `{"name":"globex"}`})
	e.member("mallory", "globex", "admin")
	mallory := e.token("mallory")
	anaUser, err := e.st.GetUser(t.Context(), "ana")
	require.NoError(t, err)
	tokens, err := e.st.ListTokens(t.Context(), anaUser.ID)
	require.NoError(t, err)
	anaToken := "none"
	if len(tokens) > 0 {
		anaToken = tokens[0].ID
	}

	params := map[string]string{
		"tenant": "acme", "app": "shop", "component": "web", "operation": opID, "user": "ana", "token": anaToken,
		"route": "www", "certificate": "www-cert", "release": "rel-acme-1", "credential": "acme-git",
	}
	secrets := []string{"acme", "shop", opID, "ana", "www", "ACME_DB_PASSWORD", "acme-secret-value", "rel-acme-1", "acme-git-token"}
	routes := e.routes(t)
	require.NotEmpty(t, routes)
	for _, rt := range routes {
		path := rt.pattern
		for k, v := range params {
			path = strings.ReplaceAll(path, "{"+k+"}", v)
		}
		require.NotContains(t, path, "{", "route %s has a parameter the test does not fill", rt.pattern)
		t.Run(rt.method+" "+rt.pattern, func(t *testing.T) {
			body := ""
			if rt.method != http.MethodGet && rt.method != http.MethodDelete {
				body = `{}`
			}
			rec := e.do(request{method: rt.method, path: path, token: mallory, body: body})
			if rec.Code == http.StatusForbidden || rec.Code == http.StatusNotFound {
				return
			}
			require.False(t, strings.Contains(rt.pattern, "{tenant}") || strings.Contains(rt.pattern, "{user}"),
				"%s %s answered %d to another tenant's developer: %s", rt.method, path, rec.Code, rec.Body.String())
			for _, s := range secrets {
				require.NotContains(t, rec.Body.String(), s, "%s %s answered %d with %q: %s", rt.method, path, rec.Code, s, rec.Body.String())
			}
		})
	}
	// and nothing changed: acme's component still reads the same, its operation still exists
	e.ok(http.StatusOK, request{method: "GET", path: webPath})
	e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/operations/" + opID})
	e.ok(http.StatusOK, request{method: "GET", path: "/v1/users/ana"})
	e.ok(http.StatusOK, request{method: "GET", path: webPath + "/releases/rel-acme-1"})
	e.ok(http.StatusOK, request{method: "GET", path: routesPath + "/www"})
	e.ok(http.StatusOK, request{method: "GET", path: certsPath + "/www-cert"})
	e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/credentials/acme-git"})
	require.Contains(t, e.ok(http.StatusOK, request{method: "GET", path: webPath + "/secret-env"}).Body.String(), "ACME_DB_PASSWORD")

	// nor can another tenant route any path of acme's host to itself
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/globex/apps", token: mallory, body: `{"name":"evil"}`})
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/globex/apps/evil/components", token: mallory,
		body: componentBody("web", webImage)})
	p := problemOf(t, e.do(request{method: "POST", path: "/v1/tenants/globex/apps/evil/components/web/routes", token: mallory,
		body: `{"name":"grab","host":"www.acme.example","path":"/login","portName":"http"}`}), 409)
	require.Contains(t, p.Detail, "a route of another tenant holds")
	require.NotContains(t, p.Detail, "shop", "nor is acme's route named")
}

type route struct{ method, pattern string }

// routes answers every operation of the API's OpenAPI document (which TestOpenAPIMatchesRoutes keeps
// equal to what the router serves) under /v1, but the document itself.
func (e *env) routes(t *testing.T) []route {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(e.ok(http.StatusOK, request{method: "GET", path: "/v1/openapi.json"}).Body.Bytes(), &doc))
	var out []route
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/v1/") || path == "/v1/openapi.json" {
			continue
		}
		for method := range ops {
			switch m := strings.ToUpper(method); m {
			case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
				out = append(out, route{method: m, pattern: path})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pattern+out[i].method < out[j].pattern+out[j].method })
	return out
}

// TestTokenCacheAcrossProcesses: a token revoked through one API process is refused by another once
// that one's token cache expires (at once without a cache), and by the first at once.
func TestTokenCacheAcrossProcesses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	e.member("ana", "acme", "viewer")
	ana := e.token("ana")
	other := func(ttl time.Duration) http.Handler {
		return api.New(api.Config{AdminToken: adminToken, TokenCacheTTL: ttl}, e.st, newFakeWorkflows(), e.images, nil).Handler()
	}
	cached, uncached := other(time.Hour), other(-1)
	get := func(h http.Handler) int {
		r := httptest.NewRequestWithContext(t.Context(), "GET", "/v1/me", nil)
		r.Header.Set("Authorization", "Bearer "+ana)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	require.Equal(t, http.StatusOK, get(cached))
	require.Equal(t, http.StatusOK, get(uncached))

	tokens := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: "/v1/users/ana/tokens"}))["items"].([]any)
	e.ok(http.StatusNoContent, request{method: "DELETE", path: "/v1/users/ana/tokens/" + tokens[0].(map[string]any)["id"].(string)})
	problemOf(t, e.do(request{method: "GET", path: "/v1/me", token: ana}), 401)
	require.Equal(t, http.StatusUnauthorized, get(uncached), "without a cache the revocation counts at once")
	require.Equal(t, http.StatusOK, get(cached), "another process trusts its cache until the TTL")
}

func TestPatchUserAndGetRelease(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	e.member("ana", "acme", "viewer")
	ana := e.token("ana")
	problemOf(t, e.do(request{method: "GET", path: "/v1/users", token: ana}), 403)
	problemOf(t, e.do(request{method: "PATCH", path: "/v1/users/ana", token: ana, body: `{"admin":true}`}), 403)
	u := jsonOf(t, e.ok(http.StatusOK, request{method: "PATCH", path: "/v1/users/ana", body: `{"admin":true,"displayName":"Ana B."}`}))
	require.Equal(t, true, u["admin"])
	require.Equal(t, "Ana B.", u["displayName"])
	e.ok(http.StatusOK, request{method: "GET", path: "/v1/users", token: ana}) // a platform admin at once
	problemOf(t, e.do(request{method: "PATCH", path: "/v1/users/nobody", body: `{"admin":true}`}), 404)
	problemOf(t, e.do(request{method: "PATCH", path: "/v1/users/ana", body: `{"name":"bob"}`}), 400)

	e.release(t, "rel-1", contract.ComponentSpec{Image: "127.0.0.1:5056/web:v1", Replicas: 1})
	rel := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: webPath + "/releases/rel-1"}))
	require.Equal(t, "127.0.0.1:5056/web@sha256:1111", rel["imageDigest"])
	problemOf(t, e.do(request{method: "GET", path: webPath + "/releases/nope"}), 404)
}
