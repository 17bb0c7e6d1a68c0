package devstack

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certSpec is one certificate of the local cluster's PKI.
type certSpec struct {
	name   string // <name>.crt and <name>.key
	ca     string // the CA that signs it
	cn     string
	orgs   []string
	server bool // serverAuth, else clientAuth
	ips    []net.IP
	dns    []string
}

// The CAs and certificates of the local cluster. Keys are ECDSA P-256: fast to make, accepted by every
// part (the service-account signer included).
const (
	caName           = "ca"
	frontProxyCA     = "front-proxy-ca"
	serviceClusterIP = "10.96.0.1"
	certValidity     = 10 * 365 * 24 * time.Hour
)

func certSpecs(nodeName string) []certSpec {
	clusterDNS := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc.cluster.local"}
	loopback := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	return []certSpec{
		{name: "apiserver", ca: caName, cn: "kube-apiserver", server: true,
			ips: append(loopback, net.ParseIP(serviceClusterIP)), dns: clusterDNS},
		{name: "admin", ca: caName, cn: "rainflow-admin", orgs: []string{"system:masters"}},
		{name: "kube-controller-manager", ca: caName, cn: "system:kube-controller-manager"},
		{name: "kube-scheduler", ca: caName, cn: "system:kube-scheduler"},
		{name: "kwok", ca: caName, cn: "kwok-controller", orgs: []string{"system:masters"}},
		// the API server's identity towards the kubelet (logs, exec, port-forward); the kubelet asks the
		// API server (Webhook authorization) whether it may, and system:masters may.
		{name: "apiserver-kubelet-client", ca: caName, cn: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}},
		{name: "kubelet-client", ca: caName, cn: "system:node:" + nodeName, orgs: []string{"system:nodes"}},
		{name: "kubelet-server", ca: caName, cn: nodeName, server: true, ips: loopback, dns: []string{nodeName, "localhost"}},
		{name: "front-proxy-client", ca: frontProxyCA, cn: "front-proxy-client"},
	}
}

// ensurePKI creates what is missing in dir: the two CAs, the certificates and the service-account key.
// Existing valid files are kept, so a restart keeps every kubeconfig and token valid; a new CA
// re-issues every certificate it signs.
func ensurePKI(dir, nodeName string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create pki dir: %w", err)
	}
	cas := map[string]*keyPair{}
	for _, name := range []string{caName, frontProxyCA} {
		ca, err := loadPair(dir, name)
		if err != nil || !ca.cert.IsCA || time.Until(ca.cert.NotAfter) < 30*24*time.Hour {
			if ca, err = newCA(name); err != nil {
				return err
			}
			if err := ca.write(dir, name); err != nil {
				return err
			}
		}
		cas[name] = ca
	}
	for _, spec := range certSpecs(nodeName) {
		ca := cas[spec.ca]
		if cur, err := loadPair(dir, spec.name); err == nil && validLeaf(cur.cert, ca.cert, spec) {
			continue
		}
		leaf, err := newLeaf(spec, ca)
		if err != nil {
			return err
		}
		if err := leaf.write(dir, spec.name); err != nil {
			return err
		}
	}
	return ensureSAKey(dir)
}

type keyPair struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func validLeaf(cert, ca *x509.Certificate, spec certSpec) bool {
	if cert.CheckSignatureFrom(ca) != nil || time.Until(cert.NotAfter) < 30*24*time.Hour {
		return false
	}
	if cert.Subject.CommonName != spec.cn || len(cert.IPAddresses) != len(spec.ips) || len(cert.DNSNames) != len(spec.dns) {
		return false
	}
	for i, ip := range spec.ips {
		if !cert.IPAddresses[i].Equal(ip) {
			return false
		}
	}
	return true
}

func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

func serial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, fmt.Errorf("generate serial: %w", err)
	}
	return n, nil
}

func newCA(name string) (*keyPair, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: "rainflow-" + name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create certificate %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate %s: %w", name, err)
	}
	return &keyPair{cert: cert, key: key}, nil
}

func newLeaf(spec certSpec, ca *keyPair) (*keyPair, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	usage := x509.ExtKeyUsageClientAuth
	if spec.server {
		usage = x509.ExtKeyUsageServerAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: spec.cn, Organization: spec.orgs},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{usage},
		BasicConstraintsValid: true,
		IPAddresses:           spec.ips,
		DNSNames:              spec.dns,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, fmt.Errorf("create certificate %s: %w", spec.name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate %s: %w", spec.name, err)
	}
	return &keyPair{cert: cert, key: key}, nil
}

func (p *keyPair) write(dir, name string) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(p.key)
	if err != nil {
		return fmt.Errorf("marshal key %s: %w", name, err)
	}
	// key first: a crash in between leaves a key without its certificate, which is re-issued next time
	if err := writeAtomic(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.cert.Raw}), 0o644)
}

func loadPair(dir, name string) (*keyPair, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, name+".crt"))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, name+".key"))
	if err != nil {
		return nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, fmt.Errorf("decode %s: not PEM", name)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate %s: %w", name, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse key %s: %w", name, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("parse key %s: not a signing key", name)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("load %s: key does not match certificate", name)
	}
	return &keyPair{cert: cert, key: signer}, nil
}

// ensureSAKey makes the key pair that signs and verifies service-account tokens (sa.key, sa.pub).
func ensureSAKey(dir string) error {
	keyFile, pubFile := filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	_, errKey := os.Stat(keyFile)
	_, errPub := os.Stat(pubFile)
	if errKey == nil && errPub == nil {
		return nil
	}
	key, err := newKey()
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("marshal service-account key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return fmt.Errorf("marshal service-account public key: %w", err)
	}
	if err := writeAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeAtomic(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644)
}

// writeAtomic writes data to path through a temporary file and a rename.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create dir of %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(fmt.Errorf("rename %s: %w", path, err), os.Remove(tmp))
	}
	return nil
}

// writeIfChanged writes data when the file's content differs, and reports whether it did.
func writeIfChanged(path string, data []byte, mode os.FileMode) (bool, error) {
	if cur, err := os.ReadFile(path); err == nil && string(cur) == string(data) {
		return false, nil
	}
	return true, writeAtomic(path, data, mode)
}
