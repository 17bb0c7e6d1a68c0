package gateway

import (
	"bytes"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// PathType is how an HTTPRoute's path matches a request path, with Kubernetes Ingress semantics.
type PathType string

const (
	// PathExact matches the request path exactly, case-sensitively.
	PathExact PathType = "Exact"
	// PathPrefix matches element by element on "/": /foo matches /foo and /foo/bar, never /foobar.
	// ImplementationSpecific Ingress paths are read as Prefix.
	PathPrefix PathType = "Prefix"
)

// Routes is the gateway's whole routing configuration as plain data: what Build returns, what the builder
// compares with the running one to decide whether to publish, and what Compile indexes. It is canonical:
// the same objects always give an equal Routes.
type Routes struct {
	// HTTP is sorted by host, path and path type; the entries of one (host, path, path type) follow in
	// matching order: the most specific header/cookie match first, then within one match the canaries
	// before the primary, then by Ingress.
	HTTP []HTTPRoute `json:"http"`
	// Default serves requests no rule matches; nil when no selected Ingress declares a default backend.
	Default *Backend `json:"default,omitempty"`
	// TLS holds the certificate of each host an Ingress's spec.tls names, sorted by host.
	TLS []HostCertificate `json:"tls,omitempty"`
}

// HostCertificate is the certificate served for one host (exact or "*." wildcard) on HTTPS.
type HostCertificate struct {
	Host string `json:"host"`
	// Secret is the namespace/name of the kubernetes.io/tls Secret holding it.
	Secret string `json:"secret"`
	// Chain and Key are the Secret's PEM data, parsed by Build; never shown.
	Chain []byte `json:"-"`
	Key   []byte `json:"-"`
}

// Equal reports whether two host certificates serve the same certificate.
func (c HostCertificate) Equal(o HostCertificate) bool {
	return c.Host == o.Host && c.Secret == o.Secret && bytes.Equal(c.Chain, o.Chain) && bytes.Equal(c.Key, o.Key)
}

// HTTPRoute is one host/path rule of an Ingress with its resolved backend.
type HTTPRoute struct {
	// Host is a lowercase DNS name, a wildcard "*.example.com" that matches exactly one more label, or
	// empty to match any host.
	Host string `json:"host,omitempty"`
	// Path is the Exact path as written, or the Prefix path without its trailing slash ("" matches all).
	Path     string   `json:"path"`
	PathType PathType `json:"pathType"`
	// Ingress is the namespace/name of the Ingress the rule comes from.
	Ingress string  `json:"ingress"`
	Backend Backend `json:"backend"`
	// Header and Cookie, when set, narrow the rule to requests carrying them with exactly that value.
	Header *ValueMatch `json:"header,omitempty"`
	Cookie *ValueMatch `json:"cookie,omitempty"`
	// Canary rules take Weight percent of the requests of their host, path and match; the primary rule
	// of the same match takes the rest.
	Canary bool  `json:"canary,omitempty"`
	Weight int32 `json:"weight,omitempty"`
	// Options are the rule's proxy behaviour, from the Ingress's annotations.
	Options RouteOptions `json:"options,omitzero"`
}

// ValueMatch is a header or cookie a request must carry with exactly this value. A header name is
// canonical (http.CanonicalHeaderKey); a cookie name is case-sensitive.
type ValueMatch struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// RouteOptions say how the proxy treats the requests of a rule. The zero value is the plain proxy.
type RouteOptions struct {
	// ForceHTTPS redirects plain-HTTP requests (308) to the same URL over HTTPS.
	ForceHTTPS bool `json:"forceHttps,omitempty"`
	// RewritePath replaces the matched path (the Prefix path, or the whole Exact path) before proxying.
	RewritePath string `json:"rewritePath,omitempty"`
	// ConnectTimeout bounds the dial of an upstream; ReadTimeout the wait for its response headers.
	ConnectTimeout time.Duration `json:"connectTimeout,omitempty"`
	ReadTimeout    time.Duration `json:"readTimeout,omitempty"`
	// Retries is how many other upstreams an idempotent request without a body is tried on when its
	// upstream cannot be dialed or answers 502.
	Retries int `json:"retries,omitempty"`
	// MaxBodySize, when positive, answers 413 to request bodies larger than this many bytes.
	MaxBodySize int64 `json:"maxBodySize,omitempty"`
	// StickyCookie, when set, names the cookie that pins a client to the upstream that first served it.
	StickyCookie string `json:"stickyCookie,omitempty"`
	// ResponseHeaders are set on every answer proxied for the rule, sorted by name.
	ResponseHeaders []HeaderValue `json:"responseHeaders,omitempty"`
	// Balance is the load-balancing policy of the rule's backend.
	Balance Balance `json:"balance,omitzero"`
}

// HeaderValue is one response header the gateway sets; Name is canonical.
type HeaderValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Balance names a load-balancing policy and, for consistent hashing, what it hashes. The zero value is
// round robin.
type Balance struct {
	Policy BalancePolicy `json:"policy,omitempty"`
	// HashBy is "client-ip", "header:<Canonical-Name>" or "cookie:<name>" for BalanceHash.
	HashBy string `json:"hashBy,omitempty"`
}

// BalancePolicy is a load-balancing policy's name, as the load-balance annotation writes it.
type BalancePolicy string

// Load-balancing policies.
const (
	BalanceRoundRobin       BalancePolicy = ""
	BalanceLeastConnections BalancePolicy = "least-connections"
	BalanceHash             BalancePolicy = "consistent-hash"
	BalancePeakEWMA         BalancePolicy = "peak-ewma"
)

// Equal reports whether two option sets make the proxy behave the same.
func (o RouteOptions) Equal(p RouteOptions) bool {
	return o.ForceHTTPS == p.ForceHTTPS && o.RewritePath == p.RewritePath &&
		o.ConnectTimeout == p.ConnectTimeout && o.ReadTimeout == p.ReadTimeout && o.Retries == p.Retries &&
		o.MaxBodySize == p.MaxBodySize && o.StickyCookie == p.StickyCookie && o.Balance == p.Balance &&
		slices.Equal(o.ResponseHeaders, p.ResponseHeaders)
}

// sameMatch reports whether two rules narrow the same way (both nil, or equal values).
func sameMatch(a, b *ValueMatch) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// Equal reports whether two rules route every request the same way.
func (r HTTPRoute) Equal(o HTTPRoute) bool {
	return r.Host == o.Host && r.Path == o.Path && r.PathType == o.PathType && r.Ingress == o.Ingress &&
		r.Backend.Equal(o.Backend) && sameMatch(r.Header, o.Header) && sameMatch(r.Cookie, o.Cookie) &&
		r.Canary == o.Canary && r.Weight == o.Weight && r.Options.Equal(o.Options)
}

// Backend is a Service port and the ready endpoints behind it.
type Backend struct {
	// Service is the namespace/name of the Service.
	Service string `json:"service"`
	// Port is the Service port as the Ingress names it: a number or a port name.
	Port string `json:"port"`
	// Endpoints are the host:port addresses of the ready endpoints, sorted; empty means 503.
	Endpoints []string `json:"endpoints,omitempty"`
}

// Key names the backend for per-backend state (balancer position) and for logs.
func (b Backend) Key() string { return b.Service + ":" + b.Port }

// Equal reports whether two backends route the same way; nil and empty endpoint lists are equal.
func (b Backend) Equal(o Backend) bool {
	return b.Service == o.Service && b.Port == o.Port && slices.Equal(b.Endpoints, o.Endpoints)
}

// Equal reports whether two routing configurations route every request the same way.
func (r Routes) Equal(o Routes) bool {
	if (r.Default == nil) != (o.Default == nil) {
		return false
	}
	if r.Default != nil && !r.Default.Equal(*o.Default) {
		return false
	}
	return slices.EqualFunc(r.HTTP, o.HTTP, HTTPRoute.Equal) && slices.EqualFunc(r.TLS, o.TLS, HostCertificate.Equal)
}

// Problem is one object, rule or reference the builder could not use. Problems never fail a build: an
// invalid rule is skipped, an unresolvable backend routes to no endpoint (503).
type Problem struct {
	// Object is "Ingress namespace/name".
	Object string
	// Reason is a short fixed word, used as the metric label.
	Reason string
	// Detail says what is wrong, for the log.
	Detail string
	// UID is the object's uid, so that the Kubernetes Event about the problem is attached to it (kubectl
	// describe finds events by uid).
	UID types.UID
}

// Problem reasons.
const (
	ReasonInvalidHost        = "invalid-host"
	ReasonInvalidPath        = "invalid-path"
	ReasonInvalidBackend     = "invalid-backend"
	ReasonUnsupported        = "unsupported"
	ReasonConflict           = "conflict"
	ReasonServiceNotFound    = "service-not-found"
	ReasonServicePortMissing = "service-port-not-found"
	ReasonInvalidAnnotation  = "invalid-annotation"
	ReasonSecretNotFound     = "secret-not-found"
	ReasonInvalidCertificate = "invalid-certificate"
)
