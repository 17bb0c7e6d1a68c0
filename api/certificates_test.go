package api_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// issued is a certificate and its key, PEM.
type issued struct {
	cert     *x509.Certificate
	key      crypto.Signer
	certPEM  string
	keyPEM   string
	chainPEM string // the certificate and its issuers, leaf first
}

type certOpts struct {
	hosts     []string
	notBefore time.Time
	notAfter  time.Time
	parent    *issued // nil: self-signed
	ca        bool
	rsa       bool
}

// newCert issues a certificate for the options with a fresh key.
func newCert(t *testing.T, o certOpts) issued {
	t.Helper()
	var key crypto.Signer
	var err error
	if o.rsa {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	require.NoError(t, err)
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().Add(90 * 24 * time.Hour)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	cn := "test CA"
	if len(o.hosts) > 0 {
		cn = o.hosts[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, DNSNames: o.hosts,
		NotBefore: o.notBefore, NotAfter: o.notAfter, IsCA: o.ca, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	parent, signer := tmpl, key
	if o.parent != nil {
		parent, signer = o.parent.cert, o.parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	out := issued{
		cert: cert, key: key,
		certPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		keyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})),
	}
	out.chainPEM = out.certPEM
	if o.parent != nil {
		out.chainPEM += o.parent.chainPEM
	}
	return out
}

func certBody(t *testing.T, name string, c issued) string {
	t.Helper()
	b, err := json.Marshal(map[string]string{"name": name, "certPEM": c.chainPEM, "keyPEM": c.keyPEM})
	require.NoError(t, err)
	return string(b)
}

const certsPath = "/v1/tenants/acme/certificates"

// keyMaterial is what of a key must never be in an answer or a log line.
func keyMaterial(c issued) string {
	lines := strings.Split(strings.TrimSpace(c.keyPEM), "\n")
	return lines[1] // the first line of base64 of the key
}

func TestCertificates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed()
	ca := newCert(t, certOpts{ca: true})
	wild := newCert(t, certOpts{hosts: []string{"*.Shop.example.com", "shop.example.com"}, parent: &ca})

	rec := e.ok(http.StatusCreated, request{method: "POST", path: certsPath, body: certBody(t, "wild", wild)})
	require.Equal(t, certsPath+"/wild", rec.Header().Get("Location"))
	require.NotContains(t, rec.Body.String(), "PRIVATE KEY")
	require.NotContains(t, rec.Body.String(), keyMaterial(wild))
	v := jsonOf(t, rec)
	require.Equal(t, "wild", v["name"])
	require.Equal(t, []any{"*.shop.example.com", "shop.example.com"}, v["sans"])
	require.Equal(t, "CN=*.Shop.example.com", v["subject"])
	require.Equal(t, "CN=test CA", v["issuer"])
	require.Equal(t, false, v["expired"])
	require.InDelta(t, 89, v["expiresInDays"], 1)
	require.Len(t, v["fingerprint"], 64)
	require.Equal(t, wild.chainPEM, v["certPEM"], "the chain, leaf first")
	require.NotContains(t, v, "keyPEM")

	got := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: certsPath + "/wild"}))
	require.Equal(t, v["fingerprint"], got["fingerprint"])
	list := jsonOf(t, e.ok(http.StatusOK, request{method: "GET", path: certsPath}))
	require.Len(t, list["items"], 1)
	require.NotContains(t, e.logs.String(), keyMaterial(wild), "the key is never logged")

	p := problemOf(t, e.do(request{method: "POST", path: certsPath, body: certBody(t, "wild", wild)}), http.StatusConflict)
	require.Contains(t, p.Detail, "already exists")
	problemOf(t, e.do(request{method: "GET", path: certsPath + "/nothing"}), http.StatusNotFound)

	t.Run("renew", func(t *testing.T) {
		renewed := newCert(t, certOpts{hosts: []string{"*.shop.example.com"}, notAfter: time.Now().Add(400 * 24 * time.Hour)})
		b, _ := json.Marshal(map[string]string{"certPEM": renewed.certPEM, "keyPEM": renewed.keyPEM})
		r := jsonOf(t, e.ok(http.StatusOK, request{method: "PUT", path: certsPath + "/wild", body: string(b)}))
		require.InDelta(t, 399, r["expiresInDays"], 1)
		require.NotContains(t, r, "operations", "no route uses it")
		p := problemOf(t, e.do(request{method: "PUT", path: certsPath + "/wild", body: `{"name":"x","certPEM":"","keyPEM":""}`}), http.StatusBadRequest)
		require.Contains(t, fields(p), "name", "a PUT does not rename")
	})

	t.Run("delete", func(t *testing.T) {
		e.ok(http.StatusNoContent, request{method: "DELETE", path: certsPath + "/wild"})
		problemOf(t, e.do(request{method: "DELETE", path: certsPath + "/wild"}), http.StatusNotFound)
	})
}

func TestCertificateProblems(t *testing.T) {
	t.Parallel()
	ca := newCert(t, certOpts{ca: true})
	leaf := newCert(t, certOpts{hosts: []string{"shop.example.com"}, parent: &ca})
	other := newCert(t, certOpts{hosts: []string{"shop.example.com"}})
	expired := newCert(t, certOpts{hosts: []string{"old.example.com"}, notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour)})
	future := newCert(t, certOpts{hosts: []string{"new.example.com"}, notBefore: time.Now().Add(time.Hour)})
	noSAN := newCert(t, certOpts{})
	rsaCert := newCert(t, certOpts{hosts: []string{"rsa.example.com"}, rsa: true})
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaCert.key.(*rsa.PrivateKey))}))

	body := func(name, cert, key string) string {
		b, _ := json.Marshal(map[string]string{"name": name, "certPEM": cert, "keyPEM": key})
		return string(b)
	}
	tests := []struct {
		name   string
		body   string
		status int
		field  string
		reason string
	}{
		{name: "a PKCS#1 RSA key", body: body("rsa", rsaCert.certPEM, pkcs1), status: http.StatusCreated},
		{name: "a chain", body: body("chain", leaf.chainPEM, leaf.keyPEM), status: http.StatusCreated},
		{name: "another certificate's key", body: body("c", leaf.certPEM, other.keyPEM), status: http.StatusUnprocessableEntity,
			field: "keyPEM", reason: "is not the private key of the leaf"},
		{name: "the chain upside down", body: body("c", ca.certPEM+leaf.certPEM, leaf.keyPEM), status: http.StatusUnprocessableEntity,
			field: "certPEM", reason: "the chain must go from the leaf to its issuers, in order"},
		{name: "expired", body: body("c", expired.certPEM, expired.keyPEM), status: http.StatusUnprocessableEntity,
			field: "certPEM", reason: "expired on"},
		{name: "not valid yet", body: body("c", future.certPEM, future.keyPEM), status: http.StatusUnprocessableEntity,
			field: "certPEM", reason: "is not valid before"},
		{name: "no DNS name", body: body("c", noSAN.certPEM, noSAN.keyPEM), status: http.StatusUnprocessableEntity,
			field: "certPEM", reason: "names no DNS host"},
		{name: "not PEM", body: body("c", "hello", leaf.keyPEM), status: http.StatusUnprocessableEntity,
			field: "certPEM", reason: "holds no PEM CERTIFICATE block"},
		{name: "a key in the chain", body: body("c", leaf.certPEM+leaf.keyPEM, leaf.keyPEM), status: http.StatusUnprocessableEntity,
			field: "certPEM", reason: `is a "PRIVATE KEY", not a CERTIFICATE`},
		{name: "encrypted key", body: body("c", leaf.certPEM, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"),
			status: http.StatusUnprocessableEntity, field: "keyPEM", reason: "is encrypted"},
		{name: "broken key", body: body("c", leaf.certPEM, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
			status: http.StatusUnprocessableEntity, field: "keyPEM", reason: "does not parse"},
		{name: "no key", body: body("c", leaf.certPEM, ""), status: http.StatusUnprocessableEntity, field: "keyPEM", reason: "is required"},
		{name: "bad name", body: body("Not_A_Label", leaf.certPEM, leaf.keyPEM), status: http.StatusUnprocessableEntity, field: "name"},
		{name: "unknown field", body: `{"name":"c","certPEM":"","keyPEM":"","password":"x"}`, status: http.StatusBadRequest, field: "password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.seed()
			rec := e.do(request{method: "POST", path: certsPath, body: tt.body})
			if tt.status == http.StatusCreated {
				require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
				return
			}
			p := problemOf(t, rec, tt.status)
			require.Contains(t, fields(p), tt.field)
			var reasons []string
			for _, fe := range p.Errors {
				if fe.Field == tt.field && strings.Contains(fe.Reason, tt.reason) {
					reasons = append(reasons, fe.Reason)
				}
			}
			require.NotEmpty(t, reasons, "no %s error says %q: %+v", tt.field, tt.reason, p.Errors)
			require.NotContains(t, rec.Body.String(), keyMaterial(leaf), "a problem never quotes the key")
		})
	}
}
