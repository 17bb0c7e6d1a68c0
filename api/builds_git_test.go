package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
)

func TestBuildFromGit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name         string
		body         string
		wantSource   contract.BuildSource
		wantSettings contract.BuildSettings
		wantDeploy   bool
	}{
		{name: "branch with settings",
			body:         `{"source":{"git":{"url":"https://git.example.com/team/web.git","ref":"main"}},"settings":{"dir":"services/web","builder":"ko"}}`,
			wantSource:   contract.BuildSource{Kind: contract.SourceGit, GitURL: "https://git.example.com/team/web.git", GitRef: "main"},
			wantSettings: contract.BuildSettings{Dir: "services/web", Builder: contract.BuilderKo}},
		{name: "default branch over ssh",
			body:       `{"source":{"git":{"url":"git@git.example.com:team/web.git"}}}`,
			wantSource: contract.BuildSource{Kind: contract.SourceGit, GitURL: "git@git.example.com:team/web.git"}},
		{name: "commit, and deploy",
			body: `{"source":{"git":{"url":"ssh://git@git.example.com:2222/team/web.git","ref":"0123456789abcdef0123456789abcdef01234567"}},"deploy":{}}`,
			wantSource: contract.BuildSource{Kind: contract.SourceGit, GitURL: "ssh://git@git.example.com:2222/team/web.git",
				GitRef: "0123456789abcdef0123456789abcdef01234567"},
			wantDeploy: true},
		{name: "a tag and build arguments",
			body:         `{"source":{"git":{"url":"https://git.example.com/team/web","ref":"v1.2.0"}},"settings":{"buildArgs":{"GO_VERSION":"1.25"}}}`,
			wantSource:   contract.BuildSource{Kind: contract.SourceGit, GitURL: "https://git.example.com/team/web", GitRef: "v1.2.0"},
			wantSettings: contract.BuildSettings{BuildArgs: map[string]string{"GO_VERSION": "1.25"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, _ := newBuildEnv(t, "registry.example:5000")
			rec := e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/builds", body: tt.body})
			opID := jsonOf(t, rec)["operationId"].(string)
			require.Len(t, e.wf.builds, 1)
			in := e.wf.builds[0]
			require.Equal(t, opID, in.OperationID)
			require.Equal(t, tt.wantSource, in.Source)
			require.Equal(t, tt.wantSettings, in.Settings)
			require.Equal(t, tt.wantDeploy, in.Deploy != nil)
			require.Equal(t, "registry.example:5000/acme/shop/web", in.Repository)
		})
	}
}

func TestBuildFromGitProblems(t *testing.T) {
	t.Parallel()
	e, _ := newBuildEnv(t, "registry.example:5000")
	post := func(body string) func() *httptest.ResponseRecorder {
		return func() *httptest.ResponseRecorder {
			return e.do(request{method: "POST", path: webPath + "/builds", body: body})
		}
	}
	for _, tt := range []struct {
		name   string
		rec    func() *httptest.ResponseRecorder
		status int
		fields []string
	}{
		{"both image and git", post(`{"source":{"image":"a.example/b:1","git":{"url":"https://git.example.com/a/b"}}}`),
			http.StatusUnprocessableEntity, []string{"source"}},
		{"no url", post(`{"source":{"git":{"ref":"main"}}}`), http.StatusUnprocessableEntity, []string{"source.git.url"}},
		{"plain http", post(`{"source":{"git":{"url":"http://git.example.com/a/b"}}}`), http.StatusUnprocessableEntity, []string{"source.git.url"}},
		{"password in the url", post(`{"source":{"git":{"url":"https://me:hunter2@git.example.com/a/b"}}}`),
			http.StatusUnprocessableEntity, []string{"source.git.url"}},
		{"option injection in the url", post(`{"source":{"git":{"url":"--upload-pack=touch /tmp/x"}}}`),
			http.StatusUnprocessableEntity, []string{"source.git.url"}},
		{"ext transport", post(`{"source":{"git":{"url":"ext::sh -c id"}}}`), http.StatusUnprocessableEntity, []string{"source.git.url"}},
		{"bad ref", post(`{"source":{"git":{"url":"https://git.example.com/a/b","ref":"main..x"}}}`),
			http.StatusUnprocessableEntity, []string{"source.git.ref"}},
		{"option-like ref", post(`{"source":{"git":{"url":"https://git.example.com/a/b","ref":"--orphan"}}}`),
			http.StatusUnprocessableEntity, []string{"source.git.ref"}},
		{"bad settings", post(`{"source":{"git":{"url":"https://git.example.com/a/b"}},"settings":{"dir":"../x","builder":"magic"}}`),
			http.StatusUnprocessableEntity, []string{"settings.dir", "settings.builder"}},
		{"unknown git field", post(`{"source":{"git":{"url":"https://git.example.com/a/b","token":"x"}}}`), http.StatusBadRequest, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := tt.rec()
			p := problemOf(t, rec, tt.status)
			if tt.fields != nil {
				require.ElementsMatch(t, tt.fields, fields(p))
			}
			require.NotContains(t, rec.Body.String(), "hunter2", "a password in a URL is never echoed")
		})
	}
	require.Empty(t, e.wf.builds, "no refused request started a build")
}
