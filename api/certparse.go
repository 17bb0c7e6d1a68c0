package api

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"github.com/rainflow/rainflow/store"
)

// maxChainLength bounds the certificates of one chain.
const maxChainLength = 10

// parsedCertificate is a chain and its key as the request sent them, checked.
type parsedCertificate struct {
	cert   store.Certificate // without tenant and name
	keyPEM []byte            // the key's one PEM block, re-encoded
}

// parseCertificate checks a certificate chain and its private key the way a TLS server will use them:
// PEM, leaf first, each certificate signed by the next, every one valid at now, the leaf naming at least
// one DNS host, the key the leaf's. Errors name the field and never quote the key.
func parseCertificate(errs *fieldErrors, certPEM, keyPEM string, now time.Time) parsedCertificate {
	chain := parseChain(errs, "certPEM", certPEM, now)
	key := parseKey(errs, "keyPEM", keyPEM)
	if len(chain) == 0 || key == nil {
		return parsedCertificate{}
	}
	leaf := chain[0]
	pub, ok := key.signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		errs.add("keyPEM", "is not the private key of the leaf certificate (the first one of certPEM)")
		return parsedCertificate{}
	}
	var out strings.Builder
	for _, c := range chain {
		_ = pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	sum := sha256.Sum256(leaf.Raw)
	return parsedCertificate{
		cert: store.Certificate{
			CertPEM: out.String(), Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(),
			SANs: lowerAll(leaf.DNSNames), NotBefore: leaf.NotBefore.UTC(), NotAfter: leaf.NotAfter.UTC(),
			Fingerprint: hex.EncodeToString(sum[:]),
		},
		keyPEM: pem.EncodeToMemory(key.block),
	}
}

func parseChain(errs *fieldErrors, field, certPEM string, now time.Time) []*x509.Certificate {
	if strings.TrimSpace(certPEM) == "" {
		errs.add(field, "is required: the PEM certificate chain, leaf first")
		return nil
	}
	var chain []*x509.Certificate
	rest := []byte(certPEM)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n := len(chain)
		if block.Type != "CERTIFICATE" {
			errs.add(field, fmt.Sprintf("PEM block %d is a %q, not a CERTIFICATE (the key goes in keyPEM)", n+1, block.Type))
			return nil
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			errs.add(field, fmt.Sprintf("certificate %d does not parse: %v", n+1, err))
			return nil
		}
		chain = append(chain, c)
	}
	switch {
	case len(chain) == 0:
		errs.add(field, "holds no PEM CERTIFICATE block")
		return nil
	case len(chain) > maxChainLength:
		errs.add(field, fmt.Sprintf("holds %d certificates, more than %d", len(chain), maxChainLength))
		return nil
	case strings.TrimSpace(string(rest)) != "":
		errs.add(field, "holds something after its last PEM block")
		return nil
	}
	ok := true
	for i, c := range chain {
		what := fmt.Sprintf("certificate %d (%s)", i+1, c.Subject)
		if i == 0 {
			what = fmt.Sprintf("the leaf certificate (%s)", c.Subject)
		}
		switch {
		case now.After(c.NotAfter):
			errs.add(field, fmt.Sprintf("%s expired on %s", what, c.NotAfter.UTC().Format(time.RFC3339)))
			ok = false
		case now.Before(c.NotBefore):
			errs.add(field, fmt.Sprintf("%s is not valid before %s", what, c.NotBefore.UTC().Format(time.RFC3339)))
			ok = false
		}
		if i+1 < len(chain) {
			if err := c.CheckSignatureFrom(chain[i+1]); err != nil {
				errs.add(field, fmt.Sprintf("%s is not signed by certificate %d (%s): the chain must go from the leaf to its issuers, in order (%v)",
					what, i+2, chain[i+1].Subject, err))
				ok = false
			}
		}
	}
	if len(chain[0].DNSNames) == 0 {
		errs.add(field, "the leaf certificate names no DNS host in its subjectAltName extension, so it covers no route")
		ok = false
	}
	if !ok {
		return nil
	}
	return chain
}

// privateKey is a parsed key and its PEM block.
type privateKey struct {
	signer crypto.Signer
	block  *pem.Block
}

func parseKey(errs *fieldErrors, field, keyPEM string) *privateKey {
	if strings.TrimSpace(keyPEM) == "" {
		errs.add(field, "is required: the leaf certificate's private key, PEM")
		return nil
	}
	block, rest := pem.Decode([]byte(keyPEM))
	if block == nil {
		errs.add(field, "holds no PEM block")
		return nil
	}
	if strings.TrimSpace(string(rest)) != "" {
		errs.add(field, "must hold exactly one PEM block, the private key")
		return nil
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		errs.add(field, "is encrypted: send the key without a passphrase (it is encrypted at rest by the server)")
		return nil
	default:
		errs.add(field, fmt.Sprintf("is a PEM %q block, not a PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY", block.Type))
		return nil
	}
	if err != nil {
		errs.add(field, fmt.Sprintf("the %s does not parse", strings.ToLower(block.Type))) // the parser's error is not quoted: it is about the key
		return nil
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		errs.add(field, fmt.Sprintf("a %T cannot sign", key))
		return nil
	}
	return &privateKey{signer: signer, block: block}
}

// covers answers whether a certificate with these DNS names serves host: a name equal to it, or a
// wildcard "*.example.com" for a host one label below example.com. A wildcard host is covered by the
// same wildcard only.
func covers(sans []string, host string) bool {
	host = strings.ToLower(host)
	for _, san := range sans {
		san = strings.ToLower(san)
		if san == host {
			return true
		}
		if base, ok := strings.CutPrefix(san, "*."); ok && !strings.HasPrefix(host, "*.") {
			if label, rest, found := strings.Cut(host, "."); found && label != "" && rest == base {
				return true
			}
		}
	}
	return false
}

func lowerAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}
