package imageref

import (
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestPlainHTTP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		registry string
		insecure []string
		want     bool
	}{
		{name: "loopback v4 with port", registry: "127.0.0.1:5056", want: true},
		{name: "loopback v6", registry: "[::1]:5000", want: true},
		{name: "localhost", registry: "localhost:5000", want: true},
		{name: "public registry", registry: "registry.example.com", want: false},
		{name: "listed host:port", registry: "harbor.lan:8080", insecure: []string{"harbor.lan:8080"}, want: true},
		{name: "listed host without port", registry: "harbor.lan:8080", insecure: []string{"harbor.lan"}, want: true},
		{name: "other port of a listed host:port", registry: "harbor.lan:9090", insecure: []string{"harbor.lan:8080"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := PlainHTTP(tt.registry, tt.insecure); got != tt.want {
				t.Fatalf("PlainHTTP(%q, %v) = %v, want %v", tt.registry, tt.insecure, got, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	ref, err := Parse("127.0.0.1:5056/web:v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Context().Scheme() != "http" {
		t.Fatalf("scheme %s, want http for a loopback registry", ref.Context().Scheme())
	}
	if ref, _ := Parse("registry.example.com/web:v1", nil); ref.Context().Scheme() != "https" {
		t.Fatalf("scheme %s, want https", ref.Context().Scheme())
	}
	if _, err := Parse("Web:@@", nil); err == nil {
		t.Fatal("want an error for a malformed reference")
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	notFound := &transport.Error{StatusCode: http.StatusNotFound}
	unknown := &transport.Error{StatusCode: http.StatusBadRequest, Errors: []transport.Diagnostic{{Code: transport.ManifestUnknownErrorCode}}}
	denied := &transport.Error{StatusCode: http.StatusForbidden}
	if !IsNotFound(notFound) || !IsNotFound(unknown) || IsNotFound(denied) {
		t.Fatal("IsNotFound misclassifies")
	}
	if !IsDenied(denied) || IsDenied(notFound) {
		t.Fatal("IsDenied misclassifies")
	}
}
