package gateway

import "slices"

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
	// HTTP holds one entry per (host, path, path type), sorted by host, path, then path type.
	HTTP []HTTPRoute `json:"http"`
	// Default serves requests no rule matches; nil when no selected Ingress declares a default backend.
	Default *Backend `json:"default,omitempty"`
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
	return slices.EqualFunc(r.HTTP, o.HTTP, func(a, b HTTPRoute) bool {
		return a.Host == b.Host && a.Path == b.Path && a.PathType == b.PathType &&
			a.Ingress == b.Ingress && a.Backend.Equal(b.Backend)
	})
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
)
