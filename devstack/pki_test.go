package devstack

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s: not PEM", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEnsurePKI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := ensurePKI(dir, "node-a"); err != nil {
		t.Fatal(err)
	}
	roots := map[string]*x509.CertPool{caName: x509.NewCertPool(), frontProxyCA: x509.NewCertPool()}
	for name, pool := range roots {
		pool.AddCert(readCert(t, filepath.Join(dir, name+".crt")))
	}
	for _, spec := range certSpecs("node-a") {
		t.Run(spec.name, func(t *testing.T) {
			c := readCert(t, filepath.Join(dir, spec.name+".crt"))
			usage := x509.ExtKeyUsageClientAuth
			if spec.server {
				usage = x509.ExtKeyUsageServerAuth
			}
			opts := x509.VerifyOptions{Roots: roots[spec.ca], KeyUsages: []x509.ExtKeyUsage{usage}}
			if spec.server {
				opts.DNSName = "127.0.0.1"
			}
			if _, err := c.Verify(opts); err != nil {
				t.Errorf("verify: %v", err)
			}
			if c.Subject.CommonName != spec.cn || !slices.Equal(c.Subject.Organization, spec.orgs) {
				t.Errorf("subject %v, want CN %s O %v", c.Subject, spec.cn, spec.orgs)
			}
			if _, err := loadPair(dir, spec.name); err != nil {
				t.Errorf("load pair: %v", err)
			}
		})
	}
	for _, f := range []string{"sa.key", "sa.pub"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
}

func TestEnsurePKIKeepsAndRepairs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := ensurePKI(dir, "n"); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ca, admin, sa := read("ca.crt"), read("admin.crt"), read("sa.key")
	if err := os.Remove(filepath.Join(dir, "kwok.crt")); err != nil {
		t.Fatal(err)
	}
	if err := ensurePKI(dir, "n"); err != nil {
		t.Fatal(err)
	}
	if read("ca.crt") != ca || read("admin.crt") != admin || read("sa.key") != sa {
		t.Error("second run replaced valid files")
	}
	if _, err := loadPair(dir, "kwok"); err != nil {
		t.Errorf("missing certificate not re-issued: %v", err)
	}
	// a new node name re-issues the node's certificates only
	if err := ensurePKI(dir, "other"); err != nil {
		t.Fatal(err)
	}
	if got := readCert(t, filepath.Join(dir, "kubelet-client.crt")).Subject.CommonName; got != "system:node:other" {
		t.Errorf("kubelet client CN = %q", got)
	}
	if read("admin.crt") != admin {
		t.Error("admin certificate replaced")
	}
	// a new CA re-issues everything it signs
	if err := os.Remove(filepath.Join(dir, "ca.key")); err != nil {
		t.Fatal(err)
	}
	if err := ensurePKI(dir, "other"); err != nil {
		t.Fatal(err)
	}
	if read("ca.crt") == ca || read("admin.crt") == admin {
		t.Error("CA or admin certificate not replaced after the CA key was lost")
	}
}
