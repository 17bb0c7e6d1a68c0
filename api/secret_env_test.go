package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/api"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/seal"
	"github.com/rainflow/rainflow/store"
)

// secretValue is a secret env value no answer, log line or workflow input may hold.
const secretValue = "hunter2-plaintext-value"

func testKeyring(t *testing.T) *seal.Keyring {
	t.Helper()
	key, err := seal.NewKey("test")
	require.NoError(t, err)
	k, err := seal.NewKeyring(key)
	require.NoError(t, err)
	return k
}

type secretEnvAnswer struct {
	Component string   `json:"component"`
	Names     []string `json:"names"`
	Version   int64    `json:"version"`
	UpdatedAt string   `json:"updatedAt"`
	UpdatedBy string   `json:"updatedBy"`
	Changed   *bool    `json:"changed"`
	AppliedBy string   `json:"appliedBy"`
}

const secretEnvPath = webPath + "/secret-env"

// secretEnv calls the secret env route and decodes its answer, requiring the status and that the
// answer holds no secret value.
func (e *env) secretEnv(status int, req request) secretEnvAnswer {
	e.t.Helper()
	if req.path == "" {
		req.path = secretEnvPath
	}
	rec := e.ok(status, req)
	require.NotContains(e.t, rec.Body.String(), secretValue, "an answer holds a secret value")
	var out secretEnvAnswer
	require.NoError(e.t, json.Unmarshal(rec.Body.Bytes(), &out))
	return out
}

// opened answers the values of a secret env version of component web, read from the store.
func (e *env) opened(version int64) map[string]string {
	e.t.Helper()
	ctx := context.Background()
	tn, err := e.st.GetTenant(ctx, "acme")
	require.NoError(e.t, err)
	a, err := e.st.GetApp(ctx, tn.ID, "shop")
	require.NoError(e.t, err)
	c, err := e.st.GetComponent(ctx, a.ID, "web")
	require.NoError(e.t, err)
	values, err := e.st.OpenSecretEnv(ctx, c.ID, version)
	require.NoError(e.t, err)
	return values
}

func TestSecretEnv(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()

	none := e.secretEnv(http.StatusOK, request{method: "GET"})
	require.Equal(t, secretEnvAnswer{Component: "web", Names: []string{}}, none)

	put := e.secretEnv(http.StatusOK, request{method: "PUT", body: `{"env": {"DB_PASSWORD": "` + secretValue + `", "API_KEY": "k1"}}`})
	require.Equal(t, int64(1), put.Version)
	require.Equal(t, []string{"API_KEY", "DB_PASSWORD"}, put.Names)
	require.True(t, *put.Changed)
	require.Equal(t, "next deploy", put.AppliedBy, "a change takes effect with the next deploy")
	require.Equal(t, "admin", put.UpdatedBy)
	require.Equal(t, map[string]string{"DB_PASSWORD": secretValue, "API_KEY": "k1"}, e.opened(1))

	rec := e.ok(http.StatusOK, request{method: "GET", path: secretEnvPath})
	require.Equal(t, `"1"`, rec.Header().Get("ETag"))
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	got := e.secretEnv(http.StatusOK, request{method: "GET"})
	require.Equal(t, put.Names, got.Names)
	require.NotEmpty(t, got.UpdatedAt)
	require.Nil(t, got.Changed)

	comp := e.ok(http.StatusOK, request{method: "GET", path: webPath})
	require.NotContains(t, comp.Body.String(), secretValue)
	view := jsonOf(t, comp)
	require.Equal(t, map[string]any{"names": []any{"API_KEY", "DB_PASSWORD"}, "version": float64(1)}, view["secretEnv"],
		"the component shows its secret env's names, never values")
	require.Equal(t, secretEnvPath, view["links"].(map[string]any)["secretEnv"])

	patched := e.secretEnv(http.StatusOK, request{method: "PATCH", body: `{"set": {"NEW": "n1"}, "remove": ["API_KEY", "NOT_THERE"]}`})
	require.Equal(t, int64(2), patched.Version)
	require.Equal(t, []string{"DB_PASSWORD", "NEW"}, patched.Names)
	require.Equal(t, map[string]string{"DB_PASSWORD": secretValue, "NEW": "n1"}, e.opened(2))
	require.Equal(t, map[string]string{"DB_PASSWORD": secretValue, "API_KEY": "k1"}, e.opened(1), "versions are immutable")

	same := e.secretEnv(http.StatusOK, request{method: "PATCH", body: `{"set": {"NEW": "n1"}}`})
	require.False(t, *same.Changed, "a change that changes nothing makes no version")
	require.Equal(t, int64(2), same.Version)

	p := problemOf(t, e.do(request{method: "PUT", path: secretEnvPath, body: `{"env": {}}`, header: map[string]string{"If-Match": `"1"`}}),
		http.StatusPreconditionFailed)
	require.Contains(t, p.Detail, `its ETag "2"`)
	cleared := e.secretEnv(http.StatusOK, request{method: "PUT", body: `{"env": {}}`, header: map[string]string{"If-Match": `"2"`}})
	require.Equal(t, int64(3), cleared.Version)
	require.Empty(t, cleared.Names)

	require.NotContains(t, e.logs.String(), secretValue, "no log line holds a secret value")
}

func TestSecretEnvProblems(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", contract.MaxSecretEnvValueBytes+1)
	many := map[string]string{}
	for i := range contract.MaxSecretEnvVars + 1 {
		many[fmt.Sprintf("V%d", i)] = "1"
	}
	manyJSON, _ := json.Marshal(map[string]any{"env": many})
	big := map[string]string{}
	for i := range 9 {
		big[fmt.Sprintf("V%d", i)] = strings.Repeat("y", contract.MaxSecretEnvValueBytes)
	}
	bigJSON, _ := json.Marshal(map[string]any{"env": big})
	tests := []struct {
		name       string
		method     string
		body       string
		status     int
		wantFields []string
		wantDetail string
	}{
		{name: "no env", method: "PUT", body: `{}`, status: 422, wantFields: []string{"env"}},
		{name: "unknown field", method: "PUT", body: `{"env": {}, "values": {}}`, status: 400, wantFields: []string{"values"}},
		{name: "a value that is no string", method: "PUT", body: `{"env": {"A": 1}}`, status: 400},
		{name: "names that are no C identifiers", method: "PUT", status: 422,
			body:       `{"env": {"1ST": "` + secretValue + `", "A-B": "x", "A.B": "x", "": "x"}}`,
			wantFields: []string{`env[""]`, `env["1ST"]`, `env["A-B"]`, `env["A.B"]`}},
		{name: "a name the spec's env has", method: "PUT", body: `{"env": {"MODE": "` + secretValue + `"}}`, status: 422,
			wantFields: []string{`env["MODE"]`}, wantDetail: "spec.env[0]"},
		{name: "a name a dependency's env has", method: "PUT", status: 422,
			body:       `{"env": {"ORDER_DB_HOST": "x", "ORDER_DB_PORT": "x", "ORDER_DB_PORT_PG": "x", "ORDER_DBX": "` + secretValue + `"}}`,
			wantFields: []string{`env["ORDER_DB_HOST"]`, `env["ORDER_DB_PORT"]`, `env["ORDER_DB_PORT_PG"]`}, wantDetail: `dependency "order-db"`},
		{name: "a value too long", method: "PUT", body: `{"env": {"BIG": "` + long + `"}}`, status: 422, wantFields: []string{`env["BIG"]`}},
		{name: "too many variables", method: "PUT", body: string(manyJSON), status: 422, wantFields: []string{"env"}},
		{name: "too large together", method: "PUT", body: string(bigJSON), status: 422, wantFields: []string{"env"}},
		{name: "patch without change", method: "PATCH", body: `{}`, status: 422, wantFields: []string{"set"}},
		{name: "patch sets and removes a name", method: "PATCH", body: `{"set": {"A": "1"}, "remove": ["A", ""]}`, status: 422,
			wantFields: []string{"remove[0]", "remove[1]"}},
		{name: "patch with a bad name", method: "PATCH", body: `{"set": {"a b": "` + secretValue + `"}}`, status: 422,
			wantFields: []string{`set["a b"]`}},
		{name: "patch past the bound", method: "PATCH", body: strings.Replace(string(manyJSON), `"env"`, `"set"`, 1), status: 422,
			wantFields: []string{"set"}},
		{name: "an unknown component", method: "PUT", body: `{"env": {}}`, status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.seed()
			e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/acme/apps/shop/components", body: fmt.Sprintf(
				`{"name":"api","spec":{"image":%q,"replicas":1,"env":[{"name":"MODE","value":"prod"}],"dependsOn":["order-db"]}}`, webImage)})
			path := "/v1/tenants/acme/apps/shop/components/api/secret-env"
			if tt.status == 404 {
				path = "/v1/tenants/acme/apps/shop/components/nope/secret-env"
			}
			rec := e.do(request{method: tt.method, path: path, body: tt.body})
			p := problemOf(t, rec, tt.status)
			require.NotContains(t, rec.Body.String(), secretValue, "a problem holds a secret value")
			for _, f := range tt.wantFields {
				require.Contains(t, fields(p), f)
			}
			if tt.wantDetail != "" {
				said := p.Detail
				for _, fe := range p.Errors {
					said += "\n" + fe.Reason
				}
				require.Contains(t, said, tt.wantDetail)
			}
			got := e.secretEnv(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/apps/shop/components/api/secret-env"})
			require.Equal(t, int64(0), got.Version, "a refused change stores nothing")
		})
	}
}

// A deploy runs the latest secret env version, as a number; a spec that came to clash with the
// secret env is refused.
func TestDeploySecretEnv(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	e.secretEnv(http.StatusOK, request{method: "PUT", body: `{"env": {"TOKEN": "` + secretValue + `"}}`})
	e.secretEnv(http.StatusOK, request{method: "PATCH", body: `{"set": {"TOKEN": "` + secretValue + `-2"}}`})
	e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys"})
	in := e.wf.lastStart().Input.(contract.DeployInput)
	require.Equal(t, int64(2), in.SecretEnvVersion)
	raw, err := json.Marshal(e.wf.lastStart())
	require.NoError(t, err)
	require.NotContains(t, string(raw), secretValue, "the workflow input holds no secret value")

	e.ok(http.StatusAccepted, request{method: "POST", path: "/v1/tenants/acme/apps/shop/deploys"})
	app := e.wf.apps[len(e.wf.apps)-1]
	require.Contains(t, string(app.Components[0].Input), `"secretEnvVersion":2`, "an app deploy runs it too")

	rec := e.ok(http.StatusOK, request{method: "GET", path: webPath})
	spec := `{"spec":{"image":"` + webImage + `","replicas":1,"env":[{"name":"TOKEN","value":"plain"}]}}`
	e.ok(http.StatusOK, request{method: "PUT", path: webPath, body: spec, header: map[string]string{"If-Match": rec.Header().Get("ETag")}})
	p := problemOf(t, e.do(request{method: "POST", path: webPath + "/deploys"}), http.StatusUnprocessableEntity)
	require.Equal(t, []string{`secretEnv["TOKEN"]`}, fields(p))
	require.Contains(t, p.Detail, "secret env")
}

// A rollback runs the release's secret env version and makes its values the component's latest.
func TestRollbackSecretEnv(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	e.images.mu.Lock()
	e.images.images["127.0.0.1:5056/web@sha256:1111"] = "sha256:1111"
	e.images.mu.Unlock()
	e.secretEnv(http.StatusOK, request{method: "PUT", body: `{"env": {"TOKEN": "` + secretValue + `"}}`})
	ctx := context.Background()
	tn, _ := e.st.GetTenant(ctx, "acme")
	a, _ := e.st.GetApp(ctx, tn.ID, "shop")
	c, _ := e.st.GetComponent(ctx, a.ID, "web")
	op, err := e.st.CreateOperation(ctx, store.Operation{ID: "rel-1", TenantID: tn.ID, ComponentID: c.ID, Kind: contract.OperationDeploy, WorkflowID: "w"})
	require.NoError(t, err)
	_, err = e.st.RecordRelease(ctx, store.Release{ID: "rel-1", ComponentID: c.ID, OperationID: op.ID,
		ImageDigest: "127.0.0.1:5056/web@sha256:1111", Spec: c.Spec, SecretEnvVersion: 1})
	require.NoError(t, err)
	e.secretEnv(http.StatusOK, request{method: "PUT", body: `{"env": {"TOKEN": "new", "MORE": "m"}}`})

	e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/rollbacks", body: `{"releaseId": "rel-1"}`})
	in := e.wf.lastStart().Input.(contract.RollbackInput)
	require.Equal(t, int64(1), in.Deploy.SecretEnvVersion, "the rollback runs the release's secret env")
	got := e.secretEnv(http.StatusOK, request{method: "GET"})
	require.Equal(t, int64(3), got.Version, "the release's values are the latest again, so the next deploy keeps them")
	require.Equal(t, []string{"TOKEN"}, got.Names)
	require.Equal(t, map[string]string{"TOKEN": secretValue}, e.opened(3))
}

// Without an encryption key the server still names the variables, and says plainly why it cannot
// change them.
func TestSecretEnvWithoutKeyring(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.Context(), testStoreConfig(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	e := &env{t: t, st: st, wf: newFakeWorkflows(), images: &fakeImages{images: map[string]string{webImage: "sha256:1"}}, logs: &syncBuffer{}}
	e.h = api.New(api.Config{AdminToken: adminToken}, st, e.wf, e.images, nil).Handler()
	e.seed()
	require.Equal(t, int64(0), e.secretEnv(http.StatusOK, request{method: "GET"}).Version)
	for _, req := range []request{
		{method: "PUT", path: secretEnvPath, body: `{"env": {"A": "1"}}`},
		{method: "PATCH", path: secretEnvPath, body: `{"set": {"A": "1"}}`},
	} {
		p := problemOf(t, e.do(req), http.StatusServiceUnavailable)
		require.Equal(t, "urn:rainflow:problem:no-encryption-key", p.Type)
		require.Contains(t, p.Detail, "no encryption key configured")
	}
	e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys"})
	require.Equal(t, int64(0), e.wf.lastStart().Input.(contract.DeployInput).SecretEnvVersion)
}
