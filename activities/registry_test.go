package activities

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"go.temporal.io/sdk/temporal"
)

func TestResolveImage(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host+"/web:v1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()

	tests := []struct {
		name     string
		image    string
		wantRef  string
		wantType string // non-retryable error type; "" for success
	}{
		{name: "tag resolves to digest", image: host + "/web:v1", wantRef: host + "/web@" + digest.String()},
		{name: "digest resolves to itself", image: host + "/web@" + digest.String(), wantRef: host + "/web@" + digest.String()},
		{name: "missing tag", image: host + "/web:v2", wantType: ErrTypeImageNotFound},
		{name: "missing repository", image: host + "/nothing:v1", wantType: ErrTypeImageNotFound},
		{name: "malformed reference", image: host + "/Web:@@", wantType: ErrTypeInvalidImage},
	}
	r := &Registry{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := r.ResolveImage(context.Background(), ResolveImageInput{Image: tt.image})
			if tt.wantType == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got.Ref != tt.wantRef || got.Digest != digest.String() {
					t.Fatalf("got %+v, want ref %s", got, tt.wantRef)
				}
				return
			}
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.Type() != tt.wantType || !app.NonRetryable() {
				t.Fatalf("err = %v, want non-retryable %s", err, tt.wantType)
			}
		})
	}
}

func TestResolveImageUnreachableIsRetried(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(registry.New())
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.Close() // nothing listens there any more
	_, err := (&Registry{}).ResolveImage(context.Background(), ResolveImageInput{Image: host + "/web:v1"})
	if err == nil {
		t.Fatal("want an error from a registry that is down")
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.NonRetryable() {
		t.Fatalf("a registry that is down must be retried, got non-retryable %v", err)
	}
}
