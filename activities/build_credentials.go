package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rainflow/rainflow/build/gitsource"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/imageref"
	"github.com/rainflow/rainflow/seal"
	"github.com/rainflow/rainflow/store"
)

// Source credentials never leave the activity that uses them: a build's input names one (tenant and
// name), the activity opens it from the store, hands it to the git transport or the registry client,
// and forgets it. No error, heartbeat, output line or log line of this file holds a secret.

// ErrTypeCredentialUnavailable: the credential a build names cannot be used (it was deleted, its type
// or host no longer fits the source, or the worker cannot open it); trying again will not help.
const ErrTypeCredentialUnavailable = "CredentialUnavailable"

// CredentialOpener opens a tenant's source credential; *store.Store is one.
type CredentialOpener interface {
	OpenCredential(ctx context.Context, tenantID, name string) (store.Credential, store.CredentialSecret, error)
}

// openCredential opens the credential src names, checking that it is of type want and, when it names
// a host, that host is the source's. A source without a credential answers the zero secret.
func (b *Builds) openCredential(ctx context.Context, src contract.BuildSource, want, host string) (store.CredentialSecret, error) {
	ref := src.Credential
	if ref == nil {
		return store.CredentialSecret{}, nil
	}
	if b.Credentials == nil {
		return store.CredentialSecret{}, permanent(ErrTypeCredentialUnavailable,
			fmt.Errorf("open credential %q: this worker has no store to read credentials from", ref.Name))
	}
	c, secret, err := b.Credentials.OpenCredential(ctx, ref.TenantID, ref.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.CredentialSecret{}, permanent(ErrTypeCredentialUnavailable, fmt.Errorf("credential %q no longer exists", ref.Name))
	case errors.Is(err, store.ErrNoKeyring), errors.Is(err, seal.ErrUnknownKey), errors.Is(err, seal.ErrCorrupt):
		return store.CredentialSecret{}, permanent(ErrTypeCredentialUnavailable, err)
	case err != nil:
		return store.CredentialSecret{}, err
	case c.Type != want:
		return store.CredentialSecret{}, permanent(ErrTypeCredentialUnavailable,
			fmt.Errorf("credential %q is a %s credential; this source needs a %s one", ref.Name, c.Type, want))
	case c.Host != "" && !credentialHostMatches(c.Host, host):
		return store.CredentialSecret{}, permanent(ErrTypeCredentialUnavailable,
			fmt.Errorf("credential %q is for host %s, not %s", ref.Name, c.Host, host))
	}
	return secret, nil
}

// gitSourceOptions are the git options for src with its credential, if it names one; done removes
// the known_hosts file a git-ssh credential brought.
func (b *Builds) gitSourceOptions(ctx context.Context, src contract.BuildSource) (opts gitsource.Options, done func(), err error) {
	opts, done = b.gitOptions(), func() {}
	if src.Credential == nil {
		return opts, done, nil
	}
	want, host := gitCredentialFor(src.GitURL)
	if want == "" {
		return opts, done, permanent(ErrTypeInvalidSource, fmt.Errorf("repository %s takes no credential", gitsource.Scrub(src.GitURL)))
	}
	secret, err := b.openCredential(ctx, src, want, host)
	if err != nil {
		return opts, done, err
	}
	opts.Auth = gitsource.Auth{Token: secret.Token, Username: secret.Username, SSHKey: []byte(secret.PrivateKey),
		SSHPassphrase: secret.Passphrase}
	if secret.KnownHosts == "" {
		return opts, done, nil
	}
	f, err := os.CreateTemp(b.WorkDir, "known-hosts-")
	if err != nil {
		return opts, done, fmt.Errorf("write the credential's known hosts: %w", err)
	}
	done = func() { _ = os.Remove(f.Name()) }
	_, werr := f.WriteString(secret.KnownHosts + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		done()
		return opts, func() {}, fmt.Errorf("write the credential's known hosts: %w", werr)
	}
	// the credential's known hosts are checked before the worker's
	opts.HostKeys.KnownHostsFiles = append([]string{f.Name()}, opts.HostKeys.KnownHostsFiles...)
	return opts, done, nil
}

// gitCredentialFor answers the credential type a git URL takes and the host it reaches; no type for
// a local repository.
func gitCredentialFor(raw string) (credType, host string) {
	switch {
	case strings.HasPrefix(raw, "https://"):
		host, _, _ = strings.Cut(strings.TrimPrefix(raw, "https://"), "/")
		return store.CredentialGitToken, host
	case strings.HasPrefix(raw, "ssh://"):
		host, _, _ = strings.Cut(strings.TrimPrefix(raw, "ssh://"), "/")
		if at := strings.LastIndex(host, "@"); at >= 0 {
			host = host[at+1:]
		}
		return store.CredentialGitSSH, host
	case !strings.Contains(raw, "://") && !strings.HasPrefix(raw, "/"): // scp-style user@host:path
		_, rest, _ := strings.Cut(raw, "@")
		host, _, _ = strings.Cut(rest, ":")
		return store.CredentialGitSSH, host
	}
	return "", ""
}

// sourceImageOptions are the registry options to read src's image with: the build's, with the
// source's registry credential when it names one. They are for the source registry only: the
// platform's registry is written with remoteOpts.
func (b *Builds) sourceImageOptions(ctx context.Context, src contract.BuildSource, ref name.Reference) ([]remote.Option, error) {
	opts := b.remoteOpts(ctx)
	secret, err := b.openCredential(ctx, src, store.CredentialRegistry, ref.Context().RegistryStr())
	if err != nil || src.Credential == nil {
		return opts, err
	}
	return append(opts, remote.WithAuth(&authn.Basic{Username: secret.Username, Password: secret.Password})), nil
}

// resolveImage pins an image source to its digest, reading it with the source's credential.
func (b *Builds) resolveImage(ctx context.Context, src contract.BuildSource) (ResolveSourceResult, error) {
	if src.Credential == nil {
		res, err := b.Registry.ResolveImage(ctx, ResolveImageInput{Image: src.Image})
		return ResolveSourceResult{Revision: res.Digest}, err
	}
	ref, err := imageref.Parse(src.Image, b.Registry.Insecure)
	if err != nil {
		return ResolveSourceResult{}, permanent(ErrTypeInvalidImage, err)
	}
	opts, err := b.sourceImageOptions(ctx, src, ref)
	if err != nil {
		return ResolveSourceResult{}, err
	}
	desc, err := remote.Head(ref, opts...)
	switch {
	case err == nil:
		return ResolveSourceResult{Revision: desc.Digest.String()}, nil
	case imageref.IsNotFound(err):
		return ResolveSourceResult{}, permanent(ErrTypeImageNotFound,
			fmt.Errorf("image %s not found in registry %s", src.Image, ref.Context().RegistryStr()))
	case imageref.IsDenied(err):
		return ResolveSourceResult{}, permanent(ErrTypeForbidden,
			fmt.Errorf("read image %s with credential %q: %w", src.Image, src.Credential.Name, err))
	}
	return ResolveSourceResult{}, fmt.Errorf("resolve image %s: %w", src.Image, err)
}

// credentialHostMatches: a credential's host names the source's host, with or without its port
// (docker.io is Docker Hub's index.docker.io).
func credentialHostMatches(credHost, host string) bool {
	if strings.EqualFold(credHost, "docker.io") {
		credHost = name.DefaultRegistry
	}
	if strings.EqualFold(credHost, host) {
		return true
	}
	h, _, found := strings.Cut(host, ":")
	return found && !strings.Contains(credHost, ":") && strings.EqualFold(credHost, h)
}
