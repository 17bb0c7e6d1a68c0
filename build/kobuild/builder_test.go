package kobuild

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// goCache is the GOCACHE every test and benchmark of this package shares: the machine's own (the
// Go build cache is content-addressed, so sharing it changes no output), so that no test compiles the
// standard library again (BenchmarkBuildCold measures that on a cache of its own).
var goCache string

func TestMain(m *testing.M) {
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil || len(strings.TrimSpace(string(out))) == 0 {
		panic(fmt.Sprintf("go env GOCACHE: %v", err))
	}
	goCache = strings.TrimSpace(string(out))
	os.Exit(m.Run())
}

func newBuilder(t testing.TB) *Builder {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("go toolchain not found: %v", err)
	}
	b, err := New(Config{CacheDir: goCache})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// baseImage is a small linux/amd64 image with one file and some env, built in memory.
func baseImage(t testing.TB, arch string) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte("base\n")
	if err := tw.WriteHeader(&tar.Header{Name: "etc/base.txt", Mode: 0o644, Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write(body)
	_ = tw.Close()
	img, err := mutate.AppendLayers(empty.Image, static.NewLayer(buf.Bytes(), types.DockerLayer))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Env = []string{"PATH=/usr/bin:/bin", "GREETING=from-base"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// copySource copies the fixture module into a new directory, so builds from different paths can be
// compared.
func copySource(t testing.TB, fixture string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "src")
	if err := os.CopyFS(dst, os.DirFS(filepath.Join("testdata", fixture))); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestBuildAndPush(t *testing.T) {
	b := newBuilder(t)
	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://")+"/tenant/app/web:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := b.Build(ctx, Request{
		SourceDir:   copySource(t, "hello"),
		MainPackage: "cmd/hello",
		Base:        baseImage(t, "amd64"),
		Ports:       []int{8080, 9090},
		Env:         []string{"GREETING=from-build", "MODE=prod"},
	})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if res.Binary != "/app/hello" || res.Size == 0 {
		t.Errorf("result binary = %q (%d bytes), want /app/hello", res.Binary, res.Size)
	}
	if err := Push(ctx, ref, res.Image); err != nil {
		t.Fatalf("push: %v", err)
	}

	pulled, err := remote.Image(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if d, _ := pulled.Digest(); d != res.Digest {
		t.Errorf("pushed digest = %s, want %s", d, res.Digest)
	}
	cf, err := pulled.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if !slices.Equal(c.Entrypoint, []string{"/app/hello"}) || c.Cmd != nil {
		t.Errorf("entrypoint = %q cmd = %q, want [/app/hello] and none", c.Entrypoint, c.Cmd)
	}
	if want := []string{"PATH=/usr/bin:/bin", "GREETING=from-build", "MODE=prod"}; !slices.Equal(c.Env, want) {
		t.Errorf("env = %q, want %q", c.Env, want)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok || len(c.ExposedPorts) != 2 {
		t.Errorf("exposed ports = %v, want 8080/tcp and 9090/tcp", c.ExposedPorts)
	}
	if c.WorkingDir != "/app" || c.User != DefaultUser {
		t.Errorf("working dir = %q user = %q", c.WorkingDir, c.User)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" || !cf.Created.Equal(time.Unix(0, 0)) {
		t.Errorf("platform %s/%s created %v", cf.OS, cf.Architecture, cf.Created)
	}

	layers, err := pulled.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("layers = %d, %v; want base + binary", len(layers), err)
	}
	bin := readLayerFile(t, layers[1], "app/hello")
	if len(bin) != int(res.Size) {
		t.Fatalf("binary in layer is %d bytes, built %d", len(bin), res.Size)
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return
	}
	exe := filepath.Join(t.TempDir(), "hello")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = []string{"GREETING=pulled"}
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "hello from rainflow, GREETING=pulled\n" {
		t.Errorf("running the pulled binary: %q, %v", out, err)
	}
}

// readLayerFile returns the file at name in layer, checking its header is the deterministic one.
func readLayerFile(t *testing.T, layer v1.Layer, name string) []byte {
	t.Helper()
	rc, err := layer.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var names []string
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.ModTime.Unix() != 0 {
			t.Errorf("%s: uid %d gid %d mtime %v, want 0 0 epoch", hdr.Name, hdr.Uid, hdr.Gid, hdr.ModTime)
		}
		if hdr.Name == name {
			if hdr.Mode != 0o755 {
				t.Errorf("%s mode = %o, want 755", name, hdr.Mode)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(names, []string{"app/", name}) {
				t.Errorf("layer entries = %q, want [app/ %s]", names, name)
			}
			return b
		}
	}
	t.Fatalf("layer has %q, not %s", names, name)
	return nil
}

func TestBuildIsReproducible(t *testing.T) {
	b := newBuilder(t)
	base := baseImage(t, "amd64")
	var digests []v1.Hash
	for range 2 {
		res, err := b.Build(context.Background(), Request{SourceDir: copySource(t, "hello"), MainPackage: "./cmd/hello", Base: base, Ports: []int{8080}})
		if err != nil {
			t.Fatalf("build: %v", err)
		}
		digests = append(digests, res.Digest)
	}
	if digests[0] != digests[1] {
		t.Fatalf("two builds of the same source from different directories differ: %s vs %s", digests[0], digests[1])
	}
}

func TestBuildFails(t *testing.T) {
	b := newBuilder(t)
	tests := []struct {
		name    string
		fixture string
		req     Request
		wantErr string
		build   bool // the error is a *BuildError
	}{
		{name: "compile error names the file and line", fixture: "broken", wantErr: "main.go:4:2: undefined: undefinedFunction", build: true},
		{name: "missing package", fixture: "hello", req: Request{MainPackage: "cmd/nope"}, wantErr: "go build ./cmd/nope", build: true},
		{name: "package outside the source", fixture: "hello", req: Request{MainPackage: "../etc"}, wantErr: `main package "../etc" is outside the source directory`},
		{name: "absolute package", fixture: "hello", req: Request{MainPackage: "/usr"}, wantErr: `must be a relative slash path`},
		{name: "platform mismatch", fixture: "hello", req: Request{MainPackage: "cmd/hello", Base: baseImage(t, "arm64")}, wantErr: "base image is linux/arm64, build is for linux/amd64"},
		{name: "bad port", fixture: "hello", req: Request{MainPackage: "cmd/hello", Ports: []int{70000}}, wantErr: "port 70000 is out of range"},
		{name: "bad env", fixture: "hello", req: Request{MainPackage: "cmd/hello", Env: []string{"NOVALUE"}}, wantErr: `image env "NOVALUE" is not KEY=VALUE`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.SourceDir = filepath.Join("testdata", tc.fixture)
			if req.Base == nil {
				req.Base = baseImage(t, "amd64")
			}
			_, err := b.Build(context.Background(), req)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
			var be *BuildError
			if errors.As(err, &be) != tc.build {
				t.Errorf("error is a BuildError: %v, want %v", !tc.build, tc.build)
			}
		})
	}
}

func TestBuildCanceled(t *testing.T) {
	b := newBuilder(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.Build(ctx, Request{SourceDir: filepath.Join("testdata", "hello"), MainPackage: "cmd/hello", Base: baseImage(t, "amd64")})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "defaults with a cache", cfg: Config{CacheDir: "/var/cache/go"}},
		{name: "no cache", cfg: Config{}, wantErr: "cache dir is required"},
		{name: "relative cache", cfg: Config{CacheDir: "cache"}, wantErr: `cache dir "cache" is not absolute`},
		{name: "root app dir", cfg: Config{CacheDir: "/c", AppDir: "/"}, wantErr: `app dir "/" must be an absolute directory below /`},
		{name: "bad env", cfg: Config{CacheDir: "/c", Env: []string{"=x"}}, wantErr: `build env "=x" is not KEY=VALUE`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestMergeEnv(t *testing.T) {
	t.Parallel()
	got := mergeEnv([]string{"A=1", "B=2"}, []string{"B=3", "C=4", "A=5"})
	if want := []string{"A=5", "B=3", "C=4"}; !slices.Equal(got, want) {
		t.Fatalf("mergeEnv = %q, want %q", got, want)
	}
}
