package tests

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// TestBuildImportWithCredential imports an image from a registry that wants a login, with a registry
// credential kept through the API: the real worker opens it from the store with its keyring and copies
// the image. Without the credential, or with a wrong password, the import fails for good, and neither
// the operation's error nor its log holds the password.
func TestBuildImportWithCredential(t *testing.T) {
	t.Parallel()
	api := newAPIClient(stack.APIURL, stack.APIToken)
	tenant, path := buildKitComponent(t, api, "cred")
	const password = "pw-sekrit-integration"
	private := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "puller" || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="private"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		private.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(512, 2)
	require.NoError(t, err)
	ref, err := name.NewTag(host+"/vendor/tool:1.0", name.Insecure)
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "puller", Password: password})))
	digest, err := img.Digest()
	require.NoError(t, err)

	creds := "/v1/tenants/" + tenant + "/credentials/"
	api.must(t, http.StatusCreated, "PUT", creds+"private", map[string]any{"type": "registry", "host": host, "username": "puller", "password": password}, nil)
	api.must(t, http.StatusCreated, "PUT", creds+"wrong", map[string]any{"type": "registry", "username": "puller", "password": "wrong-sekrit"}, nil)

	build := func(credential string) operation {
		source := map[string]any{"image": ref.String()}
		if credential != "" {
			source["credential"] = credential
		}
		var acc accepted
		api.must(t, http.StatusAccepted, "POST", path+"/builds", map[string]any{"source": source}, &acc)
		return waitOperation(t, api, tenant, acc.OperationID, 3*time.Minute)
	}
	op := build("private")
	require.Equal(t, "succeeded", op.State, "import: %s %+v", op.Error, op.Steps)
	v := latestVersion(t, api, path)
	require.Equal(t, digest.String(), v.Revision, "%+v", v)
	require.Equal(t, stack.RegistryAddr+"/"+tenant+"/shop/web@"+digest.String(), v.ImageDigest, "%+v", v)

	for _, cred := range []string{"", "wrong"} {
		failed := build(cred)
		require.Equal(t, "failed", failed.State, "credential %q: %+v", cred, failed.Steps)
		require.NotContains(t, failed.Error, "sekrit")
		require.Contains(t, failed.Error, "401 Unauthorized")
		if cred != "" {
			require.Contains(t, failed.Error, `with credential "wrong"`, "the reason names the credential")
		}
		logs := api.must(t, http.StatusOK, "GET", "/v1/tenants/"+tenant+"/operations/"+failed.ID+"/logs", nil, nil)
		require.NotContains(t, string(logs.Body), "sekrit")
	}
}
