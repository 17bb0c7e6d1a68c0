package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"

	"github.com/rainflow/rainflow/activities"
	"github.com/rainflow/rainflow/build/buildkit"
	"github.com/rainflow/rainflow/build/detect"
	"github.com/rainflow/rainflow/build/generate"
	"github.com/rainflow/rainflow/build/gitsource"
	"github.com/rainflow/rainflow/build/kobuild"
	"github.com/rainflow/rainflow/collector"
	"github.com/rainflow/rainflow/opevents"
	"github.com/rainflow/rainflow/store"
	"github.com/rainflow/rainflow/workers"
)

// buildsConfig is the worker's part that builds (the builds task queue).
type buildsConfig struct {
	Enabled   bool
	Registry  string // the platform's registry (host:port), where built images go
	GoBase    string // the image the Go builder adds binaries onto; empty: no Go builder
	Dir       string // work dir of builds and the Go build cache
	MaxBuilds int
	BuildKit  string // buildkitd's address; empty: no Dockerfile or generated builds
	// GoBuildImage is the builder image of generated Go builds (a Go toolchain); empty: the default,
	// <registry>/rainflow/base/go:{version}
	GoBuildImage string

	// AllowLocalGit lets builds read file:// git repositories on the worker's disk (tests only).
	AllowLocalGit bool
	GitKnownHosts string // known_hosts file of git's SSH servers; empty: $SSH_KNOWN_HOSTS or ~/.ssh/known_hosts
}

func (c *buildsConfig) define(f *flags) {
	var enabled string
	f.str(&enabled, "builds", "RAINFLOW_BUILDS", "true", "also run builds (the builds task queue): true or false")
	f.after(func() { c.Enabled = enabled == "true" })
	f.str(&c.Registry, "registry", "RAINFLOW_REGISTRY", "", "the platform's registry (host:port) built images are pushed to")
	f.str(&c.GoBase, "go-base", "RAINFLOW_GO_BASE", "", "base image of Go builds (ko-style); empty: Go sources need a Dockerfile")
	f.str(&c.Dir, "build-dir", "RAINFLOW_BUILD_DIR", "", "folder of builds' sources and the Go build cache (default: the OS temp folder)")
	f.integer(&c.MaxBuilds, "max-builds", "", 2, "builds run at once")
	var allowLocalGit string
	f.str(&allowLocalGit, "allow-local-git", "RAINFLOW_ALLOW_LOCAL_GIT", "false", "let builds read file:// git repositories on this machine (tests only): true or false")
	f.after(func() { c.AllowLocalGit = allowLocalGit == "true" })
	f.str(&c.GitKnownHosts, "git-known-hosts", "RAINFLOW_GIT_KNOWN_HOSTS", "", "known_hosts file checking git's SSH servers (default: ~/.ssh/known_hosts)")
	f.str(&c.GoBuildImage, "go-build-image", "RAINFLOW_GO_BUILD_IMAGE", "",
		"builder image of generated Go builds, a Go toolchain (default: <registry>/rainflow/base/go:{version})")
	f.str(&c.BuildKit, "buildkit-addr", "RAINFLOW_BUILDKIT_ADDR", os.Getenv("BUILDKIT_HOST"),
		"buildkitd's address (unix://..., tcp://...) for Dockerfile and generated builds; empty: none")
}

func (c buildsConfig) validate() error {
	if !c.Enabled {
		return nil
	}
	if c.MaxBuilds <= 0 {
		return errors.New("max-builds must be positive")
	}
	if c.BuildKit != "" {
		if err := (buildkit.Config{Addr: c.BuildKit}).Validate(); err != nil {
			return err
		}
	}
	if err := c.images().Validate(); err != nil {
		return fmt.Errorf("base images of generated builds: %w", err)
	}
	if c.Dir != "" && !filepath.IsAbs(c.Dir) {
		return fmt.Errorf("build-dir %q must be absolute", c.Dir)
	}
	return nil
}

// images are the base images of generated builds: the defaults under the registry, with the Go
// builder image given.
func (c buildsConfig) images() generate.Config {
	images := generate.DefaultConfig(c.Registry)
	if c.GoBuildImage != "" {
		images = images.WithBuildImage(detect.Go, c.GoBuildImage)
	}
	return images
}

// newBuildsWorker assembles the builds task queue's worker; a build's output goes to the collector
// through events (when there is one).
func newBuildsWorker(tc client.Client, st *store.Store, cfg workerConfig, events *opevents.Emitter,
	intercept []interceptor.WorkerInterceptor, logger *slog.Logger) (worker.Worker, error) {
	dir := cfg.Builds.Dir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "rainflow-builds")
	}
	if err := os.MkdirAll(filepath.Join(dir, "work"), 0o700); err != nil {
		return nil, fmt.Errorf("create build dir: %w", err)
	}
	builds := &activities.Builds{
		Registry: &activities.Registry{Insecure: cfg.InsecureRegistry},
		WorkDir:  filepath.Join(dir, "work"),
		GoBase:   cfg.Builds.GoBase,
		Git:      activities.GitConfig{AllowLocal: cfg.Builds.AllowLocalGit, HostKeys: gitHostKeys(cfg.Builds.GitKnownHosts)},
		BuildKit: activities.BuildKitConfig{Addr: cfg.Builds.BuildKit, Images: cfg.Builds.images()},
		// source credentials are opened as secret env is: from the store, with its keyring
		Credentials: st,
	}
	key, err := buildCacheKey(filepath.Join(dir, "cache-key"))
	if err != nil {
		return nil, err
	}
	builds.BuildKit.CacheKey = key
	if cfg.Builds.GoBase != "" {
		gob, err := kobuild.New(kobuild.Config{CacheDir: filepath.Join(dir, "gocache"), Logger: logger.With("builder", "ko")})
		if err != nil {
			return nil, err
		}
		builds.Go = gob
	}
	if events != nil {
		builds.Output = func(l activities.BuildOutputLine) {
			events.Emit(opevents.Line{Kind: collector.KindBuild, Tenant: l.Ref.Tenant, App: l.Ref.App, Component: l.Ref.Component,
				Operation: l.OperationID, Step: l.Step, Level: l.Level, Message: l.Message, Time: l.Time})
		}
	}
	return workers.NewBuilds(tc, workers.BuildActivities{Builds: builds, Store: &activities.BuildStore{Versions: st, Registry: builds.Registry}},
		workers.Options{MaxConcurrentActivities: cfg.Builds.MaxBuilds, StopTimeout: cfg.StopTimeout, Interceptors: intercept}), nil
}

// buildCacheKey reads the key of the build-cache ids from file, creating it (32 random bytes, owner
// only) the first time; workers that share a buildkitd share the file to share the caches.
func buildCacheKey(file string) ([]byte, error) {
	key, err := os.ReadFile(file)
	if err == nil && len(key) >= 32 {
		return key, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read build cache key: %w", err)
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("create build cache key: %w", err)
	}
	if err := os.WriteFile(file, key, 0o600); err != nil {
		return nil, fmt.Errorf("create build cache key: %w", err)
	}
	return key, nil
}

// gitHostKeys checks git's SSH servers against file, or the default known_hosts when it is empty.
func gitHostKeys(file string) gitsource.HostKeys {
	if file == "" {
		return gitsource.HostKeys{}
	}
	return gitsource.HostKeys{KnownHostsFiles: []string{file}}
}
