package images

import (
	"archive/tar"
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The pause image's repository and tag in the local registry; containerd's sandbox_image names it.
const (
	PauseRepo = "pause"
	PauseTag  = "1"
)

//go:embed pause/main.go
var pauseSource []byte

// BuildPause compiles the pause program (a static Go binary) into dir/pause and returns its path. It
// needs the Go toolchain (`go` on PATH or in GOROOT/bin); the build is skipped when the binary is newer
// than its source.
func BuildPause(ctx context.Context, dir string) (string, error) {
	src := filepath.Join(dir, "pause-src")
	out := filepath.Join(dir, "pause")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", fmt.Errorf("create pause source dir: %w", err)
	}
	gomod := []byte("module rainflow.local/pause\n\ngo 1.22\n")
	changed, err := writeIfChanged(filepath.Join(src, "go.mod"), gomod)
	if err != nil {
		return "", err
	}
	srcChanged, err := writeIfChanged(filepath.Join(src, "main.go"), pauseSource)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(out); err == nil && !changed && !srcChanged {
		return out, nil
	}
	goBin, err := findGo()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", out+".tmp", ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build pause: %w: %s", err, strings.TrimSpace(string(b)))
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		return "", fmt.Errorf("install pause binary: %w", err)
	}
	return out, nil
}

// PauseImage is an image holding only the pause binary at /pause, its entrypoint.
func PauseImage(binary string) (v1.Image, error) {
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("read pause binary: %w", err)
	}
	l, err := layer([]entry{{name: "pause", typ: tar.TypeReg, mode: 0o755, data: data}})
	if err != nil {
		return nil, err
	}
	return image(l, []string{"/pause"}, nil)
}

// EnsurePause builds the pause binary under dir and pushes the pause image to registry unless it is
// there already; it returns the image reference (registry/pause:1) for containerd's sandbox_image.
func EnsurePause(ctx context.Context, dir, registry string) (string, error) {
	ref := registry + "/" + PauseRepo + ":" + PauseTag
	binary, err := BuildPause(ctx, dir)
	if err != nil {
		return "", err
	}
	img, err := PauseImage(binary)
	if err != nil {
		return "", err
	}
	want, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("digest pause image: %w", err)
	}
	if have, err := digestOf(ctx, ref); err == nil && have == want.String() {
		return ref, nil
	}
	if _, err := Push(ctx, img, ref); err != nil {
		return "", err
	}
	return ref, nil
}

func findGo() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := os.Getenv("GOROOT"); root != "" {
		if _, err := os.Stat(filepath.Join(root, "bin", "go")); err == nil {
			return filepath.Join(root, "bin", "go"), nil
		}
	}
	if _, err := os.Stat("/usr/local/go/bin/go"); err == nil {
		return "/usr/local/go/bin/go", nil
	}
	return "", fmt.Errorf("build pause: no go toolchain on PATH")
}

func writeIfChanged(path string, data []byte) (bool, error) {
	if cur, err := os.ReadFile(path); err == nil && string(cur) == string(data) {
		return false, nil
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	return true, nil
}
