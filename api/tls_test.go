package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/api"
	"github.com/rainflow/rainflow/store"
)

// testCA issues certificates for the mutual TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue answers a PEM certificate and key for the common name, a server one (for 127.0.0.1) or a
// client one.
func (ca *testCA) issue(t *testing.T, cn string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b, 0o600))
	return p
}

// TestMutualTLS serves the API over HTTPS on 127.0.0.1 with client certificates verified against a CA:
// a certificate names its user by common name; without one (required mode) no connection is made; a
// certificate of another CA or naming no user is refused; in optional mode a bearer token works alone.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, otherCA := newTestCA(t, "rainflow-test-ca"), newTestCA(t, "someone-else")
	serverCert, serverKey := ca.issue(t, "rainflow-api", true)
	anaCert, anaKey := ca.issue(t, "ana", false)
	ghostCert, ghostKey := ca.issue(t, "ghost", false)
	forgedCert, forgedKey := otherCA.issue(t, "ana", false)

	st, err := store.Open(t.Context(), store.Config{DSN: filepath.Join(dir, "api.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.CreateUser(t.Context(), store.User{Name: "ana"})
	require.NoError(t, err)

	serve := func(clientAuth string) string {
		cfg := api.Config{AdminToken: adminToken,
			TLSCertFile: writeFile(t, dir, "server.pem", serverCert), TLSKeyFile: writeFile(t, dir, "server-key.pem", serverKey),
			ClientCAFile: writeFile(t, dir, "ca.pem", ca.pem), ClientAuth: clientAuth}
		require.NoError(t, cfg.Validate())
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- api.New(cfg, st, newFakeWorkflows(), &fakeImages{}, nil).Serve(ctx, ln) }()
		t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
		return "https://" + ln.Addr().String()
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.pem)
	client := func(certPEM, keyPEM []byte) *http.Client {
		tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		if certPEM != nil {
			pair, err := tls.X509KeyPair(certPEM, keyPEM)
			require.NoError(t, err)
			tc.Certificates = []tls.Certificate{pair}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
	}
	get := func(c *http.Client, url, token string) (*http.Response, map[string]any, error) {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", url+"/v1/me", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		var body map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return resp, body, nil
	}

	required := serve(api.ClientAuthRequire)
	resp, me, err := get(client(anaCert, anaKey), required, "")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "ana", me["name"])
	require.Equal(t, "client-certificate", me["authenticatedBy"])

	_, _, err = get(client(nil, nil), required, adminToken)
	require.Error(t, err, "without a client certificate there is no connection")
	_, _, err = get(client(forgedCert, forgedKey), required, "")
	require.Error(t, err, "a certificate of another CA is refused in the handshake")

	resp, body, err := get(client(ghostCert, ghostKey), required, "")
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, body["detail"], `the client certificate names "ghost", who is no user`)

	resp, me, err = get(client(anaCert, anaKey), required, adminToken)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "admin", me["name"], "a bearer token speaks for itself over a client certificate")

	optional := serve(api.ClientAuthOptional)
	resp, me, err = get(client(nil, nil), optional, adminToken)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "admin", me["name"])
	resp, _, err = get(client(nil, nil), optional, "")
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}
