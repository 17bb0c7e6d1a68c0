package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

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

// ErrTypeDeleteUnsupported: the registry does not allow deletes (distribution answers 405
// UNSUPPORTED unless storage.delete.enabled); retrying will not help.
const ErrTypeDeleteUnsupported = "RegistryDeleteUnsupported"

// DeleteImageInput names an image by digest (repository@sha256:...).
type DeleteImageInput struct {
	Image string `json:"image"`
}

// DeleteImageResult says whether the registry still had the image.
type DeleteImageResult struct {
	// Gone says the registry had no such manifest (deleted before): a retried delete answers it.
	Gone bool `json:"gone,omitempty"`
}

// DeleteImage deletes an image's manifest from its registry by digest (its layers go when the
// registry collects garbage). A registry that answers "not found" had it deleted before; one that
// does not allow deletes fails for good (ErrTypeDeleteUnsupported), as does a reference by tag.
func (r *Registry) DeleteImage(ctx context.Context, in DeleteImageInput) (DeleteImageResult, error) {
	ref, err := imageref.Parse(in.Image, r.Insecure)
	if err != nil {
		return DeleteImageResult{}, permanent(ErrTypeInvalidImage, err)
	}
	if _, ok := ref.(name.Digest); !ok {
		return DeleteImageResult{}, permanent(ErrTypeInvalidImage, fmt.Errorf("delete image %s: not a reference by digest", in.Image))
	}
	opts := []remote.Option{remote.WithContext(ctx)}
	if r.Transport != nil {
		opts = append(opts, remote.WithTransport(r.Transport))
	}
	err = remote.Delete(ref, opts...)
	switch {
	case err == nil:
		return DeleteImageResult{}, nil
	case imageref.IsNotFound(err):
		return DeleteImageResult{Gone: true}, nil
	case isUnsupported(err):
		return DeleteImageResult{}, permanent(ErrTypeDeleteUnsupported,
			fmt.Errorf("delete image %s: registry %s does not allow deletes: %w", in.Image, ref.Context().RegistryStr(), err))
	case imageref.IsDenied(err):
		return DeleteImageResult{}, permanent(ErrTypeForbidden, fmt.Errorf("delete image %s: %w", in.Image, err))
	}
	return DeleteImageResult{}, fmt.Errorf("delete image %s: %w", in.Image, err)
}

// isUnsupported tells whether a registry error says the operation is not allowed there at all.
func isUnsupported(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	for _, d := range terr.Errors {
		if d.Code == transport.UnsupportedErrorCode {
			return true
		}
	}
	return terr.StatusCode == http.StatusMethodNotAllowed
}
