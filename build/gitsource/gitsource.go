// Package gitsource reads a build's source from a git repository: it resolves a branch, tag or commit
// to the commit it names (by listing the remote's refs, as ls-remote does), and fetches that commit
// shallowly into a directory with its submodules. URLs and refs are validated and never reach a
// shell; credentials never appear in errors.
package gitsource

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Errors a caller tells apart (errors.Is): all but ErrTooLarge's cause are the request's fault.
var (
	ErrInvalidURL  = errors.New("invalid git URL")
	ErrInvalidRef  = errors.New("invalid git ref")
	ErrRefNotFound = errors.New("git ref not found")
	ErrNotFound    = errors.New("git repository not found")
	ErrAuth        = errors.New("git authentication failed")
	ErrTooLarge    = errors.New("git checkout over the size limit")
)

// DefaultMaxBytes bounds a checkout (its files and its .git) when Options.MaxBytes is 0.
const DefaultMaxBytes = 1 << 30

// Options say how to reach a repository.
type Options struct {
	Auth     Auth
	HostKeys HostKeys
	// AllowLocal allows file:// URLs and local paths (tests only: a worker must not read its own disk).
	AllowLocal bool
	// MaxBytes bounds the checkout on disk; default DefaultMaxBytes.
	MaxBytes int64
}

func (o Options) maxBytes() int64 {
	if o.MaxBytes > 0 {
		return o.MaxBytes
	}
	return DefaultMaxBytes
}

// Revision is a ref resolved: the commit, and the full ref name that points at it ("" when the ref
// was a commit that no branch or tag tip names).
type Revision struct {
	Commit  string
	RefName string
}

// Resolve answers the commit ref names in the repository at rawURL: a branch, a tag (an annotated
// one's commit), a full ref name, a full commit, or a commit prefix at a branch or tag tip; "" the
// default branch.
func Resolve(ctx context.Context, rawURL, ref string, o Options) (Revision, error) {
	if err := ValidateURL(rawURL, o.AllowLocal); err != nil {
		return Revision{}, err
	}
	if err := ValidateRef(ref); err != nil {
		return Revision{}, err
	}
	auth, err := o.Auth.method(rawURL, o.HostKeys)
	if err != nil {
		return Revision{}, err
	}
	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: git.DefaultRemoteName, URLs: []string{rawURL}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth, PeelingOption: git.AppendPeeled})
	if err != nil {
		return Revision{}, transportError("list refs of "+Scrub(rawURL), err, o.Auth)
	}
	return pick(refs, ref)
}

// pick finds ref among a remote's refs.
func pick(refs []*plumbing.Reference, ref string) (Revision, error) {
	byName := make(map[plumbing.ReferenceName]*plumbing.Reference, len(refs))
	for _, r := range refs {
		byName[r.Name()] = r
	}
	// commit is the commit a ref name points at: a tag's peeled commit when it has one.
	commit := func(n plumbing.ReferenceName) (Revision, bool) {
		r, ok := byName[n]
		if !ok {
			return Revision{}, false
		}
		if r.Type() == plumbing.SymbolicReference {
			if r, ok = byName[r.Target()]; !ok {
				return Revision{}, false
			}
			n = r.Name()
		}
		if peeled, ok := byName[n+"^{}"]; ok {
			return Revision{Commit: peeled.Hash().String(), RefName: n.String()}, true
		}
		return Revision{Commit: r.Hash().String(), RefName: n.String()}, true
	}
	if ref == "" {
		head, ok := byName[plumbing.HEAD]
		if !ok {
			return Revision{}, fmt.Errorf("%w: the repository has no default branch", ErrRefNotFound)
		}
		if head.Type() == plumbing.HashReference { // no symref advertised: the branch at HEAD's commit
			for _, r := range refs {
				if r.Name().IsBranch() && r.Hash() == head.Hash() {
					return Revision{Commit: r.Hash().String(), RefName: r.Name().String()}, nil
				}
			}
			return Revision{Commit: head.Hash().String()}, nil
		}
		if rev, ok := commit(plumbing.HEAD); ok {
			return rev, nil
		}
		return Revision{}, fmt.Errorf("%w: the default branch %s has no commit", ErrRefNotFound, head.Target())
	}
	names := []plumbing.ReferenceName{plumbing.NewBranchReferenceName(ref), plumbing.NewTagReferenceName(ref)}
	if strings.HasPrefix(ref, "refs/") {
		names = []plumbing.ReferenceName{plumbing.ReferenceName(ref)}
	}
	for _, n := range names {
		if rev, ok := commit(n); ok {
			return rev, nil
		}
	}
	if !isHex(ref) {
		return Revision{}, fmt.Errorf("%w: no branch or tag %q", ErrRefNotFound, ref)
	}
	// a commit: a branch or tag tip it prefixes names it (and lets the fetch be shallow)
	var found *Revision
	for _, r := range refs {
		if r.Type() != plumbing.HashReference || !strings.HasPrefix(r.Hash().String(), ref) || strings.HasSuffix(r.Name().String(), "^{}") ||
			!(r.Name().IsBranch() || r.Name().IsTag()) {
			continue
		}
		rev, _ := commit(r.Name())
		if rev.Commit != r.Hash().String() { // an annotated tag's own hash is not a commit
			continue
		}
		if found != nil && found.Commit != rev.Commit {
			return Revision{}, fmt.Errorf("%w: commit %q is ambiguous", ErrRefNotFound, ref)
		}
		if found == nil {
			found = &rev
		}
	}
	switch {
	case found != nil:
		return *found, nil
	case len(ref) == 40:
		return Revision{Commit: ref}, nil
	}
	return Revision{}, fmt.Errorf("%w: the short commit %q is no branch or tag tip; give the full 40-digit commit", ErrRefNotFound, ref)
}

// transportError classifies a transport failure, without the credential in it.
func transportError(what string, err error, a Auth) error {
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod):
		return fmt.Errorf("%s: %w", what, ErrAuth)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return fmt.Errorf("%s: %w: the repository is empty", what, ErrRefNotFound)
	}
	if strings.Contains(err.Error(), "ssh: handshake failed") || strings.Contains(err.Error(), "knownhosts") {
		return fmt.Errorf("%s: %w: %s", what, ErrAuth, redact(err.Error(), a.secrets()))
	}
	return fmt.Errorf("%s: %w", what, scrubError(err, a.secrets()))
}
