// Package images builds the small OCI images of the local stack offline, with no Docker and no
// network: the pause image of the real node, and busybox-based images for tests and `make run`. Layers
// are reproducible (sorted entries, fixed times and owners), so the same input gives the same digest.
package images

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/rainflow/rainflow/imageref"
)

// BusyboxPath is where Debian's busybox-static puts its static binary.
const BusyboxPath = "/bin/busybox"

// entry is one file, folder or symlink of a layer.
type entry struct {
	name string // relative, no leading slash
	typ  byte   // tar.TypeReg, tar.TypeDir or tar.TypeSymlink
	mode int64
	data []byte
	link string
}

// layer builds a reproducible gzip layer from entries; missing parent folders are added.
func layer(entries []entry) (v1.Layer, error) {
	byName := map[string]entry{}
	for _, e := range entries {
		e.name = strings.TrimPrefix(path.Clean("/"+e.name), "/")
		if e.name == "" {
			continue
		}
		byName[e.name] = e
		for dir := path.Dir(e.name); dir != "."; dir = path.Dir(dir) {
			if _, ok := byName[dir]; !ok {
				byName[dir] = entry{name: dir, typ: tar.TypeDir, mode: 0o755}
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0).UTC()
	for _, n := range names {
		e := byName[n]
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, ModTime: epoch, Uname: "root", Gname: "root", Format: tar.FormatPAX}
		switch e.typ {
		case tar.TypeDir:
			h.Name += "/"
		case tar.TypeSymlink:
			h.Linkname = e.link
		case tar.TypeReg:
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("write tar header %s: %w", e.name, err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write(e.data); err != nil {
				return nil, fmt.Errorf("write tar entry %s: %w", e.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close tar: %w", err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("create layer: %w", err)
	}
	return l, nil
}

// image is an OCI image of one layer with the given entrypoint.
func image(l v1.Layer, entrypoint []string, env []string) (v1.Image, error) {
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	return appendLayer(base, l, func(cfg *v1.ConfigFile) {
		cfg.Architecture, cfg.OS = runtime.GOARCH, "linux"
		cfg.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
		cfg.Config.Entrypoint = entrypoint
		cfg.Config.Env = env
	})
}

// appendLayer is base with l on top and its config changed by edit.
func appendLayer(base v1.Image, l v1.Layer, edit func(*v1.ConfigFile)) (v1.Image, error) {
	img, err := mutate.AppendLayers(base, l)
	if err != nil {
		return nil, fmt.Errorf("append layer: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg = cfg.DeepCopy()
	edit(cfg)
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("set config: %w", err)
	}
	return img, nil
}

// BusyboxImage is an image whose root filesystem is Debian's static busybox (/bin/busybox) with every
// applet linked at its usual path (/bin/sh, /usr/sbin/httpd, /usr/bin/wget, ...) and in /bin as well
// (/bin/httpd, /bin/wget, ...), a minimal /etc, /tmp, and
// files (path -> content; files starting with "#!" or under a bin folder are executable).
func BusyboxImage(files map[string][]byte, entrypoint []string) (v1.Image, error) {
	return BusyboxImageFrom(BusyboxPath, files, entrypoint)
}

// BusyboxImageFrom is BusyboxImage with the busybox binary at busybox.
func BusyboxImageFrom(busybox string, files map[string][]byte, entrypoint []string) (v1.Image, error) {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return nil, fmt.Errorf("read busybox (install busybox-static): %w", err)
	}
	out, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("list busybox applets: %w", err)
	}
	entries := []entry{
		{name: "bin/busybox", typ: tar.TypeReg, mode: 0o755, data: bin},
		{name: "tmp", typ: tar.TypeDir, mode: 0o1777},
		{name: "root", typ: tar.TypeDir, mode: 0o700},
		{name: "etc/passwd", typ: tar.TypeReg, mode: 0o644, data: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		{name: "etc/group", typ: tar.TypeReg, mode: 0o644, data: []byte("root:x:0:\nnogroup:x:65534:\n")},
	}
	linked := map[string]bool{"bin/busybox": true}
	link := func(p string) {
		if !linked[p] {
			linked[p] = true
			entries = append(entries, entry{name: p, typ: tar.TypeSymlink, mode: 0o777, link: "/bin/busybox"})
		}
	}
	applets := strings.Fields(string(out))
	for _, applet := range applets {
		// entries look like "bin/sh" or "usr/sbin/httpd"; skip root-level oddities such as "linuxrc"
		if strings.Contains(strings.TrimSuffix(applet, "/"), "/") {
			link(applet)
		}
	}
	// every applet also in /bin, so "/bin/httpd" works whatever folder this busybox build puts it in
	for _, applet := range applets {
		if base := path.Base(strings.TrimSuffix(applet, "/")); strings.Contains(applet, "/") && base != "" {
			link("bin/" + base)
		}
	}
	for p, data := range files {
		mode := int64(0o644)
		if bytes.HasPrefix(data, []byte("#!")) || strings.Contains("/"+strings.TrimPrefix(p, "/"), "bin/") {
			mode = 0o755
		}
		entries = append(entries, entry{name: p, typ: tar.TypeReg, mode: mode, data: data})
	}
	l, err := layer(entries)
	if err != nil {
		return nil, err
	}
	return image(l, entrypoint, []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"})
}

// ExitOnTerm wraps argv so that the container exits 0 at once on SIGTERM or SIGINT. A process that is
// PID 1 of a container ignores signals it has no handler for, so busybox httpd alone would keep its pod
// terminating for the whole grace period; busybox sh as PID 1 with a trap ends it, and with it the
// container's PID namespace.
func ExitOnTerm(argv ...string) []string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return []string{"/bin/sh", "-c", "trap 'exit 0' TERM INT; " + strings.Join(quoted, " ") + " & wait"}
}

// Push writes img to ref (for example "127.0.0.1:5056/web:v1") and returns the digest reference
// ("127.0.0.1:5056/web@sha256:..."). Loopback registries are spoken to over plain HTTP, with no proxy.
func Push(ctx context.Context, img v1.Image, ref string) (string, error) {
	r, err := name.ParseReference(ref, nameOptions(ref)...)
	if err != nil {
		return "", fmt.Errorf("parse reference %s: %w", ref, err)
	}
	if err := remote.Write(r, img, remoteOptions(ctx, r)...); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("digest of %s: %w", ref, err)
	}
	return r.Context().Digest(d.String()).String(), nil
}

// Exists reports whether ref is in its registry.
func Exists(ctx context.Context, ref string) (bool, error) {
	r, err := name.ParseReference(ref, nameOptions(ref)...)
	if err != nil {
		return false, fmt.Errorf("parse reference %s: %w", ref, err)
	}
	if _, err := remote.Head(r, remoteOptions(ctx, r)...); err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			return false, nil
		}
		return false, fmt.Errorf("look up %s: %w", ref, err)
	}
	return true, nil
}

func nameOptions(ref string) []name.Option {
	if imageref.PlainHTTP(registryHost(ref), nil) {
		return []name.Option{name.Insecure}
	}
	return nil
}

func remoteOptions(ctx context.Context, r name.Reference) []remote.Option {
	opts := []remote.Option{remote.WithContext(ctx)}
	if imageref.PlainHTTP(r.Context().RegistryStr(), nil) {
		t := remote.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil
		opts = append(opts, remote.WithTransport(t))
	}
	return opts
}

func registryHost(ref string) string {
	host, _, _ := strings.Cut(ref, "/")
	return host
}

// digestOf is the manifest digest of ref in its registry.
func digestOf(ctx context.Context, ref string) (string, error) {
	r, err := name.ParseReference(ref, nameOptions(ref)...)
	if err != nil {
		return "", fmt.Errorf("parse reference %s: %w", ref, err)
	}
	d, err := remote.Head(r, remoteOptions(ctx, r)...)
	if err != nil {
		return "", fmt.Errorf("look up %s: %w", ref, err)
	}
	return d.Digest.String(), nil
}
