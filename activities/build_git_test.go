package activities

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/rainflow/rainflow/contract"
)

// gitRepo makes a repository with one commit of files; it answers its URL and the commit.
func gitRepo(t *testing.T, files map[string]string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	require.NoError(t, err)
	wt, err := repo.Worktree()
	require.NoError(t, err)
	for n, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte(body), 0o644))
		_, err := wt.Add(n)
		require.NoError(t, err)
	}
	h, err := wt.Commit("c", &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: time.Unix(1, 0)}})
	require.NoError(t, err)
	return "file://" + dir, h.String()
}

func TestResolveGitSource(t *testing.T) {
	t.Parallel()
	url, commit := gitRepo(t, map[string]string{"go.mod": "module x\n"})
	tests := []struct {
		name       string
		allowLocal bool
		ref        string
		want       string
		permanent  bool
	}{
		{name: "default branch", allowLocal: true, want: commit},
		{name: "commit", allowLocal: true, ref: commit, want: commit},
		{name: "missing branch is for good", allowLocal: true, ref: "nope", permanent: true},
		{name: "local repositories refused unless allowed", ref: "", permanent: true},
		{name: "invalid ref is for good", allowLocal: true, ref: "a..b", permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := &Builds{Git: GitConfig{AllowLocal: tt.allowLocal}}
			res, err := b.ResolveSource(t.Context(), ResolveSourceInput{Source: contract.BuildSource{Kind: contract.SourceGit, GitURL: url, GitRef: tt.ref}})
			if tt.permanent {
				var ae *temporal.ApplicationError
				require.True(t, errors.As(err, &ae), "%v", err)
				require.True(t, ae.NonRetryable())
				require.Equal(t, ErrTypeInvalidSource, ae.Type())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, res.Revision)
		})
	}
}

func TestFetchGitSource(t *testing.T) {
	t.Parallel()
	url, commit := gitRepo(t, map[string]string{"go.mod": "module x\n", "main.go": "package main\n"})
	b := &Builds{Git: GitConfig{AllowLocal: true}}
	in := BuildImageInput{Source: contract.BuildSource{Kind: contract.SourceGit, GitURL: url}, Revision: commit}
	src, err := b.fetchGit(t.Context(), in, t.TempDir(), &buildLog{b: b, in: in})
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(src, "main.go"))
	require.NoError(t, err)
	require.Equal(t, "package main\n", string(got))
	require.NoDirExists(t, filepath.Join(src, ".git"), "the build sees the source alone")
}
