// Package buildkit builds Dockerfiles on a BuildKit daemon (buildkitd) through its client library:
// the dockerfile.v0 frontend, the build context and Dockerfile sent from local folders, the image
// pushed to a registry, the cache exported to and imported from the registry per component. The
// build's progress streams as output lines; a failed build answers a BuildError naming the step.
package buildkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sync/errgroup"
)

// Config is how to reach buildkitd.
type Config struct {
	// Addr is buildkitd's address: unix:///run/buildkit/buildkitd.sock, tcp://host:1234.
	Addr string
	// TailLines is how many output lines of a failed step its BuildError keeps; default 20.
	TailLines int
	Logger    *slog.Logger
}

// Validate says whether c can reach a daemon.
func (c Config) Validate() error {
	if c.Addr == "" {
		return errors.New("buildkit address is empty")
	}
	scheme, _, ok := strings.Cut(c.Addr, "://")
	if !ok || (scheme != "unix" && scheme != "tcp") {
		return fmt.Errorf("buildkit address %q is not unix://path or tcp://host:port", c.Addr)
	}
	if c.TailLines < 0 {
		return errors.New("buildkit tail lines must not be negative")
	}
	return nil
}

// Client builds on one buildkitd; it dials for each build (it holds no connection).
type Client struct {
	cfg Config
}

// New returns a client of the daemon at cfg.Addr.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.TailLines == 0 {
		cfg.TailLines = DefaultTailLines
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Client{cfg: cfg}, nil
}

// Addr is the daemon's address.
func (c *Client) Addr() string { return c.cfg.Addr }

// Request is one Dockerfile build.
type Request struct {
	ContextDir     string // the build context
	DockerfileDir  string // the folder of the Dockerfile; default ContextDir
	DockerfileName string // default "Dockerfile"
	Target         string // the stage to build; "" the last
	BuildArgs      map[string]string
	// Push is where the image goes: repository:tag.
	Push string
	// Insecure pushes to (and reads the cache from) the registry over plain HTTP.
	Insecure bool
	// CacheRef is the registry reference of the build cache (imported, then exported with mode=max);
	// empty: no registry cache.
	CacheRef string
	// Output receives the build's output lines; nil drops them.
	Output func(Line)
}

func (r Request) validate() error {
	if r.ContextDir == "" || !filepath.IsAbs(r.ContextDir) {
		return fmt.Errorf("build context %q is not an absolute folder", r.ContextDir)
	}
	if r.DockerfileDir != "" && !filepath.IsAbs(r.DockerfileDir) {
		return fmt.Errorf("dockerfile folder %q is not absolute", r.DockerfileDir)
	}
	if r.DockerfileName != "" && !filepath.IsLocal(r.DockerfileName) {
		return fmt.Errorf("dockerfile %q is not inside its folder", r.DockerfileName)
	}
	if r.Push == "" {
		return errors.New("build has no image to push")
	}
	return nil
}

// Result is a pushed build.
type Result struct {
	Digest   string // sha256:... of the pushed manifest
	Duration time.Duration
	Steps    int // vertices completed
	Cached   int // of which from the cache
}

// Build runs req on the daemon and pushes the image. A failing Dockerfile answers a *BuildError;
// cancelling ctx stops the solve.
func (c *Client) Build(ctx context.Context, req Request) (Result, error) {
	if err := req.validate(); err != nil {
		return Result{}, err
	}
	dfDir, dfName := req.DockerfileDir, req.DockerfileName
	if dfDir == "" {
		dfDir = req.ContextDir
	}
	if dfName == "" {
		dfName = "Dockerfile"
	}
	if _, err := os.Stat(filepath.Join(dfDir, dfName)); err != nil {
		return Result{}, fmt.Errorf("read dockerfile: %w", err)
	}
	contextFS, err := fsutil.NewFS(req.ContextDir)
	if err != nil {
		return Result{}, fmt.Errorf("open build context: %w", err)
	}
	dockerfileFS, err := fsutil.NewFS(dfDir)
	if err != nil {
		return Result{}, fmt.Errorf("open dockerfile folder: %w", err)
	}
	bk, err := client.New(ctx, c.cfg.Addr)
	if err != nil {
		return Result{}, fmt.Errorf("connect to buildkitd %s: %w", c.cfg.Addr, err)
	}
	defer bk.Close()

	start := time.Now()
	opt := solveOpt(req, dfName)
	opt.LocalMounts = map[string]fsutil.FS{"context": contextFS, "dockerfile": dockerfileFS}
	tr := newTracker(req.Output, c.cfg.TailLines)
	statusCh := make(chan *client.SolveStatus)
	var resp *client.SolveResponse
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		resp, err = bk.Solve(gctx, nil, opt, statusCh) // closes statusCh when done
		return err
	})
	g.Go(func() error {
		for s := range statusCh {
			tr.update(s)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return Result{}, fmt.Errorf("build image: %w", ctx.Err())
		}
		return Result{}, tr.buildError(err)
	}
	dgst := resp.ExporterResponse["containerimage.digest"]
	if dgst == "" {
		return Result{}, errors.New("build image: buildkitd answered no image digest")
	}
	res := Result{Digest: dgst, Duration: time.Since(start), Steps: tr.done, Cached: tr.cached}
	c.cfg.Logger.Debug("built image", "image", req.Push, "digest", dgst, "duration", res.Duration, "steps", res.Steps, "cached", res.Cached)
	return res, nil
}

// solveOpt is the solve of req without its local mounts.
func solveOpt(req Request, dockerfileName string) client.SolveOpt {
	attrs := map[string]string{"filename": dockerfileName}
	if req.Target != "" {
		attrs["target"] = req.Target
	}
	for k, v := range req.BuildArgs {
		attrs["build-arg:"+k] = v
	}
	export := map[string]string{"name": req.Push, "push": "true"}
	if req.Insecure {
		export["registry.insecure"] = "true"
	}
	opt := client.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: attrs,
		Exports:       []client.ExportEntry{{Type: client.ExporterImage, Attrs: export}},
	}
	if req.CacheRef != "" {
		imp := map[string]string{"ref": req.CacheRef}
		exp := map[string]string{"ref": req.CacheRef, "mode": "max"}
		if req.Insecure {
			imp["registry.insecure"] = "true"
			exp["registry.insecure"] = "true"
		}
		opt.CacheImports = []client.CacheOptionsEntry{{Type: "registry", Attrs: imp}}
		opt.CacheExports = []client.CacheOptionsEntry{{Type: "registry", Attrs: exp}}
	}
	return opt
}
