package activities

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Registry holds the activities that talk to OCI registries.
type Registry struct {
	// Insecure lists registry hosts (host:port) reached over plain HTTP; loopback registries always are.
	Insecure []string
	// Transport is the HTTP transport used for registries; nil uses remote's default.
	Transport http.RoundTripper
}

// ResolveImageInput names an image by tag or digest.
type ResolveImageInput struct {
	Image string `json:"image"`
}

// ResolveImageResult is the image pinned by digest.
type ResolveImageResult struct {
	Digest string `json:"digest"` // sha256:...
	Ref    string `json:"ref"`    // repository@sha256:..., what the workload runs
}

// ResolveImage resolves an image to its digest and checks that it exists in its registry. A malformed
// reference or a missing image fails for good; an unreachable registry is retried.
func (r *Registry) ResolveImage(ctx context.Context, in ResolveImageInput) (ResolveImageResult, error) {
	ref, err := ParseImage(in.Image, r.Insecure)
	if err != nil {
		return ResolveImageResult{}, permanent(ErrTypeInvalidImage, err)
	}
	opts := []remote.Option{remote.WithContext(ctx)}
	if r.Transport != nil {
		opts = append(opts, remote.WithTransport(r.Transport))
	}
	desc, err := remote.Head(ref, opts...)
	if err != nil {
		if IsImageNotFound(err) {
			return ResolveImageResult{}, permanent(ErrTypeImageNotFound,
				fmt.Errorf("image %s not found in registry %s", in.Image, ref.Context().RegistryStr()))
		}
		var terr *transport.Error
		if errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden) {
			return ResolveImageResult{}, permanent(ErrTypeForbidden, fmt.Errorf("read image %s: %w", in.Image, err))
		}
		return ResolveImageResult{}, fmt.Errorf("resolve image %s: %w", in.Image, err)
	}
	return ResolveImageResult{
		Digest: desc.Digest.String(),
		Ref:    ref.Context().Digest(desc.Digest.String()).String(),
	}, nil
}

// ParseImage parses an image reference, marking loopback and listed registries as plain HTTP.
func ParseImage(image string, insecure []string) (name.Reference, error) {
	ref, err := name.ParseReference(image, name.StrictValidation)
	if err != nil {
		// a bare "repo:tag" without registry is allowed too, defaulting as docker does
		ref, err = name.ParseReference(image)
		if err != nil {
			return nil, fmt.Errorf("parse image %q: %w", image, err)
		}
	}
	reg := ref.Context().RegistryStr()
	if isLoopback(reg) || slices.Contains(insecure, reg) {
		return name.ParseReference(image, name.Insecure)
	}
	return ref, nil
}

// IsImageNotFound tells whether err says the registry has no such repository or manifest.
func IsImageNotFound(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	if terr.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range terr.Errors {
		if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
			return true
		}
	}
	return false
}

func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
