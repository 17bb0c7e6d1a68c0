package tests

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
)

// commitFiles writes files into the repository at dir and commits them on its current branch.
func commitFiles(t testing.TB, repo *git.Repository, dir string, files map[string]string, msg string) string {
	t.Helper()
	wt, err := repo.Worktree()
	require.NoError(t, err)
	for name, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
		_, err := wt.Add(name)
		require.NoError(t, err)
	}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: &object.Signature{Name: "test", Email: "test@example.com", When: time.Now()}})
	require.NoError(t, err)
	return h.String()
}

// newGitRepo makes an empty git repository on branch main in a temp folder: the repository and its folder.
func newGitRepo(t testing.TB) (*git.Repository, string) {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")}})
	require.NoError(t, err)
	return repo, dir
}

// gitBuildRequest is the JSON body of a build of the repository in dir at ref; deploy asks to deploy it.
func gitBuildRequest(dir, ref string, settings contract.BuildSettings, deploy bool) map[string]any {
	req := map[string]any{"source": map[string]any{"git": map[string]any{"url": "file://" + dir, "ref": ref}}, "settings": settings}
	if deploy {
		req["deploy"] = map[string]any{}
	}
	return req
}

// builtVersion is a version of a component as GET .../versions answers it.
type builtVersion struct {
	ID          string `json:"id"`
	ImageDigest string `json:"imageDigest"`
	SourceKind  string `json:"sourceKind"`
	Revision    string `json:"revision"`
	Builder     string `json:"builder"`
	Language    string `json:"language"`
	SizeBytes   int64  `json:"sizeBytes"`
}

// latestVersion answers the component's newest version.
func latestVersion(t *testing.T, api *apiClient, path string) builtVersion {
	t.Helper()
	var versions struct {
		Items []builtVersion `json:"items"`
	}
	api.must(t, http.StatusOK, "GET", path+"/versions", nil, &versions)
	require.NotEmpty(t, versions.Items)
	return versions.Items[0]
}

// reusedBuild says the build operation returned the version an equal build made, building nothing.
func reusedBuild(op operation) bool {
	for _, s := range op.Steps {
		if s.Name == "build" && strings.Contains(s.Detail, "an equal build") {
			return true
		}
	}
	return false
}

// TestBuildGit builds a Go program from a branch of a local git repository through the API (the
// test stack lets the worker read file:// repositories): the version records the branch's commit as
// its revision; the same branch at the same commit returns that version without building; a new
// commit on the branch builds a new version.
func TestBuildGit(t *testing.T) {
	api := newAPIClient(stack.APIURL, stack.APIToken)
	tenant := uniqueName("gitbuild")
	api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": tenant}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps", map[string]any{"name": "shop"}, nil)
	comps := "/v1/tenants/" + tenant + "/apps/shop/components"
	api.must(t, http.StatusCreated, "POST", comps, map[string]any{"name": "api", "spec": webSpec(stack.RegistryAddr + "/rainflow/hello:1")}, nil)
	path := comps + "/api"

	repo, dir := newGitRepo(t)
	first := commitFiles(t, repo, dir, goServer("first"), "first")
	request := gitBuildRequest(dir, "main", contract.BuildSettings{}, false)

	build := func(want string) (builtVersion, operation) {
		t.Helper()
		var acc accepted
		api.must(t, http.StatusAccepted, "POST", path+"/builds", request, &acc)
		op := waitOperation(t, api, tenant, acc.OperationID, 6*time.Minute)
		require.Equal(t, "succeeded", op.State, "build: %s %+v", op.Error, op.Steps)
		v := latestVersion(t, api, path)
		require.Equal(t, want, v.Revision, "the version records the commit: %+v", v)
		require.Equal(t, "git", v.SourceKind, "%+v", v)
		require.Equal(t, "ko", v.Builder, "%+v", v)
		return v, op
	}

	v1, _ := build(first)

	// the same branch at the same commit: the same version, nothing built
	again, op := build(first)
	require.Equal(t, v1.ID, again.ID)
	require.Equal(t, v1.ImageDigest, again.ImageDigest)
	require.True(t, reusedBuild(op), "the second build built again: %+v", op.Steps)

	// a new commit on the branch: a new version of it
	second := commitFiles(t, repo, dir, goServer("second"), "second")
	v2, _ := build(second)
	require.NotEqual(t, v1.ID, v2.ID)
	require.NotEqual(t, v1.ImageDigest, v2.ImageDigest)

	// a ref the repository lacks fails with a reason saying so
	var acc accepted
	api.must(t, http.StatusAccepted, "POST", path+"/builds",
		map[string]any{"source": map[string]any{"git": map[string]any{"url": "file://" + dir, "ref": "no-such-branch"}}}, &acc)
	failed := waitOperation(t, api, tenant, acc.OperationID, 2*time.Minute)
	require.Equal(t, "failed", failed.State)
	require.Contains(t, failed.Error, "no-such-branch")
}
