package images

import (
	"archive/tar"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/stretchr/testify/require"
)

// TestGoToolchainImage builds the Go build image from this machine's toolchain and writes its
// toolchain layer out to a folder: the go command runs from there offline and finds every package of
// net/http and its compiler, assembler and linker; tests, testdata and cmd sources are left out. (The
// integration test TestBuildGeneratedGo compiles with the image on BuildKit.)
func TestGoToolchainImage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tc, err := FindGoToolchain(ctx)
	require.NoError(t, err)
	require.Regexp(t, `^\d+\.\d+`, tc.Version)

	img, err := GoToolchainImage(tc)
	require.NoError(t, err)
	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 2, "busybox root, then the toolchain")
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	require.Contains(t, cfg.Config.Env, "GOTOOLCHAIN=local")

	fsys := files(t, img)
	for _, want := range []string{"bin/sh", "usr/local/go/bin/go", "usr/local/go/src/net/http/server.go", "usr/local/go/go.env"} {
		require.Contains(t, fsys, want)
	}
	for name := range fsys {
		require.False(t, strings.HasSuffix(name, "_test.go"), "a test file is in the image: %s", name)
		require.NotContains(t, name, "/testdata/")
		require.False(t, strings.HasPrefix(name, "usr/local/go/src/cmd/"), "cmd sources are in the image: %s", name)
	}

	// the toolchain layer, written out, compiles a program on its own
	dir := t.TempDir()
	entries, err := goToolchainEntries(tc.Root)
	require.NoError(t, err)
	for _, e := range entries {
		p := filepath.Join(dir, e.name)
		if e.typ == tar.TypeDir {
			require.NoError(t, os.MkdirAll(p, 0o755))
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, e.data, os.FileMode(e.mode)))
	}
	// the go command runs from it, finds every package net/http needs and its compiler and linker
	goroot := filepath.Join(dir, goRoot)
	goCmd := func(args ...string) string {
		cmd := exec.CommandContext(ctx, filepath.Join(goroot, "bin", "go"), args...)
		cmd.Dir = t.TempDir()
		cmd.Env = []string{"GOROOT=" + goroot, "GOCACHE=" + t.TempDir(), "GOPATH=" + t.TempDir(), "HOME=" + cmd.Dir,
			"GOTOOLCHAIN=local", "CGO_ENABLED=0", "GOPROXY=off", "GO111MODULE=on"}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %v: %s", args, out)
		return strings.TrimSpace(string(out))
	}
	require.True(t, strings.HasPrefix(goCmd("version"), "go version go"+tc.Version+" "), "the image's go is this machine's")
	deps := goCmd("list", "-deps", "-f", "{{.ImportPath}}{{if .Error}} {{.Error}}{{end}}", "net/http")
	require.Contains(t, deps, "\nnet/http")
	require.NotContains(t, deps, " ", "every package of net/http is there: %s", deps)
	tools := goCmd("env", "GOTOOLDIR")
	for _, tool := range []string{"compile", "link", "asm"} {
		_, err := os.Stat(filepath.Join(tools, tool))
		require.NoError(t, err, "tool %s", tool)
	}
}

// BenchmarkGoToolchainImage measures what seeding the Go build image costs on a stack's first start:
// reading the toolchain, writing and compressing its layer, and pushing it to an empty registry (an
// in-memory one on a loopback port), and reports its sizes.
func BenchmarkGoToolchainImage(b *testing.B) {
	tc, err := FindGoToolchain(context.Background())
	require.NoError(b, err)
	for i := 0; i < b.N; i++ {
		srv := httptest.NewServer(registry.New())
		img, err := GoToolchainImage(tc)
		require.NoError(b, err)
		_, err = Push(context.Background(), img, strings.TrimPrefix(srv.URL, "http://")+"/"+GoToolchainRepo+":"+tc.Version)
		srv.Close()
		require.NoError(b, err)
		m, err := img.Manifest()
		require.NoError(b, err)
		layers, err := img.Layers()
		require.NoError(b, err)
		var compressed, uncompressed int64
		for j, l := range layers {
			compressed += m.Layers[j].Size
			rc, err := l.Uncompressed()
			require.NoError(b, err)
			n, err := io.Copy(io.Discard, rc)
			require.NoError(b, err)
			uncompressed += n
			rc.Close()
		}
		b.ReportMetric(float64(compressed)/(1<<20), "compressed-MiB")
		b.ReportMetric(float64(uncompressed)/(1<<20), "uncompressed-MiB")
	}
}
