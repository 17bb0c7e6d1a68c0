package gateway

import (
	"net"
	"path"
	"strings"
)

// Match finds the backend for a request's Host header and URL path, with Kubernetes Ingress semantics:
//
//   - hosts are tried from the most specific: the exact host, then the wildcard "*.<parent>" (a wildcard
//     matches exactly one label), then rules without a host; the first of them with a matching path wins;
//   - within a host the longest matching path wins, Exact before Prefix at equal length; Prefix matches
//     element by element (/foo matches /foo and /foo/bar, not /foobar);
//   - the path is cleaned (dot segments, repeated slashes) for matching only, so /public/../admin is
//     routed like /admin; the backend still receives the original path;
//   - nothing matches: the default backend, else nil (404).
//
// The returned route is nil when the default backend answered.
func (t *Table) Match(hostHeader, urlPath string) (*route, *backend) {
	host := normalizeHost(hostHeader)
	p := cleanPath(urlPath)
	if h := t.exact[host]; h != nil {
		if r := h.match(p); r != nil {
			return r, r.backend
		}
	}
	if _, parent, ok := strings.Cut(host, "."); ok && parent != "" {
		if h := t.wildcard[parent]; h != nil {
			if r := h.match(p); r != nil {
				return r, r.backend
			}
		}
	}
	if r := t.anyHost.match(p); r != nil {
		return r, r.backend
	}
	return nil, t.fallback
}

// match finds the longest path of h matching the cleaned path p. An exact match is as long as the path,
// so it wins over every prefix; prefixes are tried from p itself down to the root, element by element.
func (h *hostRoutes) match(p string) *route {
	if r := h.exact[p]; r != nil {
		return r
	}
	if len(h.prefix) == 0 {
		return nil
	}
	candidate := strings.TrimSuffix(p, "/")
	for {
		if r := h.prefix[candidate]; r != nil {
			return r
		}
		if candidate == "" {
			return nil
		}
		candidate = candidate[:strings.LastIndexByte(candidate, '/')]
	}
}

// normalizeHost lowercases a Host header and drops its port and any trailing dot.
func normalizeHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// cleanPath returns the absolute, cleaned form of a URL path, keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}
