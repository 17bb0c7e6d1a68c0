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
)

// commitFiles writes files into the repository at dir and commits them on its current branch.
func commitFiles(t *testing.T, repo *git.Repository, dir string, files map[string]string, msg string) string {
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

	dir := t.TempDir()
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")}})
	require.NoError(t, err)
	first := commitFiles(t, repo, dir, goServer("first"), "first")
	request := map[string]any{"source": map[string]any{"git": map[string]any{"url": "file://" + dir, "ref": "main"}}}

	type version struct {
		ID          string `json:"id"`
		ImageDigest string `json:"imageDigest"`
		SourceKind  string `json:"sourceKind"`
		Revision    string `json:"revision"`
		Builder     string `json:"builder"`
	}
	build := func(want string) (version, operation) {
		t.Helper()
		var acc accepted
		api.must(t, http.StatusAccepted, "POST", path+"/builds", request, &acc)
		op := waitOperation(t, api, tenant, acc.OperationID, 6*time.Minute)
		require.Equal(t, "succeeded", op.State, "build: %s %+v", op.Error, op.Steps)
		var versions struct {
			Items []version `json:"items"`
		}
		api.must(t, http.StatusOK, "GET", path+"/versions", nil, &versions)
		require.NotEmpty(t, versions.Items)
		v := versions.Items[0]
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
	var reused bool
	for _, s := range op.Steps {
		reused = reused || s.Name == "build" && strings.Contains(s.Detail, "an equal build")
	}
	require.True(t, reused, "the second build built again: %+v", op.Steps)

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
