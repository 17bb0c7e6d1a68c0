package kobuild

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Builder builds Go main packages into images. It holds no state between builds beyond its Config.
type Builder struct {
	cfg Config
}

// New returns a Builder for cfg (defaulted, then validated).
func New(cfg Config) (*Builder, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("validate kobuild config: %w", err)
	}
	return &Builder{cfg: cfg}, nil
}

// Request is one build.
type Request struct {
	SourceDir   string   // the Go module's root directory
	MainPackage string   // main package relative to SourceDir ("." or "cmd/api"), as detection chose it
	Base        v1.Image // the image the binary is added onto
	GOOS        string   // default linux
	GOARCH      string   // default amd64
	Ports       []int    // TCP ports the image declares (ExposedPorts)
	Env         []string // KEY=VALUE set in the image config, over the base image's
	WorkingDir  string   // default the app dir
}

// Result is a built image, not yet pushed.
type Result struct {
	Image    v1.Image
	Digest   v1.Hash
	Binary   string // path of the binary in the image
	Size     int64  // bytes of the binary
	Duration time.Duration
}

// Build compiles req's main package and returns the image holding it.
func (b *Builder) Build(ctx context.Context, req Request) (Result, error) {
	start := time.Now()
	goos, goarch := cmp.Or(req.GOOS, DefaultGOOS), cmp.Or(req.GOARCH, DefaultGOARCH)
	pkg, err := mainPackage(req.MainPackage)
	if err != nil {
		return Result{}, err
	}
	if err := checkRequest(req); err != nil {
		return Result{}, err
	}
	baseCfg, err := req.Base.ConfigFile()
	if err != nil {
		return Result{}, fmt.Errorf("read base image config: %w", err)
	}
	if (baseCfg.OS != "" && baseCfg.OS != goos) || (baseCfg.Architecture != "" && baseCfg.Architecture != goarch) {
		return Result{}, fmt.Errorf("base image is %s/%s, build is for %s/%s", baseCfg.OS, baseCfg.Architecture, goos, goarch)
	}
	out, err := os.MkdirTemp("", "kobuild-")
	if err != nil {
		return Result{}, fmt.Errorf("create output dir: %w", err)
	}
	defer os.RemoveAll(out)
	binFile := filepath.Join(out, "app")
	if err := b.goBuild(ctx, req.SourceDir, pkg, binFile, goos, goarch); err != nil {
		return Result{}, err
	}
	bin, err := os.ReadFile(binFile)
	if err != nil {
		return Result{}, fmt.Errorf("read binary: %w", err)
	}
	target := path.Join(b.cfg.AppDir, binaryName(req.SourceDir, pkg))
	img, err := b.assemble(req, baseCfg, bin, target)
	if err != nil {
		return Result{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return Result{}, fmt.Errorf("compute image digest: %w", err)
	}
	res := Result{Image: img, Digest: digest, Binary: target, Size: int64(len(bin)), Duration: time.Since(start)}
	b.cfg.Logger.InfoContext(ctx, "go image built", "package", pkg, "digest", digest.String(), "binary_bytes", res.Size, "duration", res.Duration)
	return res, nil
}

// assemble appends the binary's layer to the base image and sets the config.
func (b *Builder) assemble(req Request, baseCfg *v1.ConfigFile, bin []byte, target string) (v1.Image, error) {
	layer, err := binaryLayer(bin, target, b.cfg.Created)
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: b.cfg.Created}
	img, err := mutate.Append(req.Base, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Author: "rainflow", CreatedBy: "rainflow kobuild " + target, Created: created},
	})
	if err != nil {
		return nil, fmt.Errorf("append binary layer: %w", err)
	}
	cfg := *baseCfg.Config.DeepCopy()
	cfg.Entrypoint = []string{target}
	cfg.Cmd = nil
	cfg.Env = mergeEnv(cfg.Env, req.Env)
	cfg.WorkingDir = cmp.Or(req.WorkingDir, b.cfg.AppDir)
	cfg.User = b.cfg.User
	if len(req.Ports) > 0 {
		cfg.ExposedPorts = map[string]struct{}{}
		for _, p := range req.Ports {
			cfg.ExposedPorts[strconv.Itoa(p)+"/tcp"] = struct{}{}
		}
	}
	if img, err = mutate.Config(img, cfg); err != nil {
		return nil, fmt.Errorf("set image config: %w", err)
	}
	if img, err = mutate.CreatedAt(img, created); err != nil {
		return nil, fmt.Errorf("set image creation time: %w", err)
	}
	return img, nil
}

// Push writes img to ref with the caller's remote options (auth, transport, ...).
func Push(ctx context.Context, ref name.Reference, img v1.Image, opts ...remote.Option) error {
	opts = append(slices.Clone(opts), remote.WithContext(ctx))
	if err := remote.Write(ref, img, opts...); err != nil {
		return fmt.Errorf("push image %s: %w", ref, err)
	}
	return nil
}

// Base fetches the base image at ref for goos/goarch (choosing from an index when ref is one).
func Base(ctx context.Context, ref name.Reference, goos, goarch string, opts ...remote.Option) (v1.Image, error) {
	opts = append(slices.Clone(opts), remote.WithContext(ctx),
		remote.WithPlatform(v1.Platform{OS: cmp.Or(goos, DefaultGOOS), Architecture: cmp.Or(goarch, DefaultGOARCH)}))
	img, err := remote.Image(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("fetch base image %s: %w", ref, err)
	}
	return img, nil
}

func checkRequest(req Request) error {
	if req.SourceDir == "" {
		return fmt.Errorf("source dir is required")
	}
	if req.Base == nil {
		return fmt.Errorf("base image is required")
	}
	for _, p := range req.Ports {
		if p < 1 || p > 65535 {
			return fmt.Errorf("port %d is out of range", p)
		}
	}
	for _, kv := range req.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("image env %q is not KEY=VALUE", kv)
		}
	}
	return nil
}

// mergeEnv returns base with every KEY=VALUE of over applied: a key already in base is replaced in
// place, a new one is appended in order.
func mergeEnv(base, over []string) []string {
	out := slices.Clone(base)
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		i := slices.IndexFunc(out, func(e string) bool { return strings.HasPrefix(e, k+"=") })
		if i >= 0 {
			out[i] = kv
		} else {
			out = append(out, kv)
		}
	}
	return out
}

// binaryName names the binary after its package directory, or after the source directory for ".".
func binaryName(sourceDir, pkg string) string {
	n := path.Base(pkg)
	if pkg == "." {
		n = filepath.Base(filepath.Clean(sourceDir))
	}
	if n == "" || n == "." || n == "/" || strings.HasPrefix(n, ".") {
		return "app"
	}
	return n
}
