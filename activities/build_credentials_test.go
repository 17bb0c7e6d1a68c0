package activities

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/rainflow/rainflow/build/gitsource"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
	"github.com/rainflow/rainflow/store/storetest"
)

// credentialStore is a real store (SQLite, with a keyring) holding tenant acme's credentials.
func credentialStore(t *testing.T, creds map[string]store.Credential, secrets map[string]store.CredentialSecret) (*store.Store, string) {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DSN: filepath.Join(t.TempDir(), "creds.db"), Keyring: storetest.Keyring()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	tn, err := st.CreateTenant(t.Context(), store.Tenant{Name: "acme"})
	require.NoError(t, err)
	for n, c := range creds {
		c.TenantID, c.Name = tn.ID, n
		_, _, err := st.PutCredential(t.Context(), c, secrets[n], "alice")
		require.NoError(t, err)
	}
	return st, tn.ID
}

// basicAuth serves next to requests with the user and password only.
func basicAuth(user, password string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TestImportImageWithCredential: an image in a registry that wants basic auth is resolved and copied
// with the tenant's registry credential, and refused without it; no error or output line holds the
// password.
func TestImportImageWithCredential(t *testing.T) {
	t.Parallel()
	const password = "pw-sekrit-9f"
	srv := httptest.NewServer(basicAuth("puller", password, registry.New()))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(256, 2)
	require.NoError(t, err)
	srcRef, err := name.NewTag(host+"/vendor/tool:1.0", name.Insecure)
	require.NoError(t, err)
	require.NoError(t, remote.Write(srcRef, img, remote.WithAuth(&authn.Basic{Username: "puller", Password: password})))
	digest, err := img.Digest()
	require.NoError(t, err)

	st, tenantID := credentialStore(t, map[string]store.Credential{
		"good":       {Type: store.CredentialRegistry, Host: host},
		"any-host":   {Type: store.CredentialRegistry},
		"wrong":      {Type: store.CredentialRegistry},
		"git":        {Type: store.CredentialGitToken},
		"other-host": {Type: store.CredentialRegistry, Host: "registry.example"},
	}, map[string]store.CredentialSecret{
		"good": {Username: "puller", Password: password}, "any-host": {Username: "puller", Password: password},
		"wrong": {Username: "puller", Password: "wrong-sekrit"}, "git": {Token: "tok-sekrit"},
		"other-host": {Username: "puller", Password: password},
	})
	f := newBuildFixture(t)
	f.builds.Credentials = st

	for _, tt := range []struct {
		name     string
		cred     string
		wantType string // "" succeeds
	}{
		{name: "the credential for the registry", cred: "good"},
		{name: "a credential for any host", cred: "any-host"},
		{name: "no credential", wantType: ErrTypeForbidden},
		{name: "a wrong password", cred: "wrong", wantType: ErrTypeForbidden},
		{name: "a deleted credential", cred: "gone", wantType: ErrTypeCredentialUnavailable},
		{name: "a git credential", cred: "git", wantType: ErrTypeCredentialUnavailable},
		{name: "a credential for another registry", cred: "other-host", wantType: ErrTypeCredentialUnavailable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := contract.BuildSource{Kind: contract.SourceImage, Image: srcRef.String()}
			if tt.cred != "" {
				src.Credential = &contract.CredentialRef{TenantID: tenantID, Name: tt.cred}
			}
			rs, err := f.builds.ResolveSource(t.Context(), ResolveSourceInput{Source: src})
			if tt.wantType != "" {
				requirePermanent(t, err, tt.wantType)
				require.NotContains(t, err.Error(), "sekrit")
				// the copy, given a revision, fails alike
				_, err := f.run(t, f.input(src, digest.String()))
				require.Error(t, err)
				require.NotContains(t, err.Error(), "sekrit")
				return
			}
			require.NoError(t, err)
			require.Equal(t, digest.String(), rs.Revision)
			res, err := f.run(t, f.input(src, rs.Revision))
			require.NoError(t, err)
			require.Equal(t, f.host+"/acme/shop/web@"+digest.String(), res.Image)
		})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.output {
		require.NotContains(t, l.Message, "sekrit")
	}
}

// TestGitCredentialOptions: a git source's credential becomes the transport's auth (and its known
// hosts a file checked first), when its type and host fit the URL.
func TestGitCredentialOptions(t *testing.T) {
	t.Parallel()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	key := string(pem.EncodeToMemory(block))
	const known = "git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
	st, tenantID := credentialStore(t, map[string]store.Credential{
		"token": {Type: store.CredentialGitToken, Host: "git.example.com"},
		"key":   {Type: store.CredentialGitSSH, Host: "git.example.com"},
	}, map[string]store.CredentialSecret{
		"token": {Username: "bot", Token: "tok-sekrit"},
		"key":   {PrivateKey: key, KnownHosts: known},
	})
	for _, tt := range []struct {
		name      string
		url       string
		cred      string
		noStore   bool
		wantType  string
		wantToken string
		wantKey   bool
	}{
		{name: "https with a token", url: "https://git.example.com/team/web.git", cred: "token", wantToken: "tok-sekrit"},
		{name: "scp-style ssh with a key", url: "git@git.example.com:team/web.git", cred: "key", wantKey: true},
		{name: "ssh URL with a port", url: "ssh://git@git.example.com:2222/team/web.git", cred: "key", wantKey: true},
		{name: "a key for https", url: "https://git.example.com/team/web.git", cred: "key", wantType: ErrTypeCredentialUnavailable},
		{name: "another host", url: "https://evil.example/team/web.git", cred: "token", wantType: ErrTypeCredentialUnavailable},
		{name: "a deleted credential", url: "https://git.example.com/team/web.git", cred: "gone", wantType: ErrTypeCredentialUnavailable},
		{name: "a worker without a store", url: "https://git.example.com/team/web.git", cred: "token", noStore: true,
			wantType: ErrTypeCredentialUnavailable},
		{name: "a local repository", url: "file:///srv/web", cred: "token", wantType: ErrTypeInvalidSource},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := &Builds{WorkDir: t.TempDir(), Git: GitConfig{HostKeys: gitHostKeysForTest()}}
			if !tt.noStore {
				b.Credentials = st
			}
			src := contract.BuildSource{Kind: contract.SourceGit, GitURL: tt.url,
				Credential: &contract.CredentialRef{TenantID: tenantID, Name: tt.cred}}
			opts, done, err := b.gitSourceOptions(t.Context(), src)
			defer done()
			if tt.wantType != "" {
				requirePermanent(t, err, tt.wantType)
				require.NotContains(t, err.Error(), "sekrit")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantToken, opts.Auth.Token)
			require.Equal(t, tt.wantKey, len(opts.Auth.SSHKey) > 0)
			if tt.wantKey {
				require.Len(t, opts.HostKeys.KnownHostsFiles, 2, "the credential's known hosts, then the worker's")
				raw, err := os.ReadFile(opts.HostKeys.KnownHostsFiles[0])
				require.NoError(t, err)
				require.Equal(t, known+"\n", string(raw))
				done()
				_, err = os.Stat(opts.HostKeys.KnownHostsFiles[0])
				require.True(t, os.IsNotExist(err), "done removes the known hosts file")
			}
		})
	}
}

func gitHostKeysForTest() gitsource.HostKeys {
	return gitsource.HostKeys{KnownHostsFiles: []string{"/etc/ssh/ssh_known_hosts"}}
}

// TestGitCredentialStaysOutOfErrors: a fetch that fails with a token credential says why without
// the token.
func TestGitCredentialStaysOutOfErrors(t *testing.T) {
	t.Parallel()
	st, tenantID := credentialStore(t, map[string]store.Credential{"token": {Type: store.CredentialGitToken}},
		map[string]store.CredentialSecret{"token": {Token: "tok-sekrit-77"}})
	b := &Builds{WorkDir: t.TempDir(), Credentials: st}
	// a port nothing listens on: the transport fails before any answer
	l := httptest.NewServer(http.NotFoundHandler())
	url := "https://" + strings.TrimPrefix(l.URL, "http://") + "/team/web.git"
	l.Close()
	src := contract.BuildSource{Kind: contract.SourceGit, GitURL: url, Credential: &contract.CredentialRef{TenantID: tenantID, Name: "token"}}
	_, err := b.ResolveSource(t.Context(), ResolveSourceInput{Source: src})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "tok-sekrit-77")
}
