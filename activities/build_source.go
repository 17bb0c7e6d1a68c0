package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/rainflow/rainflow/build/kobuild"
	"github.com/rainflow/rainflow/contract"
)

// buildSource builds an extracted source tree with the builder that fits it.
func (b *Builds) buildSource(ctx context.Context, in BuildImageInput, root string, repo name.Repository, out *buildLog) (contract.BuildResult, error) {
	dir, err := sourceDir(root, in.Settings.Dir)
	if err != nil {
		return contract.BuildResult{}, permanent(ErrTypeInvalidSource, err)
	}
	out.phase("detect", "detect what "+orDefault(in.Settings.Dir, "the source")+" is")
	plan, err := planBuild(dir, in.Settings)
	if err != nil {
		return contract.BuildResult{}, permanent(ErrTypeInvalidSource, err)
	}
	out.info(plan.describe())
	switch plan.builder {
	case contract.BuilderKo:
		return b.buildGo(ctx, in, dir, plan, repo, out)
	case contract.BuilderDockerfile, contract.BuilderGenerated:
		return b.buildOnBuildKit(ctx, in, dir, plan, repo, out)
	default:
		return contract.BuildResult{}, permanent(ErrTypeInvalidSource,
			fmt.Errorf("the %s builder is not available on this worker", plan.builder))
	}
}

// buildGo builds the plan's main package ko-style onto GoBase.
func (b *Builds) buildGo(ctx context.Context, in BuildImageInput, dir string, plan buildPlan, repo name.Repository, out *buildLog) (contract.BuildResult, error) {
	if b.Go == nil || b.GoBase == "" {
		return contract.BuildResult{}, permanent(ErrTypeInvalidSource, errors.New("the go builder is not configured on this worker"))
	}
	baseRef, err := name.ParseReference(b.GoBase, b.nameOpts(b.GoBase)...)
	if err != nil {
		return contract.BuildResult{}, fmt.Errorf("go base image %q: %w", b.GoBase, err)
	}
	base, err := kobuild.Base(ctx, baseRef, "", "", b.remoteOpts(ctx)...)
	if err != nil {
		return contract.BuildResult{}, err
	}
	out.phase("build", "go build "+plan.mainPackage)
	res, err := b.Go.Build(ctx, kobuild.Request{SourceDir: dir, MainPackage: plan.mainPackage, Base: base, Ports: plan.ports, Env: plan.env})
	var be *kobuild.BuildError
	if errors.As(err, &be) {
		for _, line := range splitLines(be.Output) {
			out.write("error", line)
		}
		return contract.BuildResult{}, permanent(ErrTypeBuildFailed, fmt.Errorf("step build: %w", err))
	}
	if err != nil {
		return contract.BuildResult{}, fmt.Errorf("build go image: %w", err)
	}
	out.info(fmt.Sprintf("built %s (%d-byte binary) in %s", res.Binary, res.Size, res.Duration.Round(1e6)))
	return b.push(ctx, in, repo, res.Image, contract.BuilderKo, "go", out)
}

// sourceDir is the settings' subdirectory of root, which must stay inside it.
func sourceDir(root, sub string) (string, error) {
	if sub == "" {
		return root, nil
	}
	if !filepath.IsLocal(sub) {
		return "", fmt.Errorf("directory %q is not inside the source", sub)
	}
	dir := filepath.Join(root, sub)
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("directory %q: %w", sub, errors.Unwrap(err))
	}
	rootResolved, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(rootResolved, resolved); err != nil || !filepath.IsLocal(rel) && rel != "." {
		return "", fmt.Errorf("directory %q leads outside the source", sub)
	}
	if st, err := os.Stat(resolved); err != nil || !st.IsDir() {
		return "", fmt.Errorf("%q is not a directory of the source", sub)
	}
	return resolved, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// splitLines splits output into its non-empty lines.
func splitLines(output string) []string {
	var lines []string
	for _, l := range strings.Split(output, "\n") {
		if l = strings.TrimRight(l, "\r"); strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
