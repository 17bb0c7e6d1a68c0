package api_test

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/api"
)

// startRegistry serves an in-memory OCI registry on loopback with one image, shop/web:1.0, and answers
// its host:port and the image's digest.
func startRegistry(t *testing.T) (string, string) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(256, 1)
	require.NoError(t, err)
	ref, err := name.ParseReference(host + "/shop/web:1.0")
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, img))
	digest, err := img.Digest()
	require.NoError(t, err)
	return host, digest.String()
}

// statusServer answers every request with the status.
func statusServer(t *testing.T, status int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// closedPort is a loopback address nothing listens on: port 1 (tcpmux) is outside the ephemeral range,
// so no other test's server can take it meanwhile.
const closedPort = "127.0.0.1:1"

func TestRegistryImageChecker(t *testing.T) {
	t.Parallel()
	host, digest := startRegistry(t)
	checker := api.NewRegistryImageChecker(api.RegistryConfig{Timeout: 5 * time.Second, RetryWait: time.Millisecond})
	tests := []struct {
		name       string
		image      string
		wantDigest string
		wantErr    error
		wantMsg    string
	}{
		{name: "present by tag", image: host + "/shop/web:1.0", wantDigest: digest},
		{name: "present by digest", image: host + "/shop/web@" + digest, wantDigest: digest},
		{name: "missing tag", image: host + "/shop/web:2.0", wantErr: api.ErrImageNotFound, wantMsg: "404 Not Found"},
		{name: "missing repository", image: host + "/shop/nothing:1.0", wantErr: api.ErrImageNotFound},
		{name: "registry down", image: closedPort + "/shop/web:1.0", wantErr: api.ErrRegistryUnreachable, wantMsg: "connection refused"},
		{name: "registry failing", image: statusServer(t, http.StatusInternalServerError) + "/shop/web:1.0", wantErr: api.ErrRegistryFailed},
		{name: "registry refusing", image: statusServer(t, http.StatusForbidden) + "/shop/web:1.0", wantErr: api.ErrImageDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := checker.CheckImage(t.Context(), tt.image)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.ErrorContains(t, err, tt.wantMsg)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantDigest, got)
		})
	}
}

// TestRegistryInsecureHosts: a registry named by a non-loopback name is reached over plain HTTP only
// when configured insecure.
func TestRegistryInsecureHosts(t *testing.T) {
	t.Parallel()
	host, digest := startRegistry(t)
	_, port, err := net.SplitHostPort(host)
	require.NoError(t, err)
	// "registry.test" resolves to the loopback registry through the dialer, as a DNS name would.
	dialer := &net.Dialer{}
	transport := remote.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, "127.0.0.1:"+port)
	}
	image := "registry.test:" + port + "/shop/web:1.0"

	tests := []struct {
		name     string
		insecure []string
		wantErr  bool
	}{
		{name: "configured host:port", insecure: []string{"registry.test:" + port}},
		{name: "configured host", insecure: []string{"registry.test"}},
		{name: "not configured: HTTPS to a plain HTTP registry fails", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checker := api.NewRegistryImageChecker(api.RegistryConfig{
				Insecure: tt.insecure, Transport: transport, Timeout: 5 * time.Second, Retries: -1,
			})
			got, err := checker.CheckImage(t.Context(), image)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, digest, got)
		})
	}
}

// TestDeployAgainstARealRegistry: the deploy checks the image in a real (in-memory) registry.
func TestDeployAgainstARealRegistry(t *testing.T) {
	t.Parallel()
	host, _ := startRegistry(t)
	e := newEnvWith(t, api.NewRegistryImageChecker(api.RegistryConfig{Timeout: 5 * time.Second, Retries: -1}))
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants", body: `{"name":"acme"}`})
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/acme/apps", body: `{"name":"shop"}`})
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/acme/apps/shop/components", body: componentBody("web", host+"/shop/web:1.0")})
	e.ok(http.StatusCreated, request{method: "POST", path: "/v1/tenants/acme/apps/shop/components", body: componentBody("api", host+"/shop/api:1.0")})

	e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys"})
	p := problemOf(t, e.do(request{method: "POST", path: "/v1/tenants/acme/apps/shop/components/api/deploys"}), 422)
	require.Equal(t, "urn:rainflow:problem:image-not-found", p.Type)
	require.Contains(t, p.Detail, `image "`+host+`/shop/api:1.0" not found in registry`)
	require.Equal(t, []api.FieldError{{Field: "spec.image", Reason: "not found in registry"}}, p.Errors)
}
