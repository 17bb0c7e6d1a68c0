package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
)

// TestBuildWithCredential: a build names a credential; the API checks it exists, fits the source
// and its host, and the build input carries its name only.
func TestBuildWithCredential(t *testing.T) {
	t.Parallel()
	e, _ := newBuildEnv(t, "registry.example:5000")
	key, _ := sshKeyPEM(t, "", "h")
	for _, put := range []struct{ name, body string }{
		{"gh", `{"type":"git-token","host":"git.example.com","token":"tok-sekrit"}`},
		{"any-token", `{"type":"git-token","token":"tok-sekrit"}`},
		{"key", jsonString(t, map[string]string{"type": "git-ssh", "host": "git.example.com", "privateKey": key})},
		{"reg", `{"type":"registry","host":"mirror.example:5000","username":"u","password":"pw-sekrit"}`},
		{"hub", `{"type":"registry","host":"docker.io","username":"u","password":"pw-sekrit"}`},
	} {
		e.ok(http.StatusCreated, request{method: "PUT", path: credsPath + "/" + put.name, body: put.body})
	}
	acme, err := e.st.GetTenant(t.Context(), "acme")
	require.NoError(t, err)

	t.Run("accepted", func(t *testing.T) {
		for _, tt := range []struct {
			name     string
			body     string
			wantCred string
		}{
			{name: "https git with a token", body: `{"source":{"git":{"url":"https://git.example.com/team/web.git","credential":"gh"}}}`, wantCred: "gh"},
			{name: "a token for any host", body: `{"source":{"git":{"url":"https://other.example/team/web.git","credential":"any-token"}}}`, wantCred: "any-token"},
			{name: "scp-style ssh with a key", body: `{"source":{"git":{"url":"git@git.example.com:team/web.git","credential":"key"}}}`, wantCred: "key"},
			{name: "ssh URL with a port", body: `{"source":{"git":{"url":"ssh://git@git.example.com:2222/team/web.git","credential":"key"}}}`, wantCred: "key"},
			{name: "image from a registry", body: `{"source":{"image":"mirror.example:5000/team/web:1.0","credential":"reg"}}`, wantCred: "reg"},
			{name: "image from Docker Hub", body: `{"source":{"image":"library/nginx:1.27","credential":"hub"}}`, wantCred: "hub"},
			{name: "no credential", body: `{"source":{"image":"mirror.example:5000/team/web:1.0"}}`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				before := len(e.wf.builds)
				e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/builds", body: tt.body})
				require.Len(t, e.wf.builds, before+1)
				in := e.wf.builds[before]
				if tt.wantCred == "" {
					require.Nil(t, in.Source.Credential)
					return
				}
				require.Equal(t, &contract.CredentialRef{TenantID: acme.ID, Name: tt.wantCred}, in.Source.Credential)
			})
		}
	})

	t.Run("refused", func(t *testing.T) {
		for _, tt := range []struct {
			name      string
			body      string
			wantField string
			wantIn    string
		}{
			{name: "unknown credential", body: `{"source":{"git":{"url":"https://git.example.com/a/b","credential":"nope"}}}`,
				wantField: "source.git.credential", wantIn: `no credential "nope"`},
			{name: "a key for https", body: `{"source":{"git":{"url":"https://git.example.com/a/b","credential":"key"}}}`,
				wantField: "source.git.credential", wantIn: "needs a git-token one"},
			{name: "a token for ssh", body: `{"source":{"git":{"url":"git@git.example.com:a/b.git","credential":"gh"}}}`,
				wantField: "source.git.credential", wantIn: "needs a git-ssh one"},
			{name: "a git credential for an image", body: `{"source":{"image":"mirror.example:5000/a/b:1","credential":"gh"}}`,
				wantField: "source.credential", wantIn: "needs a registry one"},
			{name: "another host", body: `{"source":{"git":{"url":"https://evil.example/a/b","credential":"gh"}}}`,
				wantField: "source.git.credential", wantIn: "is for host git.example.com, not evil.example"},
			{name: "another registry", body: `{"source":{"image":"evil.example/a/b:1","credential":"reg"}}`,
				wantField: "source.credential", wantIn: "not evil.example"},
			{name: "git credential given beside git", body: `{"source":{"git":{"url":"https://git.example.com/a/b"},"credential":"gh"}}`,
				wantField: "source.credential", wantIn: "source.git.credential"},
			{name: "a local repository", body: `{"source":{"git":{"url":"file:///srv/repo","credential":"gh"}}}`,
				wantField: "source.git.credential", wantIn: "local repository"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				before := len(e.wf.builds)
				rec := e.do(request{method: "POST", path: webPath + "/builds", body: tt.body})
				p := problemOf(t, rec, http.StatusUnprocessableEntity)
				require.Equal(t, []string{tt.wantField}, fields(p))
				require.Contains(t, p.Errors[0].Reason, tt.wantIn)
				require.NotContains(t, rec.Body.String(), "sekrit")
				require.Len(t, e.wf.builds, before, "no build started")
			})
		}
	})
	require.NotContains(t, e.logs.String(), "sekrit")
}
