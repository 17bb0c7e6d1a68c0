// Package gateway is Rainflow's data plane: it watches Ingress, Service and EndpointSlice objects, rebuilds
// an immutable routing snapshot from them with a pure function, swaps it in atomically, and reverse-proxies
// HTTP traffic to the ready endpoints of the matching Service.
//
// The flow is watch → signal → build → compare → compile → swap: informer events only mark the
// configuration dirty (watch.go); one throttled builder goroutine lists every object, calls Build
// (build.go, pure), skips the publish when the Routes did not change, compiles them into a Table
// (table.go) and stores it in an atomic.Pointer that the proxy (proxy.go) loads once per request.
// Per-endpoint runtime state (in-flight counts, passive health, latency average, balancer positions)
// lives in a Pool (pool.go) keyed by address, outside the snapshot, so a swap does not reset it. Rules
// carry the options of their Ingress's annotations (annotations.go): header/cookie match, canary weight,
// forced HTTPS, path rewrite, timeouts, retries, body limit, sticky cookie, response headers and
// load-balancing policy; HTTPS certificates come from the TLS Secrets the Ingresses name (tlsserve.go).
package gateway

import (
	"errors"
	"fmt"
	"net"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Config is what the gateway process needs. Zero fields take their defaults.
type Config struct {
	// Kubeconfig is the path of a kubeconfig file; empty means the in-cluster configuration.
	Kubeconfig string
	// IngressClass selects the Ingresses whose spec.ingressClassName equals it. Default "rainflow".
	IngressClass string
	// HTTPListen is the address of the plain-HTTP data plane. Default 127.0.0.1:7481.
	HTTPListen string
	// HTTPSListen is the address of the HTTPS data plane (TLS 1.2+, HTTP/2 by ALPN, certificates by SNI
	// from the Ingresses' TLS Secrets). Empty: no HTTPS listener.
	HTTPSListen string
	// DefaultCert and DefaultKey are PEM files of the certificate served when no Ingress has one for
	// the client's server name; both or neither. Neither: a self-signed one is generated at start.
	DefaultCert string
	DefaultKey  string
	// Health is the passive health of upstreams (ejection after consecutive failures).
	Health PassiveHealth
	// AccessLog sends the access lines of components' routes to the collector too (off by default).
	AccessLog AccessLogConfig
	// AdminListen serves /healthz, /readyz (once the first snapshot is published) and /metrics.
	// Default 127.0.0.1:7491.
	AdminListen string
	// Resync is the informers' resync period: every object is re-delivered this often, so the
	// snapshot is rebuilt (and compared) at least this often. Default 10s.
	Resync time.Duration
	// Namespaces restricts the watch to these namespaces; empty watches all of them.
	Namespaces []string
	// Throttle is the minimum time between two rebuilds of the snapshot; events arriving meanwhile are
	// coalesced and the newest state wins. Default 100ms.
	Throttle time.Duration
	// ShutdownTimeout bounds how long Run waits for in-flight requests once its context is done.
	// Default 10s.
	ShutdownTimeout time.Duration
	// L4EndpointWait is how long a TCP connection, or a new UDP client's first datagrams, arriving while
	// its route has no ready endpoint wait for one: L4Config.EndpointWait, 0 taking its default (5s).
	L4EndpointWait time.Duration
}

// Defaults of Config.
const (
	DefaultIngressClass    = "rainflow"
	DefaultHTTPListen      = "127.0.0.1:7481"
	DefaultAdminListen     = "127.0.0.1:7491"
	DefaultResync          = 10 * time.Second
	DefaultThrottle        = 100 * time.Millisecond
	DefaultShutdownTimeout = 10 * time.Second
)

// withDefaults returns the config with every unset field at its default.
func (c Config) withDefaults() Config {
	if c.IngressClass == "" {
		c.IngressClass = DefaultIngressClass
	}
	if c.HTTPListen == "" {
		c.HTTPListen = DefaultHTTPListen
	}
	if c.AdminListen == "" {
		c.AdminListen = DefaultAdminListen
	}
	if c.Resync == 0 {
		c.Resync = DefaultResync
	}
	if c.Throttle == 0 {
		c.Throttle = DefaultThrottle
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.Health.EjectAfter == 0 {
		c.Health.EjectAfter = DefaultEjectAfter
	}
	if c.Health.EjectFor == 0 {
		c.Health.EjectFor = DefaultEjectFor
	}
	return c
}

// Validate says what is wrong with the config, after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	for _, msg := range validation.IsDNS1123Subdomain(c.IngressClass) {
		errs = append(errs, fmt.Errorf("gateway ingress class %q: %s", c.IngressClass, msg))
	}
	if _, _, err := net.SplitHostPort(c.HTTPListen); err != nil {
		errs = append(errs, fmt.Errorf("gateway HTTP listen address %q: %w", c.HTTPListen, err))
	}
	if _, _, err := net.SplitHostPort(c.HTTPSListen); c.HTTPSListen != "" && err != nil {
		errs = append(errs, fmt.Errorf("gateway HTTPS listen address %q: %w", c.HTTPSListen, err))
	}
	if (c.DefaultCert == "") != (c.DefaultKey == "") {
		errs = append(errs, errors.New("gateway default certificate: give both the certificate and the key files, or neither"))
	}
	if err := c.AccessLog.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Health.EjectAfter < 0 || c.Health.EjectFor < 0 {
		errs = append(errs, fmt.Errorf("gateway passive health %+v is negative", c.Health))
	}
	if _, _, err := net.SplitHostPort(c.AdminListen); err != nil {
		errs = append(errs, fmt.Errorf("gateway admin listen address %q: %w", c.AdminListen, err))
	}
	if c.Resync < 0 {
		errs = append(errs, fmt.Errorf("gateway resync %s is negative", c.Resync))
	}
	if c.Throttle < 0 {
		errs = append(errs, fmt.Errorf("gateway throttle %s is negative", c.Throttle))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("gateway shutdown timeout %s is negative", c.ShutdownTimeout))
	}
	if c.L4EndpointWait < 0 {
		errs = append(errs, fmt.Errorf("gateway L4 endpoint wait %s is negative", c.L4EndpointWait))
	}
	seen := make(map[string]bool, len(c.Namespaces))
	for _, ns := range c.Namespaces {
		for _, msg := range validation.IsDNS1123Label(ns) {
			errs = append(errs, fmt.Errorf("gateway namespace %q: %s", ns, msg))
		}
		if seen[ns] {
			errs = append(errs, fmt.Errorf("gateway namespace %q is listed twice", ns))
		}
		seen[ns] = true
	}
	return errors.Join(errs...)
}
