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

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// testRegistry is go-containerregistry's in-memory registry on a loopback port.
func testRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// files lists an image's flattened files: path -> type and link target or content.
func files(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			switch h.Typeflag {
			case tar.TypeSymlink:
				out[h.Name] = "-> " + h.Linkname
			case tar.TypeDir:
				out[h.Name] = "dir"
			default:
				b, _ := io.ReadAll(tr)
				if len(b) > 64 {
					b = b[:64]
				}
				out[h.Name] = string(b) + " mode " + strings.TrimPrefix(h.FileInfo().Mode().String(), "-")
			}
		}
		rc.Close()
	}
	return out
}

func needBusybox(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(BusyboxPath); err != nil {
		t.Skip("busybox-static not installed")
	}
}

func TestBusyboxImagePushPull(t *testing.T) {
	t.Parallel()
	needBusybox(t)
	reg := testRegistry(t)
	entry := ExitOnTerm("/bin/httpd", "-f", "-v", "-p", "8080", "-h", "/www")
	img, err := BusyboxImage(map[string][]byte{
		"/www/index.html":  []byte("hello v1\n"),
		"usr/bin/hello.sh": []byte("#!/bin/sh\necho hi\n"),
	}, entry)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ref, err := Push(ctx, img, reg+"/web:v1")
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if ref != reg+"/web@"+d.String() {
		t.Errorf("Push = %q, want %s/web@%s", ref, reg, d)
	}
	pulled, err := remote.Image(mustRef(t, reg+"/web:v1"))
	if err != nil {
		t.Fatal(err)
	}
	got := files(t, pulled)
	tests := []struct {
		name, path, want string
	}{
		{"busybox binary", "bin/busybox", "mode rwxr-xr-x"},
		{"shell", "bin/sh", "-> /bin/busybox"},
		{"httpd", "usr/sbin/httpd", "-> /bin/busybox"},
		{"httpd in /bin", "bin/httpd", "-> /bin/busybox"},
		{"content", "www/index.html", "hello v1\n mode rw-r--r--"},
		{"script executable", "usr/bin/hello.sh", "mode rwxr-xr-x"},
		{"parent dir", "www/", "dir"},
		{"tmp", "tmp/", "dir"},
		{"passwd", "etc/passwd", "root:x:0:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v, ok := got[tt.path]; !ok || !strings.Contains(v, tt.want) {
				t.Errorf("%s = %q, want it to contain %q", tt.path, v, tt.want)
			}
		})
	}
	cfg, err := pulled.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Config.Entrypoint, " ") != strings.Join(entry, " ") || cfg.OS != "linux" {
		t.Errorf("config = %+v", cfg.Config)
	}
	if exists, err := Exists(ctx, reg+"/web:v1"); err != nil || !exists {
		t.Errorf("Exists(web:v1) = %v, %v", exists, err)
	}
	if exists, err := Exists(ctx, reg+"/web:nope"); err != nil || exists {
		t.Errorf("Exists(web:nope) = %v, %v", exists, err)
	}
}

func TestBusyboxImageReproducible(t *testing.T) {
	t.Parallel()
	needBusybox(t)
	digest := func() string {
		img, err := BusyboxImage(map[string][]byte{"a": []byte("1"), "b/c": []byte("2")}, []string{"/bin/sh"})
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	if a, b := digest(), digest(); a != b {
		t.Errorf("same input, digests %s and %s", a, b)
	}
}

func TestExitOnTerm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		argv []string
		want string
	}{
		{"plain", []string{"echo", "hello"}, "hello\n"},
		{"quotes", []string{"echo", "it's a 'test'"}, "it's a 'test'\n"},
		{"spaces and dollar", []string{"echo", "$HOME  x"}, "$HOME  x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			argv := ExitOnTerm(tt.argv...)
			out, err := exec.Command("/bin/sh", argv[1:]...).Output()
			if err != nil {
				t.Fatal(err)
			}
			assertEq(t, string(out), tt.want)
		})
	}
}

func TestEnsurePause(t *testing.T) {
	t.Parallel()
	if _, err := findGo(); err != nil {
		t.Skip("no go toolchain")
	}
	reg := testRegistry(t)
	dir := t.TempDir()
	ctx := context.Background()
	ref, err := EnsurePause(ctx, dir, reg)
	if err != nil {
		t.Fatal(err)
	}
	assertEq(t, ref, reg+"/pause:1")
	img, err := remote.Image(mustRef(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	if got := files(t, img)["pause"]; !strings.HasPrefix(got, "\x7fELF") {
		t.Errorf("pause entry = %q, want an ELF binary", got)
	}
	// the binary is static and exits 0 on SIGTERM
	out, err := exec.Command("file", filepath.Join(dir, "pause")).Output()
	if err == nil && !strings.Contains(string(out), "statically linked") {
		t.Errorf("pause is not static: %s", out)
	}
	cmd := exec.Command(filepath.Join(dir, "pause"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// give it a moment to install its handler, then stop it as the runtime would
	if err := waitSignalled(cmd); err != nil {
		t.Errorf("pause on SIGTERM: %v", err)
	}
	// second call: nothing to build or push
	if again, err := EnsurePause(ctx, dir, reg); err != nil || again != ref {
		t.Errorf("second EnsurePause = %q, %v", again, err)
	}
}

func mustRef(t *testing.T, ref string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func assertEq[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %q, want %q", any(got), any(want))
	}
}
