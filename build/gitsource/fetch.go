package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
)

// maxSubmoduleDepth bounds submodules of submodules.
const maxSubmoduleDepth = 5

// FetchResult says what a fetch wrote.
type FetchResult struct {
	Files      int
	Bytes      int64
	Submodules int
}

// Fetch checks out rev of the repository at rawURL into dir (which must be empty or absent), with its
// submodules, and removes the .git metadata so that dir holds the source alone. A branch or tag tip
// is fetched at depth 1; another commit by its hash at depth 1 where the server allows it, else with
// the history of every branch and tag. The checkout stops once it grows over MaxBytes; ctx bounds its
// time.
func Fetch(ctx context.Context, rawURL string, rev Revision, dir string, o Options) (FetchResult, error) {
	if err := ValidateURL(rawURL, o.AllowLocal); err != nil {
		return FetchResult{}, err
	}
	hash := plumbing.NewHash(rev.Commit)
	if !isHex(rev.Commit) || len(rev.Commit) != 40 {
		return FetchResult{}, fmt.Errorf("%w: %q is not a full commit", ErrInvalidRef, truncate(rev.Commit, 64))
	}
	if err := ValidateRef(rev.RefName); err != nil {
		return FetchResult{}, err
	}
	auth, err := o.Auth.method(rawURL, o.HostKeys)
	if err != nil {
		return FetchResult{}, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := watchSize(ctx, dir, o.maxBytes(), cancel)
	defer stop()
	fail := func(what string, err error) (FetchResult, error) {
		if cause := context.Cause(ctx); errors.Is(cause, ErrTooLarge) {
			return FetchResult{}, cause
		}
		return FetchResult{}, transportError(what+" "+Scrub(rawURL), err, o.Auth)
	}

	repo, err := git.PlainInit(dir, false)
	if err != nil {
		return FetchResult{}, fmt.Errorf("init checkout: %w", err)
	}
	remote, err := repo.CreateRemote(&config.RemoteConfig{Name: git.DefaultRemoteName, URLs: []string{rawURL}})
	if err != nil {
		return FetchResult{}, fmt.Errorf("add remote: %w", err)
	}
	fetch := func(depth int, specs ...config.RefSpec) error {
		err := remote.FetchContext(ctx, &git.FetchOptions{Auth: auth, RefSpecs: specs, Depth: depth, Tags: git.NoTags})
		if errors.Is(err, git.NoErrAlreadyUpToDate) {
			return nil
		}
		return err
	}
	if rev.RefName != "" {
		err = fetch(1, config.RefSpec("+"+rev.RefName+":"+rev.RefName))
	} else {
		err = fetch(1, config.RefSpec("+"+rev.Commit+":refs/rainflow/build"))
		if err != nil && !errors.Is(err, git.ErrExactSHA1NotSupported) && context.Cause(ctx) == nil {
			return fail("fetch commit "+rev.Commit+" of", err)
		}
		if _, oerr := repo.CommitObject(hash); err != nil || oerr != nil {
			err = fetch(0, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*")
		}
	}
	if err != nil {
		return fail("fetch", err)
	}
	if _, err := repo.CommitObject(hash); err != nil {
		if rev.RefName != "" { // the branch moved on since Resolve: a retry resolves again
			return FetchResult{}, fmt.Errorf("fetch %s: %s no longer points at %s", Scrub(rawURL), rev.RefName, rev.Commit)
		}
		return FetchResult{}, fmt.Errorf("%w: commit %s is not in %s", ErrRefNotFound, rev.Commit, Scrub(rawURL))
	}
	wt, err := repo.Worktree()
	if err != nil {
		return FetchResult{}, fmt.Errorf("open worktree: %w", err)
	}
	if err := wt.Checkout(&git.CheckoutOptions{Hash: hash, Force: true}); err != nil {
		return fail("check out "+rev.Commit+" of", err)
	}
	subs, err := updateSubmodules(ctx, wt, rawURL, o, maxSubmoduleDepth)
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, ErrTooLarge) {
			return FetchResult{}, cause
		}
		return FetchResult{}, err
	}
	if n := duBytes(dir); n > o.maxBytes() { // what the watch had no time to see
		return FetchResult{}, fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, n, o.maxBytes())
	}
	res, err := stripGit(dir)
	if err != nil {
		return FetchResult{}, err
	}
	res.Submodules = subs
	return res, nil
}

// updateSubmodules checks out the worktree's submodules (and theirs, depth levels down), each URL
// validated; the credential goes only to submodules on the parent's host.
func updateSubmodules(ctx context.Context, wt *git.Worktree, parentURL string, o Options, depth int) (int, error) {
	subs, err := wt.Submodules()
	if err != nil {
		return 0, fmt.Errorf("read submodules: %w", err)
	}
	n := 0
	for _, sub := range subs {
		if depth == 0 {
			return n, fmt.Errorf("submodule %s: submodules nest deeper than %d", sub.Config().Path, maxSubmoduleDepth)
		}
		subURL := sub.Config().URL
		relative := len(subURL) > 0 && subURL[0] == '.'
		if !relative {
			if err := ValidateURL(subURL, o.AllowLocal); err != nil {
				return n, fmt.Errorf("submodule %s: %w", sub.Config().Path, err)
			}
		}
		so := o
		if !relative && hostOf(subURL) != hostOf(parentURL) {
			so.Auth = Auth{}
		}
		method, err := so.Auth.method(orURL(subURL, relative, parentURL), o.HostKeys)
		if err != nil {
			return n, fmt.Errorf("submodule %s: %w", sub.Config().Path, err)
		}
		if err := sub.UpdateContext(ctx, &git.SubmoduleUpdateOptions{Init: true, Auth: method}); err != nil {
			return n, transportError("update submodule "+sub.Config().Path, err, o.Auth)
		}
		n++
		repo, err := sub.Repository()
		if err != nil {
			return n, fmt.Errorf("open submodule %s: %w", sub.Config().Path, err)
		}
		swt, err := repo.Worktree()
		if err != nil {
			return n, fmt.Errorf("open submodule %s: %w", sub.Config().Path, err)
		}
		m, err := updateSubmodules(ctx, swt, orURL(subURL, relative, parentURL), o, depth-1)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// orURL is the URL whose kind picks a submodule's auth: its parent's when it is relative.
func orURL(sub string, relative bool, parent string) string {
	if relative {
		return parent
	}
	return sub
}

// stripGit removes every .git (the repository's directory, submodules' files) under dir and counts
// what is left.
func stripGit(dir string) (FetchResult, error) {
	var res FetchResult
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == ".git" {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			res.Files++
			res.Bytes += info.Size()
		}
		return nil
	})
	if err != nil {
		return FetchResult{}, fmt.Errorf("clean checkout: %w", err)
	}
	return res, nil
}

// watchSize cancels ctx with ErrTooLarge once dir holds more than limit bytes, checking a few times a
// second until stop.
func watchSize(ctx context.Context, dir string, limit int64, cancel context.CancelCauseFunc) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if n := duBytes(dir); n > limit {
				cancel(fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit))
				return
			}
		}
	}()
	return func() { close(done) }
}

func duBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
