// Package artifact keeps an uploaded source archive in the platform's registry until a build reads it:
// an OCI image of one layer holding the archive's bytes as they were uploaded, pushed by the API and
// pulled by the build worker, so the two share no disk. The artifact's digest pins the source: it is
// the revision of a build from an archive.
package artifact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Media types of the artifact.
const (
	ConfigMediaType types.MediaType = "application/vnd.rainflow.source.config.v1+json"
	LayerMediaType  types.MediaType = "application/vnd.rainflow.source.archive.v1"
)

// Push stores the archive as an artifact at ref (a tag) and answers it by digest (repository@sha256:...).
func Push(ctx context.Context, ref name.Tag, archive []byte, opts ...remote.Option) (string, error) {
	img, err := mutate.AppendLayers(mutate.MediaType(mutate.ConfigMediaType(empty.Image, ConfigMediaType), types.OCIManifestSchema1),
		static.NewLayer(archive, LayerMediaType))
	if err != nil { // an in-memory layer cannot fail to append
		return "", fmt.Errorf("assemble source artifact: %w", err)
	}
	if err := remote.Write(ref, img, append(opts, remote.WithContext(ctx))...); err != nil {
		return "", fmt.Errorf("push source artifact %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("digest source artifact: %w", err)
	}
	return ref.Context().Digest(d.String()).String(), nil
}

// ErrNotArtifact says the image at a reference is not a source artifact.
var ErrNotArtifact = errors.New("not a source archive artifact")

// Fetch writes the artifact's archive (at most maxBytes) to a new file in dir and answers its path.
func Fetch(ctx context.Context, ref name.Digest, dir string, maxBytes int64, opts ...remote.Option) (string, error) {
	img, err := remote.Image(ref, append(opts, remote.WithContext(ctx))...)
	if err != nil {
		return "", fmt.Errorf("read source artifact %s: %w", ref, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return "", fmt.Errorf("read source artifact %s: %w", ref, err)
	}
	if len(layers) != 1 {
		return "", fmt.Errorf("source artifact %s has %d layers: %w", ref, len(layers), ErrNotArtifact)
	}
	if mt, err := layers[0].MediaType(); err != nil || mt != LayerMediaType {
		return "", fmt.Errorf("source artifact %s holds %q: %w", ref, mt, ErrNotArtifact)
	}
	if size, err := layers[0].Size(); err == nil && size > maxBytes {
		return "", fmt.Errorf("source archive of %d bytes is over the limit of %d", size, maxBytes)
	}
	rc, err := layers[0].Compressed() // the bytes as uploaded: the layer is stored as it is
	if err != nil {
		return "", fmt.Errorf("read source archive: %w", err)
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, "source-*.archive")
	if err != nil {
		return "", fmt.Errorf("create archive file: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(rc, maxBytes+1))
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err == nil && n > maxBytes {
		err = fmt.Errorf("source archive is over the limit of %d bytes", maxBytes)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("fetch source archive: %w", err)
	}
	return f.Name(), nil
}
