// Package kobuild builds a Go main package into an OCI image without any daemon, the way ko does:
// `go build` for the target platform, then one deterministic layer holding the binary appended onto
// a base image, which is pushed to a registry. The same source and settings give the same digest.
package kobuild

import (
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"time"
)

// Defaults for Config.
const (
	DefaultGoBinary = "go"
	DefaultAppDir   = "/app"
	DefaultUser     = "65532:65532" // the conventional "nonroot" user of distroless images
	DefaultGOOS     = "linux"
	DefaultGOARCH   = "amd64"
)

// Config is how one builder runs; it is the same for every build it does.
type Config struct {
	GoBinary    string       // the go command; looked up on PATH when it has no slash
	CacheDir    string       // GOCACHE for every build; required, kept warm between builds
	ModCacheDir string       // GOMODCACHE; empty inherits the process environment's
	AppDir      string       // directory in the image holding the binary
	User        string       // image config User
	Created     time.Time    // creation time written into the image (fixed, for reproducible digests)
	Env         []string     // extra KEY=VALUE for `go build` (GOPROXY, GOFLAGS=-mod=vendor, ...); last wins
	Logger      *slog.Logger // nil discards
}

// WithDefaults returns c with its zero fields defaulted.
func (c Config) WithDefaults() Config {
	if c.GoBinary == "" {
		c.GoBinary = DefaultGoBinary
	}
	if c.AppDir == "" {
		c.AppDir = DefaultAppDir
	}
	if c.User == "" {
		c.User = DefaultUser
	}
	if c.Created.IsZero() {
		c.Created = time.Unix(0, 0).UTC()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports what makes c unusable.
func (c Config) Validate() error {
	var errs []error
	if c.CacheDir == "" {
		errs = append(errs, errors.New("cache dir is required"))
	} else if !path.IsAbs(c.CacheDir) {
		errs = append(errs, fmt.Errorf("cache dir %q is not absolute", c.CacheDir))
	}
	if c.ModCacheDir != "" && !path.IsAbs(c.ModCacheDir) {
		errs = append(errs, fmt.Errorf("module cache dir %q is not absolute", c.ModCacheDir))
	}
	if !path.IsAbs(c.AppDir) || path.Clean(c.AppDir) == "/" {
		errs = append(errs, fmt.Errorf("app dir %q must be an absolute directory below /", c.AppDir))
	}
	for _, kv := range c.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			errs = append(errs, fmt.Errorf("build env %q is not KEY=VALUE", kv))
		}
	}
	return errors.Join(errs...)
}
