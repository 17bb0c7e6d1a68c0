package gateway

import (
	"math/rand/v2"
	"net"
	"net/http"
	"path"
	"strings"
)

// Match finds the rule and backend for a request's Host header, URL path and headers, with Kubernetes
// Ingress semantics:
//
//   - hosts are tried from the most specific: the exact host, then the wildcard "*.<parent>" (a wildcard
//     matches exactly one label), then rules without a host; the first of them with a matching path wins;
//   - within a host the longest matching path wins, Exact before Prefix at equal length; Prefix matches
//     element by element (/foo matches /foo and /foo/bar, not /foobar);
//   - within one path the rules narrowed by a header and a cookie are tried first, then by a header, by a
//     cookie, and last the rules without a match; in the first match the request carries, a canary takes
//     its weight's share of the requests and the primary the rest; a match with no primary lets the rest
//     go on to the next match, then to shorter paths;
//   - the path is cleaned (dot segments, repeated slashes) for matching only, so /public/../admin is
//     routed like /admin; the backend still receives the original path;
//   - nothing matches: the default backend, else nil (404).
//
// The returned route is nil when the default backend answered.
func (t *Table) Match(hostHeader, urlPath string, header http.Header) (*route, *backend) {
	return t.match(hostHeader, urlPath, stdHeader(header))
}

// headerLookup is what matching reads of a request's headers: net/http's header map (stdHeader) or the
// fast path's parsed head, so neither builds the other.
type headerLookup interface {
	// hasValue reports whether the request carries the header name (canonical) with exactly value.
	hasValue(name, value string) bool
	// cookie returns the value of the first cookie named name, "" when there is none.
	cookie(name string) string
}

// stdHeader is an http.Header as a headerLookup.
type stdHeader http.Header

func (h stdHeader) hasValue(name, value string) bool {
	for _, v := range h[name] {
		if v == value {
			return true
		}
	}
	return false
}

func (h stdHeader) cookie(name string) string { return cookieValue(http.Header(h), name) }

// match is Match on any headerLookup.
func (t *Table) match(hostHeader, urlPath string, header headerLookup) (*route, *backend) {
	host := normalizeHost(hostHeader)
	p := cleanPath(urlPath)
	if h := t.exact[host]; h != nil {
		if r := h.match(p, header); r != nil {
			return r, r.backend
		}
	}
	if _, parent, ok := strings.Cut(host, "."); ok && parent != "" {
		if h := t.wildcard[parent]; h != nil {
			if r := h.match(p, header); r != nil {
				return r, r.backend
			}
		}
	}
	if r := t.anyHost.match(p, header); r != nil {
		return r, r.backend
	}
	return nil, t.fallback
}

// match finds the longest path of h matching the cleaned path p whose rules take the request. An exact
// match is as long as the path, so it wins over every prefix; prefixes are tried from p itself down to
// the root, element by element.
func (h *hostRoutes) match(p string, header headerLookup) *route {
	if c, ok := h.exact[p]; ok {
		if r := c.pick(header); r != nil {
			return r
		}
	}
	if len(h.prefix) == 0 {
		return nil
	}
	candidate := strings.TrimSuffix(p, "/")
	for {
		if c, ok := h.prefix[candidate]; ok {
			if r := c.pick(header); r != nil {
				return r
			}
		}
		if candidate == "" {
			return nil
		}
		candidate = candidate[:strings.LastIndexByte(candidate, '/')]
	}
}

// pick returns the rule of the first group whose match the request carries: a canary drawn by weight,
// else the primary. It is nil when no group takes the request.
func (c *candidates) pick(header headerLookup) *route {
	for i := range c.groups {
		g := &c.groups[i]
		if !headerMatches(header, g.header) || !cookieMatches(header, g.cookie) {
			continue
		}
		if len(g.canaries) > 0 {
			n := int32(rand.IntN(100))
			for _, r := range g.canaries {
				if n < r.Weight {
					return r
				}
				n -= r.Weight
			}
		}
		if g.primary != nil {
			return g.primary
		}
	}
	return nil
}

// headerMatches reports whether the request carries the header m (canonical name) with its value; a
// nil m matches every request.
func headerMatches(header headerLookup, m *ValueMatch) bool {
	return m == nil || header.hasValue(m.Name, m.Value)
}

// cookieMatches reports whether the request carries the cookie m with its value, without parsing the
// cookies into a new slice; a nil m matches every request.
func cookieMatches(header headerLookup, m *ValueMatch) bool {
	return m == nil || header.cookie(m.Name) == m.Value && m.Value != ""
}

// cookieValue returns the value of the first cookie named name, "" when there is none.
func cookieValue(header http.Header, name string) string {
	for _, line := range header["Cookie"] {
		if v, ok := cookieIn(line, name); ok {
			return v
		}
	}
	return ""
}

// cookieIn returns the value of the first cookie named name in one Cookie header line.
func cookieIn(line, name string) (string, bool) {
	for line != "" {
		var part string
		part, line, _ = strings.Cut(line, ";")
		part = strings.TrimSpace(part)
		if k, v, ok := strings.Cut(part, "="); ok && k == name {
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}

// normalizeHost lowercases a Host header and drops its port and any trailing dot.
func normalizeHost(h string) string {
	if strings.IndexByte(h, ':') >= 0 { // SplitHostPort allocates its error for a host without a port
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
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
