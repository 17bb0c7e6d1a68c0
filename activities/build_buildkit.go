package activities

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rainflow/rainflow/build/buildkit"
	"github.com/rainflow/rainflow/build/generate"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/imageref"
)

// BuildKitConfig is how the worker builds Dockerfiles, the source's own or generated ones.
type BuildKitConfig struct {
	// Addr is buildkitd's address (unix://..., tcp://...); empty: no Dockerfile builds on this worker.
	Addr string
	// Images are the builder and runtime base images of generated Dockerfiles, per language.
	Images generate.Config
	// CacheKey keys the ids of the build-cache mounts of generated Dockerfiles: an HMAC of the
	// component's repository, so that no Dockerfile on the same buildkitd can name (read or poison)
	// another component's cache. Workers sharing a buildkitd share the key to share the caches.
	CacheKey []byte
}

// cacheScope is the component's build-cache id: unguessable without the key.
func (c BuildKitConfig) cacheScope(repo name.Repository) string {
	m := hmac.New(sha256.New, c.CacheKey)
	m.Write([]byte(repo.RepositoryStr()))
	return "rf-" + hex.EncodeToString(m.Sum(nil))[:32]
}

// buildCacheTag is the tag of a component's BuildKit cache in its repository.
const buildCacheTag = "buildcache"

// buildOnBuildKit builds the plan's Dockerfile (the source's, or one generated from detection) on
// buildkitd, which pushes the image to the component's repository.
func (b *Builds) buildOnBuildKit(ctx context.Context, in BuildImageInput, dir string, plan buildPlan, repo name.Repository, out *buildLog) (contract.BuildResult, error) {
	if b.BuildKit.Addr == "" {
		return contract.BuildResult{}, permanent(ErrTypeInvalidSource, fmt.Errorf("the %s builder is not available on this worker: it has no buildkitd", plan.builder))
	}
	bk, err := buildkit.New(buildkit.Config{Addr: b.BuildKit.Addr})
	if err != nil {
		return contract.BuildResult{}, permanent(ErrTypeInvalidSource, err)
	}
	dfDir, dfName, err := b.dockerfileOf(in, dir, plan, repo, out)
	if err != nil {
		return contract.BuildResult{}, err
	}
	if dfDir != dir {
		defer os.RemoveAll(dfDir)
	}
	tag := repo.Tag("build-" + in.OperationID)
	out.phase("build", fmt.Sprintf("build %s on BuildKit", dfName))
	res, err := bk.Build(ctx, buildkit.Request{
		ContextDir: dir, DockerfileDir: dfDir, DockerfileName: dfName,
		Target: in.Settings.Target, BuildArgs: in.Settings.BuildArgs,
		Push: tag.String(), CacheRef: repo.Tag(buildCacheTag).String(),
		Insecure: imageref.PlainHTTP(repo.RegistryStr(), b.Registry.Insecure),
		Output:   func(l buildkit.Line) { out.write(l.Level, l.Message) },
	})
	var be *buildkit.BuildError
	if errors.As(err, &be) {
		return contract.BuildResult{}, permanent(ErrTypeBuildFailed, fmt.Errorf("step build: %w", err))
	}
	if err != nil {
		return contract.BuildResult{}, fmt.Errorf("build on buildkit: %w", err)
	}
	out.info(fmt.Sprintf("built %s in %s (%d steps, %d cached)", res.Digest, res.Duration.Round(1e6), res.Steps, res.Cached))
	built := repo.Digest(res.Digest)
	out.phase("push", "pushed "+built.String())
	img, err := remote.Image(built, b.remoteOpts(ctx)...)
	if err != nil {
		return contract.BuildResult{}, fmt.Errorf("read built image %s: %w", built, err)
	}
	size, err := imageSize(img)
	if err != nil {
		return contract.BuildResult{}, err
	}
	return contract.BuildResult{Image: built.String(), Revision: in.Revision, Builder: plan.builder, Language: plan.language, Size: size}, nil
}

// dockerfileOf answers the folder and name of the Dockerfile to build: the source's (Settings.Dockerfile
// inside dir), or one generated from detection into a folder of its own (the caller removes it).
func (b *Builds) dockerfileOf(in BuildImageInput, dir string, plan buildPlan, repo name.Repository, out *buildLog) (string, string, error) {
	if plan.builder == contract.BuilderDockerfile {
		rel := orDefault(in.Settings.Dockerfile, "Dockerfile")
		if !filepath.IsLocal(rel) {
			return "", "", permanent(ErrTypeInvalidSource, fmt.Errorf("dockerfile %q is not inside the source", rel))
		}
		dfDir, err := sourceDir(dir, filepath.Dir(rel))
		if err != nil {
			return "", "", permanent(ErrTypeInvalidSource, fmt.Errorf("dockerfile %q: %w", rel, err))
		}
		if st, err := os.Lstat(filepath.Join(dfDir, filepath.Base(rel))); err != nil || !st.Mode().IsRegular() {
			return "", "", permanent(ErrTypeInvalidSource, fmt.Errorf("dockerfile %q is not a file of the source", rel))
		}
		return dfDir, filepath.Base(rel), nil
	}
	images := b.BuildKit.Images
	images.CacheScope = b.BuildKit.cacheScope(repo) // the component's own build caches
	text, err := images.Dockerfile(plan.detected)
	if err != nil {
		return "", "", permanent(ErrTypeInvalidSource, fmt.Errorf("generate a Dockerfile: %w", err))
	}
	dfDir, err := os.MkdirTemp(b.WorkDir, "dockerfile-")
	if err != nil {
		return "", "", fmt.Errorf("create dockerfile dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dfDir, "Dockerfile"), text, 0o600); err != nil {
		_ = os.RemoveAll(dfDir)
		return "", "", fmt.Errorf("write generated dockerfile: %w", err)
	}
	out.info("generated Dockerfile:")
	for _, l := range splitLines(string(text)) {
		out.info("  " + l)
	}
	return dfDir, "Dockerfile", nil
}
