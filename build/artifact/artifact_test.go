package artifact

import (
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestPushFetch(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	tag, err := name.NewTag(host+"/acme/shop/web/sources:op-1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	archive := []byte("not really a tarball, but bytes kept as they are")
	ref, err := Push(t.Context(), tag, archive)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ref, host+"/acme/shop/web/sources@sha256:") {
		t.Fatalf("pushed artifact is %q, want it by digest", ref)
	}
	again, err := Push(t.Context(), tag, archive)
	if err != nil || again != ref {
		t.Fatalf("the same archive makes %q (%v), want the same digest %q", again, err, ref)
	}

	d, err := name.NewDigest(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	path, err := Fetch(t.Context(), d, t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != string(archive) {
		t.Fatalf("fetched %q, want the uploaded bytes", got)
	}
	if _, err := Fetch(t.Context(), d, t.TempDir(), 10); err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Fatalf("an archive over the limit was fetched: %v", err)
	}

	// an ordinary image is not an archive
	img, _ := random.Image(100, 2)
	other, _ := name.NewTag(host+"/acme/shop/web:v1", name.Insecure)
	if err := remote.Write(other, img); err != nil {
		t.Fatal(err)
	}
	dig, _ := img.Digest()
	if _, err := Fetch(t.Context(), other.Context().Digest(dig.String()), t.TempDir(), 1<<20); !errors.Is(err, ErrNotArtifact) {
		t.Fatalf("an image fetched as an archive: %v", err)
	}
}
