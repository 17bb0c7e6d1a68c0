package devstack

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
)

// renderKubeconfig is a kubeconfig for server that authenticates with a client certificate, all inline.
func renderKubeconfig(server string, caPEM, certPEM, keyPEM []byte, user string) []byte {
	enc := base64.StdEncoding.EncodeToString
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: rainflow
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: rainflow
  context:
    cluster: rainflow
    user: %s
current-context: rainflow
`, server, enc(caPEM), user, enc(certPEM), enc(keyPEM), user)
}

// writeKubeconfig writes a kubeconfig for the certificate <pki>/<cert>.{crt,key}.
func writeKubeconfig(path, server, pki, cert string) error {
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(pki, name))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return b, nil
	}
	ca, err := read("ca.crt")
	if err != nil {
		return err
	}
	crt, err := read(cert + ".crt")
	if err != nil {
		return err
	}
	key, err := read(cert + ".key")
	if err != nil {
		return err
	}
	_, err = writeIfChanged(path, renderKubeconfig(server, ca, crt, key, cert), 0o600)
	return err
}
