package gitsource

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/require"
)

// testRepo is a repository made in the test: commits on branches, tags, submodules.
type testRepo struct {
	t    *testing.T
	dir  string
	repo *git.Repository
}

func newTestRepo(t *testing.T) *testRepo {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")}})
	require.NoError(t, err)
	return &testRepo{t: t, dir: dir, repo: repo}
}

func (r *testRepo) url() string { return "file://" + r.dir }

var signature = &object.Signature{Name: "test", Email: "test@example.com", When: time.Unix(1700000000, 0)}

// commit writes files and commits them on the current branch.
func (r *testRepo) commit(files map[string]string) string {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	require.NoError(r.t, err)
	for name, body := range files {
		p := filepath.Join(r.dir, name)
		require.NoError(r.t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(r.t, os.WriteFile(p, []byte(body), 0o644))
		_, err := wt.Add(name)
		require.NoError(r.t, err)
	}
	h, err := wt.Commit("commit", &git.CommitOptions{Author: signature, AllowEmptyCommits: true})
	require.NoError(r.t, err)
	return h.String()
}

// branch creates branch at the current commit and checks it out.
func (r *testRepo) branch(name string) {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	require.NoError(r.t, err)
	require.NoError(r.t, wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(name), Create: true}))
}

func (r *testRepo) checkout(name string) {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	require.NoError(r.t, err)
	require.NoError(r.t, wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(name)}))
}

// tag tags commit; annotated makes a tag object.
func (r *testRepo) tag(name, commit string, annotated bool) {
	r.t.Helper()
	var opts *git.CreateTagOptions
	if annotated {
		opts = &git.CreateTagOptions{Tagger: signature, Message: "release " + name}
	}
	_, err := r.repo.CreateTag(name, plumbing.NewHash(commit), opts)
	require.NoError(r.t, err)
}

// submodule adds sub at path, pinned to commit, with url in .gitmodules, and commits.
func (r *testRepo) submodule(path, url, commit string) string {
	r.t.Helper()
	gitmodules := "[submodule \"" + path + "\"]\n\tpath = " + path + "\n\turl = " + url + "\n"
	require.NoError(r.t, os.WriteFile(filepath.Join(r.dir, ".gitmodules"), []byte(gitmodules), 0o644))
	wt, err := r.repo.Worktree()
	require.NoError(r.t, err)
	_, err = wt.Add(".gitmodules")
	require.NoError(r.t, err)
	idx, err := r.repo.Storer.Index()
	require.NoError(r.t, err)
	idx.Entries = append(idx.Entries, &index.Entry{Name: path, Hash: plumbing.NewHash(commit), Mode: filemode.Submodule,
		ModifiedAt: signature.When, CreatedAt: signature.When})
	require.NoError(r.t, r.repo.Storer.SetIndex(idx))
	h, err := wt.Commit("add submodule "+path, &git.CommitOptions{Author: signature})
	require.NoError(r.t, err)
	return h.String()
}
