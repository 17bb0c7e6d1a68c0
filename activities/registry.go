package activities

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rainflow/rainflow/imageref"
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
	ref, err := imageref.Parse(in.Image, r.Insecure)
	if err != nil {
		return ResolveImageResult{}, permanent(ErrTypeInvalidImage, err)
	}
	opts := []remote.Option{remote.WithContext(ctx)}
	if r.Transport != nil {
		opts = append(opts, remote.WithTransport(r.Transport))
	}
	desc, err := remote.Head(ref, opts...)
	if err != nil {
		if imageref.IsNotFound(err) {
			return ResolveImageResult{}, permanent(ErrTypeImageNotFound,
				fmt.Errorf("image %s not found in registry %s", in.Image, ref.Context().RegistryStr()))
		}
		if imageref.IsDenied(err) {
			return ResolveImageResult{}, permanent(ErrTypeForbidden, fmt.Errorf("read image %s: %w", in.Image, err))
		}
		return ResolveImageResult{}, fmt.Errorf("resolve image %s: %w", in.Image, err)
	}
	return ResolveImageResult{
		Digest: desc.Digest.String(),
		Ref:    ref.Context().Digest(desc.Digest.String()).String(),
	}, nil
}
