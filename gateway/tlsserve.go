package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// sniCertificates are a snapshot's certificates by server name: exact hosts, and wildcards by the
// domain after "*.".
type sniCertificates struct {
	exact    map[string]*tls.Certificate
	wildcard map[string]*tls.Certificate
}

// compileCertificates parses each Secret once. Build already rejected the ones that do not parse.
func compileCertificates(hosts []HostCertificate) sniCertificates {
	out := sniCertificates{exact: make(map[string]*tls.Certificate), wildcard: make(map[string]*tls.Certificate)}
	parsed := make(map[string]*tls.Certificate)
	for _, hc := range hosts {
		cert, ok := parsed[hc.Secret]
		if !ok {
			c, err := tls.X509KeyPair(hc.Chain, hc.Key)
			if err == nil {
				cert = &c
			}
			parsed[hc.Secret] = cert
		}
		if cert == nil {
			continue
		}
		if parent, ok := strings.CutPrefix(hc.Host, "*."); ok {
			out.wildcard[parent] = cert
		} else {
			out.exact[hc.Host] = cert
		}
	}
	return out
}

// lookup returns the certificate of a server name: the exact host, then the wildcard of its parent;
// nil when the snapshot has none.
func (c sniCertificates) lookup(serverName string) *tls.Certificate {
	name := normalizeHost(serverName)
	if cert := c.exact[name]; cert != nil {
		return cert
	}
	if _, parent, ok := strings.Cut(name, "."); ok && parent != "" {
		return c.wildcard[parent]
	}
	return nil
}

// newTLSConfig is the HTTPS listener's configuration: TLS 1.2 and later, HTTP/2 and HTTP/1.1 by ALPN,
// and the certificate of the client's server name taken from the current snapshot at each handshake,
// so a swap changes certificates without a restart; the default certificate otherwise.
func newTLSConfig(table *atomic.Pointer[Table], fallback *tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if t := table.Load(); t != nil {
				if cert := t.certs.lookup(hello.ServerName); cert != nil {
					return cert, nil
				}
			}
			return fallback, nil
		},
	}
}

// defaultCertificate loads the configured default certificate, or generates a self-signed one when
// none is configured.
func defaultCertificate(certFile, keyFile string, now time.Time) (*tls.Certificate, error) {
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("load default certificate: %w", err)
		}
		return &cert, nil
	}
	return selfSigned("rainflow-gateway-default", now)
}

// selfSigned makes a one-year ECDSA P-256 certificate for name.
func selfSigned(name string, now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create self-signed certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// httpsServer is the net/http server behind the HTTPS fast server (fasttls.go): the same handler as
// plain HTTP, speaking HTTP/2 on the connections that negotiated it and HTTP/1.1 on the ones the fast
// path handed over, whose requests carry their connection's TLS state.
func httpsServer(h http.Handler, config *tls.Config, logger *slog.Logger) *http.Server {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	return &http.Server{Handler: withTLSState(h), ReadHeaderTimeout: httpHeaderTimeout, IdleTimeout: httpIdleTimeout,
		Protocols: protocols, TLSConfig: config, ConnContext: tlsConnContext,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug)}
}
