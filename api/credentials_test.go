package api_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

const credsPath = "/v1/tenants/acme/credentials"

// sshKeyPEM answers a fresh ed25519 private key in OpenSSH PEM form, encrypted when passphrase is set,
// and its known_hosts line for host.
func sshKeyPEM(t *testing.T, passphrase, host string) (key, knownHosts string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "test")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(passphrase))
	}
	require.NoError(t, err)
	sshPub, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(block)), host + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// TestCredentials: create, replace, list, read and delete credentials; no answer, log line or audit
// event holds a secret.
func TestCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	const token, password, passphrase = "ghp_tok-5ecret-a1", "reg-pa55-b2", "phrase-c3"
	key, known := sshKeyPEM(t, passphrase, "git.example.com")

	rec := e.ok(http.StatusCreated, request{method: "PUT", path: credsPath + "/github",
		body: `{"type":"git-token","host":"github.com","token":"` + token + `"}`})
	require.Equal(t, credsPath+"/github", rec.Header().Get("Location"))
	v := jsonOf(t, rec)
	require.Equal(t, "git-token", v["type"])
	require.Equal(t, "github.com", v["host"])
	require.EqualValues(t, 1, v["version"])
	require.Equal(t, "admin", v["updatedBy"])

	v = jsonOf(t, e.ok(http.StatusOK, request{method: "PUT", path: credsPath + "/github",
		body: `{"type":"git-token","host":"github.com","username":"bot","token":"` + token + `-2"}`}))
	require.EqualValues(t, 2, v["version"], "a replacement is a new version")

	e.ok(http.StatusCreated, request{method: "PUT", path: credsPath + "/hub",
		body: `{"type":"registry","host":"registry.example:5000","username":"puller","password":"` + password + `"}`})
	e.ok(http.StatusCreated, request{method: "PUT", path: credsPath + "/deploy-key",
		body: jsonString(t, map[string]string{"type": "git-ssh", "privateKey": key, "passphrase": passphrase, "knownHosts": known})})

	list := e.ok(http.StatusOK, request{method: "GET", path: credsPath})
	var page struct {
		Items []map[string]any `json:"items"`
	}
	require.NoError(t, json.Unmarshal(list.Body.Bytes(), &page))
	var got []string
	for _, it := range page.Items {
		got = append(got, fmt.Sprintf("%s %s %v v%v", it["name"], it["type"], it["host"], it["version"]))
	}
	require.Equal(t, []string{"deploy-key git-ssh <nil> v1", "github git-token github.com v2", "hub registry registry.example:5000 v1"}, got)

	one := e.ok(http.StatusOK, request{method: "GET", path: credsPath + "/hub"})
	for _, body := range []string{list.Body.String(), one.Body.String()} {
		for _, secret := range []string{token, password, passphrase, "PRIVATE KEY", "puller"} {
			require.NotContains(t, body, secret, "reads answer no secret")
		}
	}

	e.ok(http.StatusNoContent, request{method: "DELETE", path: credsPath + "/hub"})
	problemOf(t, e.do(request{method: "GET", path: credsPath + "/hub"}), http.StatusNotFound)
	problemOf(t, e.do(request{method: "DELETE", path: credsPath + "/hub"}), http.StatusNotFound)

	trail := e.ok(http.StatusOK, request{method: "GET", path: "/v1/tenants/acme/audit"}).Body.String()
	require.Contains(t, trail, "PUT /v1/tenants/{tenant}/credentials/{credential}")
	require.Contains(t, trail, credsPath+"/deploy-key", "the audit trail names the credential")
	require.Contains(t, trail, "DELETE /v1/tenants/{tenant}/credentials/{credential}")
	for _, secret := range []string{token, password, passphrase, "PRIVATE KEY"} {
		require.NotContains(t, trail, secret, "the audit trail holds no secret")
		require.NotContains(t, e.logs.String(), secret, "no log line holds a secret")
	}
}

// TestCredentialProblems: each invalid request names its fields and never quotes a secret.
func TestCredentialProblems(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	key, _ := sshKeyPEM(t, "", "h")
	encrypted, _ := sshKeyPEM(t, "right-phrase", "h")
	for _, tt := range []struct {
		name       string
		cred       string
		body       string
		wantFields []string
	}{
		{name: "no type", cred: "a", body: `{"token":"t"}`, wantFields: []string{"type"}},
		{name: "unknown type", cred: "a", body: `{"type":"ftp","token":"t"}`, wantFields: []string{"type"}},
		{name: "token missing", cred: "a", body: `{"type":"git-token"}`, wantFields: []string{"token"}},
		{name: "token too long", cred: "a", body: `{"type":"git-token","token":"` + strings.Repeat("x", 4097) + `"}`, wantFields: []string{"token"}},
		{name: "token with a newline", cred: "a", body: `{"type":"git-token","token":"a\nb"}`, wantFields: []string{"token"}},
		{name: "fields another type takes", cred: "a", body: `{"type":"git-token","token":"t","password":"sekrit-pw"}`, wantFields: []string{"password"}},
		{name: "registry without user or password", cred: "a", body: `{"type":"registry"}`, wantFields: []string{"username", "password"}},
		{name: "bad name", cred: "Not_A_Label", body: `{"type":"git-token","token":"t"}`, wantFields: []string{"name"}},
		{name: "bad host", cred: "a", body: `{"type":"git-token","token":"t","host":"https://github.com/x"}`, wantFields: []string{"host"}},
		{name: "bad port", cred: "a", body: `{"type":"git-token","token":"t","host":"github.com:99999"}`, wantFields: []string{"host"}},
		{name: "key that does not parse", cred: "a", body: `{"type":"git-ssh","privateKey":"-----BEGIN OPENSSH PRIVATE KEY-----\nsekrit-key-bytes\n-----END OPENSSH PRIVATE KEY-----\n"}`,
			wantFields: []string{"privateKey"}},
		{name: "key missing", cred: "a", body: `{"type":"git-ssh"}`, wantFields: []string{"privateKey"}},
		{name: "encrypted key without passphrase", cred: "a", body: jsonString(t, map[string]string{"type": "git-ssh", "privateKey": encrypted}),
			wantFields: []string{"passphrase"}},
		{name: "wrong passphrase", cred: "a", body: jsonString(t, map[string]string{"type": "git-ssh", "privateKey": encrypted, "passphrase": "sekrit-wrong"}),
			wantFields: []string{"passphrase"}},
		{name: "bad known hosts", cred: "a", body: jsonString(t, map[string]string{"type": "git-ssh", "privateKey": key, "knownHosts": "not a host key"}),
			wantFields: []string{"knownHosts"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := e.do(request{method: "PUT", path: credsPath + "/" + tt.cred, body: tt.body})
			p := problemOf(t, rec, http.StatusUnprocessableEntity)
			require.ElementsMatch(t, tt.wantFields, fields(p))
			require.NotContains(t, rec.Body.String(), "sekrit")
		})
	}
	require.NotContains(t, e.logs.String(), "sekrit")
}

// TestCredentialRoles: viewers list credentials but cannot write them; developers write them.
func TestCredentialRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	e.ok(http.StatusCreated, request{method: "PUT", path: credsPath + "/github", body: `{"type":"git-token","token":"t"}`})
	e.member("vic", "acme", "viewer")
	e.member("dev", "acme", "developer")
	vic, dev := e.token("vic"), e.token("dev")

	e.ok(http.StatusOK, request{method: "GET", path: credsPath, token: vic})
	e.ok(http.StatusOK, request{method: "GET", path: credsPath + "/github", token: vic})
	problemOf(t, e.do(request{method: "PUT", path: credsPath + "/x", token: vic, body: `{"type":"git-token","token":"t"}`}), http.StatusForbidden)
	problemOf(t, e.do(request{method: "DELETE", path: credsPath + "/github", token: vic}), http.StatusForbidden)

	v := jsonOf(t, e.ok(http.StatusOK, request{method: "PUT", path: credsPath + "/github", token: dev, body: `{"type":"git-token","token":"t2"}`}))
	require.Equal(t, "dev", v["updatedBy"])
	e.ok(http.StatusNoContent, request{method: "DELETE", path: credsPath + "/github", token: dev})
}
