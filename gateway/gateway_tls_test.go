package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// testCertificate is a self-signed certificate for host, as PEM and as the parsed leaf.
func testCertificate(t *testing.T, host string) (chain, key []byte, leaf *x509.Certificate) {
	t.Helper()
	cert, err := selfSigned(host, time.Now())
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	require.NoError(t, err)
	leaf, err = x509.ParseCertificate(cert.Certificate[0])
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), leaf
}

func tlsSecret(ns, name string, chain, key []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: chain, corev1.TLSPrivateKeyKey: key},
	}
}

// runHTTPSGateway runs a gateway with an HTTPS listener on the fake clientset until ctx ends:
// shop.example.com routes to an echo backend and has its certificate in the Ingress's TLS Secret
// shop/web-tls. It answers once the certificate is in the routing table, with the clientset, the
// certificate and the channel Run's error arrives on.
func runHTTPSGateway(t *testing.T, ctx context.Context) (*Gateway, *fake.Clientset, *x509.Certificate, <-chan error) {
	t.Helper()
	backend := echoBackend(t, "web")
	_, port := splitHostPort(t, backend)
	chain, key, leaf := testCertificate(t, "shop.example.com")
	ing := ingress("shop", "web", rule("shop.example.com", httpPath("/", prefix, "web", 80)))
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"shop.example.com"}, SecretName: "web-tls"}}
	kube := fake.NewClientset(
		service("shop", "web", "http", 80),
		slice("shop", "web-a", "web", "http", port, ep{"127.0.0.1", true}),
		ing,
		tlsSecret("shop", "web-tls", chain, key),
	)
	g, err := New(Config{HTTPListen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", HTTPSListen: "127.0.0.1:0",
		Throttle: 10 * time.Millisecond}, kube, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	require.Eventually(t, func() bool {
		routes, ok := g.Routes()
		return ok && g.HTTPSAddr() != nil && len(routes.TLS) == 1
	}, 10*time.Second, 10*time.Millisecond)
	return g, kube, leaf, done
}

// TestGatewayHTTPS runs a gateway with an HTTPS listener against the fake clientset: the certificate of
// the client's server name comes from the Ingress's TLS Secret, HTTP/2 is negotiated, the backend sees
// X-Forwarded-Proto https, an unknown name gets the generated default certificate, TLS 1.1 is refused,
// and a renewed Secret is served without a restart.
func TestGatewayHTTPS(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	g, kube, leaf, done := runHTTPSGateway(t, ctx)
	addr := g.HTTPSAddr().String()

	// handshake returns the certificate served for serverName.
	handshake := func(serverName string, maxVersion uint16) (*x509.Certificate, error) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: serverName, InsecureSkipVerify: true, MaxVersion: maxVersion}) //nolint:gosec // the test inspects what is served
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0], nil
	}

	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: "shop.example.com"},
		ForceAttemptHTTP2: true,
	}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/cart", nil)
	require.NoError(t, err)
	req.Host = "shop.example.com"
	res, err := client.Do(req)
	require.NoError(t, err, "the Secret's certificate verifies for its host")
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "web", string(body))
	assert.Equal(t, 2, res.ProtoMajor, "HTTP/2 by ALPN")
	assert.Equal(t, "https", res.Header.Get("X-Seen-Forwarded-Proto"))

	def, err := handshake("other.example.com", 0)
	require.NoError(t, err)
	assert.Equal(t, "rainflow-gateway-default", def.Subject.CommonName, "an unknown name gets the default certificate")

	_, err = handshake("shop.example.com", tls.VersionTLS11)
	assert.Error(t, err, "TLS 1.1 is refused")

	// A renewed certificate is served without a restart.
	chain2, key2, leaf2 := testCertificate(t, "shop.example.com")
	_, err = kube.CoreV1().Secrets("shop").Update(ctx, tlsSecret("shop", "web-tls", chain2, key2), metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := handshake("shop.example.com", 0)
		return err == nil && got.Equal(leaf2)
	}, 10*time.Second, 10*time.Millisecond)

	cancel()
	require.NoError(t, <-done)
}

func TestDefaultCertificateFromFiles(t *testing.T) {
	t.Parallel()
	chain, key, leaf := testCertificate(t, "default.example.com")
	dir := t.TempDir()
	certFile, keyFile := dir+"/tls.crt", dir+"/tls.key"
	require.NoError(t, writeFile(certFile, chain))
	require.NoError(t, writeFile(keyFile, key))

	cert, err := defaultCertificate(certFile, keyFile, time.Now())
	require.NoError(t, err)
	assert.Equal(t, leaf.Raw, cert.Certificate[0])

	_, err = defaultCertificate(certFile, certFile, time.Now())
	assert.ErrorContains(t, err, "load default certificate")

	_, err = New(Config{HTTPSListen: "127.0.0.1:0", DefaultCert: certFile, DefaultKey: dir + "/missing"}, fake.NewClientset(), nil)
	assert.ErrorContains(t, err, "load default certificate")
}

func writeFile(name string, data []byte) error { return os.WriteFile(name, data, 0o600) }
