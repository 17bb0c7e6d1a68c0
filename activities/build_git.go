package activities

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/rainflow/rainflow/build/gitsource"
	"github.com/rainflow/rainflow/contract"
)

// GitConfig says how builds reach git repositories.
type GitConfig struct {
	// AllowLocal lets builds read file:// repositories on the worker's disk: for tests only.
	AllowLocal bool
	// MaxBytes bounds a checkout; default gitsource.DefaultMaxBytes.
	MaxBytes int64
	// HostKeys checks SSH servers' host keys.
	HostKeys gitsource.HostKeys
}

func (b *Builds) gitOptions() gitsource.Options {
	return gitsource.Options{AllowLocal: b.Git.AllowLocal, MaxBytes: b.Git.MaxBytes, HostKeys: b.Git.HostKeys}
}

// resolveGit pins a git source's ref to its commit.
func (b *Builds) resolveGit(ctx context.Context, src contract.BuildSource) (ResolveSourceResult, error) {
	opts, done, err := b.gitSourceOptions(ctx, src)
	if err != nil {
		return ResolveSourceResult{}, err
	}
	defer done()
	rev, err := gitsource.Resolve(ctx, src.GitURL, src.GitRef, opts)
	if err != nil {
		return ResolveSourceResult{}, gitError(err)
	}
	return ResolveSourceResult{Revision: rev.Commit}, nil
}

// fetchGit checks the pinned commit out under dir: shallowly when the ref still names it.
func (b *Builds) fetchGit(ctx context.Context, in BuildImageInput, dir string, out *buildLog) (string, error) {
	url := gitsource.Scrub(in.Source.GitURL)
	out.phase("fetch", fmt.Sprintf("fetch %s at %s (%s)", url, in.Revision, orDefault(in.Source.GitRef, "the default branch")))
	opts, done, err := b.gitSourceOptions(ctx, in.Source)
	if err != nil {
		return "", err
	}
	defer done()
	if c := in.Source.Credential; c != nil {
		out.info(fmt.Sprintf("read with credential %q", c.Name))
	}
	rev := gitsource.Revision{Commit: in.Revision}
	// the ref names the commit still (the usual case): fetch that ref at depth 1
	if now, err := gitsource.Resolve(ctx, in.Source.GitURL, in.Source.GitRef, opts); err == nil && now.Commit == in.Revision {
		rev = now
	}
	src := filepath.Join(dir, "src")
	res, err := gitsource.Fetch(ctx, in.Source.GitURL, rev, src, opts)
	if err != nil {
		return "", gitError(err)
	}
	out.info(fmt.Sprintf("checked out %s: %d files, %d bytes, %d submodules", in.Revision, res.Files, res.Bytes, res.Submodules))
	return src, nil
}

// gitError marks the failures that trying again cannot mend as permanent.
func gitError(err error) error {
	for _, e := range []error{gitsource.ErrInvalidURL, gitsource.ErrInvalidRef, gitsource.ErrRefNotFound, gitsource.ErrNotFound,
		gitsource.ErrAuth, gitsource.ErrTooLarge} {
		if errors.Is(err, e) {
			return permanent(ErrTypeInvalidSource, err)
		}
	}
	return err
}
