package activities

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/rainflow/rainflow/build/artifact"
	"github.com/rainflow/rainflow/build/kobuild"
	"github.com/rainflow/rainflow/contract"
)

// buildFixture is an in-process registry holding a Go base image, and a Builds on it.
type buildFixture struct {
	host   string
	builds *Builds
	mu     sync.Mutex
	output []BuildOutputLine
}

func newBuildFixture(t *testing.T) *buildFixture {
	t.Helper()
	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	f := &buildFixture{host: strings.TrimPrefix(srv.URL, "http://")}
	base, err := mutate.ConfigFile(empty.Image, mustConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	baseRef, _ := name.NewTag(f.host+"/rainflow/base:1", name.Insecure)
	if err := remote.Write(baseRef, base); err != nil {
		t.Fatal(err)
	}
	// the machine's own Go build cache: an empty one would compile the standard library per test
	cache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	gob, err := kobuild.New(kobuild.Config{CacheDir: strings.TrimSpace(string(cache))})
	if err != nil {
		t.Fatal(err)
	}
	f.builds = &Builds{Registry: &Registry{}, WorkDir: t.TempDir(), Go: gob, GoBase: baseRef.String(),
		Output: func(l BuildOutputLine) { f.mu.Lock(); f.output = append(f.output, l); f.mu.Unlock() }}
	return f
}

// archive makes a tar.gz of files and pushes it as a source artifact.
func (f *buildFixture) archive(t *testing.T, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for n, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(body))
	}
	_ = tw.Close()
	_ = zw.Close()
	tag, _ := name.NewTag(f.host+"/acme/shop/web/sources:b1", name.Insecure)
	ref, err := artifact.Push(t.Context(), tag, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func (f *buildFixture) run(t *testing.T, in BuildImageInput) (contract.BuildResult, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(f.builds)
	val, err := env.ExecuteActivity(f.builds.BuildImage, in)
	if err != nil {
		return contract.BuildResult{}, err
	}
	var res contract.BuildResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res, nil
}

func (f *buildFixture) input(src contract.BuildSource, rev string) BuildImageInput {
	return BuildImageInput{OperationID: "b1", Ref: contract.ComponentRef{Tenant: "acme", App: "shop", Component: "web"},
		Source: src, Revision: rev, Repository: f.host + "/acme/shop/web"}
}

const helloGo = "package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\"hi\\n\") }\n"

func TestBuildImageGoFromArchive(t *testing.T) {
	t.Parallel()
	f := newBuildFixture(t)
	ref := f.archive(t, map[string]string{"go.mod": "module example.com/hello\n\ngo 1.22\n", "main.go": helloGo})
	src := contract.BuildSource{Kind: contract.SourceArchive, Archive: ref, ArchiveName: "hello.tar.gz"}
	rs, err := f.builds.ResolveSource(t.Context(), ResolveSourceInput{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rs.Revision, "sha256:") || !strings.HasSuffix(ref, rs.Revision) {
		t.Fatalf("an archive's revision is its digest: %q of %q", rs.Revision, ref)
	}
	res, err := f.run(t, f.input(src, rs.Revision))
	if err != nil {
		t.Fatal(err)
	}
	if res.Builder != contract.BuilderKo || res.Language != "go" || res.Size <= 0 || !strings.HasPrefix(res.Image, f.host+"/acme/shop/web@sha256:") {
		t.Fatalf("result %+v", res)
	}
	d, _ := name.NewDigest(res.Image, name.Insecure)
	img, err := remote.Image(d)
	if err != nil {
		t.Fatalf("the built image is not in the registry: %v", err)
	}
	cfg, _ := img.ConfigFile()
	if _, ok := cfg.Config.ExposedPorts["8080/tcp"]; !ok || len(cfg.Config.Entrypoint) == 0 {
		t.Fatalf("the image does not declare the detected port or an entrypoint: %+v", cfg.Config)
	}
	again, err := f.run(t, f.input(src, rs.Revision))
	if err != nil || again.Image != res.Image {
		t.Fatalf("building the same source again gives %q (%v), want the same digest %q", again.Image, err, res.Image)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var msgs []string
	for _, l := range f.output {
		msgs = append(msgs, l.Step+": "+l.Message)
	}
	joined := strings.Join(msgs, "\n")
	for _, want := range []string{"fetch: fetch hello.tar.gz", "detect: ko builder, go", "build: go build .", "push: push "} {
		if !strings.Contains(joined, want) {
			t.Errorf("build output lacks %q:\n%s", want, joined)
		}
	}
}

func TestBuildImageFailures(t *testing.T) {
	t.Parallel()
	f := newBuildFixture(t)
	for _, tt := range []struct {
		name     string
		files    map[string]string
		dir      string
		wantType string
		want     string
	}{
		{name: "a compile error names the file and line", files: map[string]string{"go.mod": "module x\n\ngo 1.22\n", "main.go": "package main\n\nfunc main() { undefinedThing() }\n"},
			wantType: ErrTypeBuildFailed, want: "undefined: undefinedThing"},
		{name: "nothing to build", files: map[string]string{"README": "hello"}, wantType: ErrTypeInvalidSource, want: "nothing to build"},
		{name: "a directory outside the source", files: map[string]string{"go.mod": "module x\n"}, dir: "../etc", wantType: ErrTypeInvalidSource, want: "not inside the source"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := contract.BuildSource{Kind: contract.SourceArchive, Archive: f.archive(t, tt.files), ArchiveName: "x.tar.gz"}
			in := f.input(src, "sha256:x")
			in.Settings.Dir = tt.dir
			_, err := f.run(t, in)
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.Type() != tt.wantType || !app.NonRetryable() || !strings.Contains(app.Error(), tt.want) {
				t.Fatalf("err = %v, want non-retryable %s saying %q", err, tt.wantType, tt.want)
			}
		})
	}
}

func TestBuildImageImport(t *testing.T) {
	t.Parallel()
	f := newBuildFixture(t)
	img, _ := random.Image(256, 2)
	srcRef, _ := name.NewTag(f.host+"/elsewhere/tool:1.0", name.Insecure)
	if err := remote.Write(srcRef, img); err != nil {
		t.Fatal(err)
	}
	src := contract.BuildSource{Kind: contract.SourceImage, Image: srcRef.String()}
	rs, err := f.builds.ResolveSource(t.Context(), ResolveSourceInput{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.run(t, f.input(src, rs.Revision))
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	if res.Image != f.host+"/acme/shop/web@"+digest.String() || res.Builder != contract.BuilderImport {
		t.Fatalf("imported %+v, want the same digest in the component's repository", res)
	}
}

// mustConfig is a base image config for linux/amd64.
func mustConfig(t *testing.T) *v1.ConfigFile {
	t.Helper()
	return &v1.ConfigFile{OS: "linux", Architecture: "amd64", Config: v1.Config{Env: []string{"PATH=/bin"}}}
}
