package gateway

import (
	"cmp"
	"crypto/tls"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// certificates resolves the spec.tls of the Ingresses (oldest first) into one certificate per host. A
// spec.tls entry without hosts covers the hosts of its Ingress's rules. A missing Secret or one whose
// chain and key do not parse is reported and serves nothing (the host gets the default certificate); a
// host given two different Secrets keeps the older Ingress's.
func (b *builder) certificates(ingresses []*networkingv1.Ingress, secrets []*corev1.Secret) []HostCertificate {
	byName := make(map[string]*corev1.Secret)
	for _, s := range secrets {
		if s.Type == corev1.SecretTypeTLS {
			byName[s.Namespace+"/"+s.Name] = s
		}
	}
	owners := make(map[string]string) // host → Ingress
	var out []HostCertificate
	for _, ing := range ingresses {
		for i, entry := range ing.Spec.TLS {
			if entry.SecretName == "" {
				continue
			}
			name := ing.Namespace + "/" + entry.SecretName
			s := byName[name]
			if s == nil {
				b.report(ing, ReasonSecretNotFound, "tls %d: kubernetes.io/tls secret %s not found", i, name)
				continue
			}
			chain, key := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
			if _, err := tls.X509KeyPair(chain, key); err != nil {
				b.report(ing, ReasonInvalidCertificate, "tls %d: secret %s: parse certificate and key: %v", i, name, err)
				continue
			}
			for _, host := range tlsHosts(ing, entry) {
				if prev := slices.IndexFunc(out, func(c HostCertificate) bool { return c.Host == host }); prev >= 0 {
					if out[prev].Secret != name {
						b.report(ing, ReasonConflict, "tls %d: host %q: Ingress %s already serves secret %s for it",
							i, host, owners[host], out[prev].Secret)
					}
					continue
				}
				owners[host] = ing.Namespace + "/" + ing.Name
				out = append(out, HostCertificate{Host: host, Secret: name, Chain: chain, Key: key})
			}
		}
	}
	slices.SortFunc(out, func(a, b HostCertificate) int { return cmp.Compare(a.Host, b.Host) })
	return out
}

// tlsHosts are the lowercase hosts of a spec.tls entry, or of the Ingress's rules when it lists none.
func tlsHosts(ing *networkingv1.Ingress, entry networkingv1.IngressTLS) []string {
	hosts := entry.Hosts
	if len(hosts) == 0 {
		for _, r := range ing.Spec.Rules {
			hosts = append(hosts, r.Host)
		}
	}
	var out []string
	for _, h := range hosts {
		if h = strings.ToLower(h); h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}
