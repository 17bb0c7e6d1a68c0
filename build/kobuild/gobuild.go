package kobuild

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"
	"time"
)

// passEnv are the variables taken from the process environment for `go build`: where the toolchain
// and module caches live and how modules are fetched. Nothing that changes the output is passed.
var passEnv = []string{"PATH", "HOME", "TMPDIR", "GOPATH", "GOMODCACHE", "GOPROXY", "GOSUMDB",
	"GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GOINSECURE", "GOROOT"}

// mainPackage checks a main package path relative to the module root and returns it as a
// `go build` argument ("./cmd/api" or "."): never a flag, never outside the source directory.
func mainPackage(pkg string) (string, error) {
	if pkg == "" {
		pkg = "."
	}
	if strings.ContainsAny(pkg, "\\\x00") || path.IsAbs(pkg) {
		return "", fmt.Errorf("main package %q must be a relative slash path", pkg)
	}
	clean := path.Clean(pkg)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("main package %q is outside the source directory", pkg)
	}
	if clean == "." {
		return ".", nil
	}
	return "./" + clean, nil
}

// goBuild compiles pkg in dir into out, statically, for goos/goarch.
func (b *Builder) goBuild(ctx context.Context, dir, pkg, out, goos, goarch string) error {
	args := []string{"build", "-trimpath", "-buildvcs=false", "-o", out, pkg}
	cmd := exec.CommandContext(ctx, b.cfg.GoBinary, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second // after a cancel, stop waiting for the toolchain's children
	cmd.Env = b.buildEnv(goos, goarch)
	var tail tailBuffer
	cmd.Stdout, cmd.Stderr = &tail, &tail
	b.cfg.Logger.DebugContext(ctx, "go build", "dir", dir, "package", pkg, "goos", goos, "goarch", goarch)
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("go build %s: %w", pkg, ctx.Err())
		}
		return &BuildError{Package: pkg, Err: err, Output: tail.String()}
	}
	return nil
}

func (b *Builder) buildEnv(goos, goarch string) []string {
	var env []string
	for _, k := range passEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env,
		"CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch, "GOCACHE="+b.cfg.CacheDir,
		"GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local")
	if b.cfg.ModCacheDir != "" {
		env = append(env, "GOMODCACHE="+b.cfg.ModCacheDir)
	}
	return append(env, b.cfg.Env...) // exec keeps the last value of a duplicated key
}

// BuildError is a failed `go build`: the package, how it ended, and the last lines it printed.
type BuildError struct {
	Package string
	Err     error
	Output  string
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("go build %s: %v: %s", e.Package, e.Err, strings.TrimSpace(e.Output))
}

func (e *BuildError) Unwrap() error { return e.Err }

// tailBuffer keeps the last tailBytes bytes written to it.
type tailBuffer struct{ b []byte }

const tailBytes = 8 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > tailBytes {
		t.b = append(t.b[:0], t.b[len(t.b)-tailBytes:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
