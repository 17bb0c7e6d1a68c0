package images

import (
	"archive/tar"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// GoToolchainRepo is the repository of the Go build image the local stack seeds; its tag is the
// toolchain's version without the "go" prefix (rainflow/base/go:1.26.8).
const GoToolchainRepo = "rainflow/base/go"

// goRoot is where the toolchain lives in the image.
const goRoot = "usr/local/go"

// goTools are the tools of pkg/tool/<os_arch> that `go build` runs; vet, cover, fix and the like
// are left out.
var goTools = map[string]bool{"asm": true, "cgo": true, "compile": true, "link": true}

// GoToolchain is a Go installation on this machine.
type GoToolchain struct {
	Root    string // GOROOT
	Version string // "1.26.8"
}

// FindGoToolchain finds the Go toolchain of this machine: the GOROOT of the `go` on PATH (or in
// GOROOT/bin, /usr/local/go/bin), else the one this binary was built with.
func FindGoToolchain(ctx context.Context) (GoToolchain, error) {
	var roots []string
	if goBin, err := findGo(); err == nil {
		if out, err := exec.CommandContext(ctx, goBin, "env", "GOROOT").Output(); err == nil {
			roots = append(roots, strings.TrimSpace(string(out)))
		}
	}
	roots = append(roots, runtime.GOROOT()) //nolint:staticcheck // a fallback when no go is on PATH
	for _, root := range roots {
		if root == "" {
			continue
		}
		v, err := os.ReadFile(filepath.Join(root, "VERSION"))
		if err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, "bin", "go")); err != nil {
			continue
		}
		line, _, _ := strings.Cut(string(v), "\n")
		return GoToolchain{Root: root, Version: strings.TrimPrefix(strings.TrimSpace(line), "go")}, nil
	}
	return GoToolchain{}, fmt.Errorf("find the go toolchain: no GOROOT with bin/go and VERSION among %v", roots)
}

// GoToolchainImage is a Go build image: the busybox root (BusyboxImage) and, in a second layer,
// the toolchain at tc.Root under /usr/local/go with what `go build` needs only (the go command,
// the compile, asm, link and cgo tools, the standard library's sources without tests and testdata,
// no cmd sources). It never downloads another toolchain (GOTOOLCHAIN=local) and keeps its build
// cache in /root/.cache/go-build.
func GoToolchainImage(tc GoToolchain) (v1.Image, error) {
	base, err := BusyboxImage(nil, nil)
	if err != nil {
		return nil, err
	}
	entries, err := goToolchainEntries(tc.Root)
	if err != nil {
		return nil, err
	}
	l, err := layer(entries)
	if err != nil {
		return nil, err
	}
	return appendLayer(base, l, func(cfg *v1.ConfigFile) {
		cfg.Config.Env = []string{
			"PATH=/usr/local/go/bin:/root/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"GOROOT=/usr/local/go", "GOPATH=/root/go", "GOCACHE=/root/.cache/go-build", "GOTOOLCHAIN=local", "HOME=/root",
			"GOLANG_VERSION=" + tc.Version,
		}
		cfg.Config.WorkingDir = "/src"
	})
}

// goToolchainEntries are the files of root a Go build needs, under /usr/local/go.
func goToolchainEntries(root string) ([]entry, error) {
	toolDir := filepath.Join("pkg", "tool", runtime.GOOS+"_"+runtime.GOARCH)
	keep := func(rel string, d fs.DirEntry) (bool, error) {
		top, _, _ := strings.Cut(rel, string(filepath.Separator))
		switch {
		case rel == "VERSION" || rel == "go.env" || rel == filepath.Join("bin", "go"):
			return true, nil
		case top == "src":
			if d.IsDir() && (d.Name() == "testdata" || rel == filepath.Join("src", "cmd")) {
				return false, fs.SkipDir
			}
			return d.IsDir() || !strings.HasSuffix(rel, "_test.go"), nil
		case rel == "pkg" || rel == filepath.Join("pkg", "tool") || rel == toolDir:
			return true, nil
		case filepath.Dir(rel) == toolDir:
			return goTools[d.Name()], nil
		case top == "pkg" && strings.HasPrefix(rel, filepath.Join("pkg", "include")):
			return true, nil
		case d.IsDir() && rel != "bin":
			return false, fs.SkipDir
		}
		return d.IsDir(), nil
	}
	var entries []entry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		ok, err := keep(rel, d)
		if !ok {
			return err
		}
		name := goRoot + "/" + filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			entries = append(entries, entry{name: name, typ: tar.TypeDir, mode: 0o755})
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return fmt.Errorf("stat %s: %w", p, err)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return fmt.Errorf("read %s: %w", p, err)
			}
			entries = append(entries, entry{name: name, typ: tar.TypeReg, mode: int64(info.Mode().Perm() | 0o444), data: data})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read go toolchain %s: %w", root, err)
	}
	return entries, nil
}
