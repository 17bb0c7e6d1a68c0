package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rainflow/rainflow/build/artifact"
	"github.com/rainflow/rainflow/imageref"
)

// SourceStore keeps uploaded source archives until their build reads them.
type SourceStore interface {
	// PushArchive stores the archive at ref (repository:tag) and answers it by digest.
	PushArchive(ctx context.Context, ref string, archive []byte) (string, error)
}

// registrySources keeps archives in the platform's registry as OCI artifacts (build/artifact).
type registrySources struct {
	insecure  []string
	transport http.RoundTripper
}

// NewRegistrySources answers a SourceStore on the registries, plain HTTP for the insecure ones and
// loopback.
func NewRegistrySources(insecure []string, transport http.RoundTripper) SourceStore {
	return &registrySources{insecure: insecure, transport: transport}
}

func (r *registrySources) PushArchive(ctx context.Context, ref string, archive []byte) (string, error) {
	parsed, err := imageref.Parse(ref, r.insecure)
	if err != nil {
		return "", err
	}
	tag, ok := parsed.(name.Tag)
	if !ok {
		return "", fmt.Errorf("archive reference %q is not a tag", ref)
	}
	var opts []remote.Option
	if r.transport != nil {
		opts = append(opts, remote.WithTransport(r.transport))
	}
	return artifact.Push(ctx, tag, archive, opts...)
}
