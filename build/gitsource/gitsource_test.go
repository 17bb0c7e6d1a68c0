package gitsource

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fixture is a repository with two commits on main, a feature branch, a lightweight and an
// annotated tag.
type fixture struct {
	repo                        *testRepo
	first, second, feature, sub string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	r := newTestRepo(t)
	f := fixture{repo: r}
	f.first = r.commit(map[string]string{"main.go": "package main // first\n", "go.mod": "module example.com/app\n"})
	r.tag("v1", f.first, false)
	r.tag("v1-annotated", f.first, true)
	f.second = r.commit(map[string]string{"main.go": "package main // second\n"})
	r.branch("feature")
	f.feature = r.commit(map[string]string{"feature.txt": "feature\n"})
	r.checkout("main")
	return f
}

func TestResolve(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name    string
		url     string
		ref     string
		noLocal bool
		want    Revision
		wantErr error
	}{
		{name: "default branch", ref: "", want: Revision{Commit: f.second, RefName: "refs/heads/main"}},
		{name: "branch", ref: "feature", want: Revision{Commit: f.feature, RefName: "refs/heads/feature"}},
		{name: "full ref name", ref: "refs/heads/feature", want: Revision{Commit: f.feature, RefName: "refs/heads/feature"}},
		{name: "lightweight tag", ref: "v1", want: Revision{Commit: f.first, RefName: "refs/tags/v1"}},
		{name: "annotated tag is its commit", ref: "v1-annotated", want: Revision{Commit: f.first, RefName: "refs/tags/v1-annotated"}},
		{name: "short commit at a branch tip", ref: f.feature[:8], want: Revision{Commit: f.feature, RefName: "refs/heads/feature"}},
		{name: "full commit at no tip", ref: f.first, want: Revision{Commit: f.first, RefName: "refs/tags/v1"}},
		{name: "full commit", ref: f.second, want: Revision{Commit: f.second, RefName: "refs/heads/main"}},
		{name: "unknown branch", ref: "nope", wantErr: ErrRefNotFound},
		{name: "short commit at no tip", ref: "abcdef1", wantErr: ErrRefNotFound},
		{name: "invalid ref", ref: "a..b", wantErr: ErrInvalidRef},
		{name: "option-like ref", ref: "--upload-pack=touch", wantErr: ErrInvalidRef},
		{name: "local URL not allowed", ref: "main", noLocal: true, wantErr: ErrInvalidURL},
		{name: "missing repository", url: "file://" + filepath.Join(t.TempDir(), "none"), ref: "main", wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url, opts := tt.url, Options{AllowLocal: !tt.noLocal}
			if url == "" {
				url = f.repo.url()
			}
			got, err := Resolve(t.Context(), url, tt.ref, opts)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestResolveCommitNotAtTip(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	old := r.commit(map[string]string{"a": "1"})
	r.commit(map[string]string{"a": "2"})
	got, err := Resolve(t.Context(), r.url(), old, Options{AllowLocal: true})
	require.NoError(t, err)
	require.Equal(t, Revision{Commit: old}, got)
}

func TestFetch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	lib := newTestRepo(t)
	libCommit := lib.commit(map[string]string{"lib.go": "package lib\n"})
	lib.commit(map[string]string{"lib.go": "package lib // later\n"}) // the submodule pins the first
	withSub := newTestRepo(t)
	withSub.commit(map[string]string{"main.go": "package main\n"})
	subCommit := withSub.submodule("vendor/lib", lib.url(), libCommit)

	tests := []struct {
		name      string
		repo      *testRepo
		rev       Revision
		maxBytes  int64
		wantFiles map[string]string
		absent    []string
		wantSubs  int
		wantErr   error
	}{
		{name: "branch tip", repo: f.repo, rev: Revision{Commit: f.second, RefName: "refs/heads/main"},
			wantFiles: map[string]string{"main.go": "package main // second\n"}, absent: []string{"feature.txt", ".git"}},
		{name: "other branch", repo: f.repo, rev: Revision{Commit: f.feature, RefName: "refs/heads/feature"},
			wantFiles: map[string]string{"feature.txt": "feature\n"}},
		{name: "annotated tag", repo: f.repo, rev: Revision{Commit: f.first, RefName: "refs/tags/v1-annotated"},
			wantFiles: map[string]string{"main.go": "package main // first\n"}},
		{name: "commit at no tip", repo: f.repo, rev: Revision{Commit: f.first},
			wantFiles: map[string]string{"main.go": "package main // first\n"}},
		{name: "branch moved on", repo: f.repo, rev: Revision{Commit: f.first, RefName: "refs/heads/main"},
			wantErr: errors.New("no longer points at")},
		{name: "unknown commit", repo: f.repo, rev: Revision{Commit: strings.Repeat("ab", 20)}, wantErr: ErrRefNotFound},
		{name: "submodule at its pinned commit", repo: withSub, rev: Revision{Commit: subCommit, RefName: "refs/heads/main"},
			wantFiles: map[string]string{"main.go": "package main\n", "vendor/lib/lib.go": "package lib\n"},
			absent:    []string{".git", "vendor/lib/.git"}, wantSubs: 1},
		{name: "over the size limit", repo: f.repo, rev: Revision{Commit: f.second, RefName: "refs/heads/main"}, maxBytes: 64,
			wantErr: ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "src")
			res, err := Fetch(t.Context(), tt.repo.url(), tt.rev, dir, Options{AllowLocal: true, MaxBytes: tt.maxBytes})
			if tt.wantErr != nil {
				require.Error(t, err)
				if errors.Is(tt.wantErr, ErrTooLarge) || errors.Is(tt.wantErr, ErrRefNotFound) {
					require.ErrorIs(t, err, tt.wantErr)
				} else {
					require.ErrorContains(t, err, tt.wantErr.Error())
				}
				return
			}
			require.NoError(t, err)
			for name, body := range tt.wantFiles {
				got, err := os.ReadFile(filepath.Join(dir, name))
				require.NoError(t, err, name)
				require.Equal(t, body, string(got), name)
			}
			for _, name := range tt.absent {
				require.NoFileExists(t, filepath.Join(dir, name))
				require.NoDirExists(t, filepath.Join(dir, name))
			}
			require.Equal(t, tt.wantSubs, res.Submodules)
			require.Positive(t, res.Files)
		})
	}
}

func TestFetchRefusesLocalSubmoduleUnlessAllowed(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.commit(map[string]string{"a": "1"})
	c := r.submodule("evil", "/etc", strings.Repeat("ab", 20))
	// the parent is local too, so allow it but check the submodule's own URL in a fresh rule set: a
	// file URL in .gitmodules must pass the same validation as the build's URL
	_, err := Fetch(t.Context(), r.url(), Revision{Commit: c, RefName: "refs/heads/main"}, filepath.Join(t.TempDir(), "s"),
		Options{AllowLocal: true})
	require.Error(t, err) // /etc is no repository
	require.ErrorContains(t, err, "submodule evil")
}

func TestValidateURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		url        string
		allowLocal bool
		ok         bool
	}{
		{name: "https", url: "https://github.com/rainflow/app.git", ok: true},
		{name: "https with port", url: "https://git.example.com:8443/team/app", ok: true},
		{name: "ssh", url: "ssh://git@github.com/rainflow/app.git", ok: true},
		{name: "ssh with port", url: "ssh://git@git.example.com:2222/team/app.git", ok: true},
		{name: "scp style", url: "git@github.com:rainflow/app.git", ok: true},
		{name: "plain http", url: "http://github.com/rainflow/app.git"},
		{name: "password in URL", url: "https://user:secret@github.com/rainflow/app.git"},
		{name: "user in https URL", url: "https://user@github.com/rainflow/app.git"},
		{name: "no path", url: "https://github.com/"},
		{name: "ext transport", url: "ext::sh -c touch% /tmp/x"},
		{name: "option injection", url: "--upload-pack=touch /tmp/x"},
		{name: "scp path like an option", url: "git@host:-oProxyCommand=x"},
		{name: "file without AllowLocal", url: "file:///srv/repo"},
		{name: "local path without AllowLocal", url: "/srv/repo"},
		{name: "file with AllowLocal", url: "file:///srv/repo", allowLocal: true, ok: true},
		{name: "local path with AllowLocal", url: "/srv/repo", allowLocal: true, ok: true},
		{name: "relative path", url: "repo", allowLocal: true},
		{name: "newline", url: "https://github.com/a/b\n", allowLocal: true},
		{name: "empty", url: ""},
		{name: "too long", url: "https://github.com/" + strings.Repeat("a", 3000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateURL(tt.url, tt.allowLocal)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidURL)
			require.NotContains(t, err.Error(), "secret")
		})
	}
}

func TestValidateRef(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ref  string
		ok   bool
	}{
		{name: "default", ref: "", ok: true},
		{name: "branch", ref: "main", ok: true},
		{name: "nested branch", ref: "feature/login-v2", ok: true},
		{name: "tag", ref: "v1.2.3", ok: true},
		{name: "full ref", ref: "refs/tags/v1.2.3", ok: true},
		{name: "commit", ref: strings.Repeat("a1", 20), ok: true},
		{name: "double dot", ref: "a..b"},
		{name: "leading dash", ref: "-x"},
		{name: "space", ref: "a b"},
		{name: "tilde", ref: "main~1"},
		{name: "caret", ref: "main^"},
		{name: "colon", ref: "a:b"},
		{name: "glob", ref: "a*"},
		{name: "reflog", ref: "main@{1}"},
		{name: "at", ref: "@"},
		{name: "lock", ref: "main.lock"},
		{name: "dot component", ref: "a/.b"},
		{name: "trailing slash", ref: "a/"},
		{name: "double slash", ref: "a//b"},
		{name: "trailing dot", ref: "a."},
		{name: "control", ref: "a\x01"},
		{name: "backslash", ref: `a\b`},
		{name: "too long", ref: strings.Repeat("a", 300)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateRef(tt.ref)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrInvalidRef)
			}
		})
	}
}

func TestCredentialsStayOutOfErrors(t *testing.T) {
	t.Parallel()
	a := Auth{Token: "tok-3f9a", SSHPassphrase: "pass-77"}
	tests := []struct {
		name string
		err  error
	}{
		{name: "token in a transport error", err: fmt.Errorf("unexpected client error: Authorization: Basic tok-3f9a")},
		{name: "passphrase in an error", err: fmt.Errorf("bad key pass-77")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := transportError("list refs of https://example.com/a", tt.err, a)
			require.NotContains(t, err.Error(), "tok-3f9a")
			require.NotContains(t, err.Error(), "pass-77")
		})
	}
	require.Equal(t, "https://user:xxxxx@example.com/a", Scrub("https://user:tok-3f9a@example.com/a"))
	_, err := Resolve(t.Context(), "https://user:tok-3f9a@example.com/a", "", Options{})
	require.ErrorIs(t, err, ErrInvalidURL)
	require.NotContains(t, err.Error(), "tok-3f9a")
	_, err = Resolve(t.Context(), "git@example.com:a/b.git", "", Options{Auth: Auth{SSHKey: []byte("not a key"), SSHPassphrase: "pass-77"}})
	require.ErrorIs(t, err, ErrAuth)
	require.NotContains(t, err.Error(), "pass-77")
}
