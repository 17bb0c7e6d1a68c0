package api

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Token is one bearer token and the principal it authenticates.
type Token struct {
	Principal string // who the token speaks for: logged, and recorded as who requested an operation
	Secret    string
}

// minTokenLen is the shortest bearer secret accepted: shorter ones are guessable.
const minTokenLen = 16

// Config is the API process's configuration.
type Config struct {
	// Listen is the address the API serves on. Default 127.0.0.1:7480.
	Listen string
	// AdminToken authenticates the principal "admin", who may also create and delete tenants.
	AdminToken string
	// Tokens authenticate other principals, who may manage what is inside tenants.
	Tokens []Token
	// RegistryInsecure lists registry hosts (host or host:port) reached over plain HTTP; loopback
	// hosts always are. main passes it to NewRegistryImageChecker.
	RegistryInsecure []string
	// MaxBodyBytes caps a request body. Default 1 MiB.
	MaxBodyBytes int64
	// TemporalNamespace is the namespace the workflows run in. Default "default".
	TemporalNamespace string
	// TemporalUIURL is the Temporal Web UI's base URL (http://127.0.0.1:8233); when set, operations
	// link to their workflow there.
	TemporalUIURL string
	// ShutdownTimeout bounds the graceful shutdown of Run. Default 10s.
	ShutdownTimeout time.Duration
	// TLSCertFile and TLSKeyFile, when set, make the API serve HTTPS (TLS 1.2 and newer) with this
	// certificate chain and key, PEM files.
	TLSCertFile string
	TLSKeyFile  string
	// ClientCAFile, when set, is a PEM bundle of the CAs whose client certificates are accepted (mutual
	// TLS): a verified certificate's subject common name is the user it authenticates (when the request
	// carries no bearer token). Needs TLSCertFile.
	ClientCAFile string
	// ClientAuth is "require" (the default with a ClientCAFile: a client without a valid certificate
	// cannot connect) or "optional" (a certificate is verified when given; bearer tokens work without).
	ClientAuth string
	// TokenCacheTTL is how long a user's token the store vouched for is trusted without asking the
	// store again: a token revoked through another API process is refused within it (through this one,
	// at once). Default 5s; negative: no cache.
	TokenCacheTTL time.Duration
	// AllowInsecureHTTP lets the API serve plain HTTP on an address other than loopback. Without it,
	// such a listen address needs TLS: tokens must not cross a network in clear text.
	AllowInsecureHTTP bool
	// Registry is the platform's registry (host:port): built images and uploaded source archives go
	// there, under <registry>/<tenant>/<app>/<component>. Empty: builds answer 503.
	Registry string
	// Sources keeps uploaded archives until their build reads them; nil keeps them in Registry.
	Sources SourceStore
	// MaxArchiveBytes bounds an uploaded source archive. Default 256 MiB.
	MaxArchiveBytes int64
	// CollectorURL is the collector's base URL (http://127.0.0.1:7482): logs are read and followed
	// there. Empty: the logs routes answer 503.
	CollectorURL string
	// Metrics is the registry the API's metrics are registered on and /metrics serves. New makes a
	// registry of its own when nil; it is never Prometheus's global registry.
	Metrics *prometheus.Registry
}

// withDefaults answers the config with every unset field at its default.
func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:7480"
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.MaxArchiveBytes == 0 {
		c.MaxArchiveBytes = DefaultMaxArchiveBytes
	}
	if c.TemporalNamespace == "" {
		c.TemporalNamespace = "default"
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.TokenCacheTTL == 0 {
		c.TokenCacheTTL = 5 * time.Second
	}
	if c.ClientAuth == "" && c.ClientCAFile != "" {
		c.ClientAuth = ClientAuthRequire
	}
	return c
}

// Client certificate policies of mutual TLS.
const (
	ClientAuthRequire  = "require"
	ClientAuthOptional = "optional"
)

// tlsEnabled says whether the API serves HTTPS.
func (c Config) tlsEnabled() bool { return c.TLSCertFile != "" }

// Validate says everything that is wrong with the config, after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if host, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen address %q: %w", c.Listen, err))
	} else if !c.tlsEnabled() && !c.AllowInsecureHTTP && !isLoopbackHost(host) {
		errs = append(errs, fmt.Errorf("listen address %q is not loopback: serve it with TLS (a certificate and key) or allow plain HTTP explicitly", c.Listen))
	}
	if c.AdminToken == "" && len(c.Tokens) == 0 && c.ClientCAFile == "" {
		errs = append(errs, errors.New("no bearer token configured: set the admin token or at least one token"))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("TLS needs both a certificate file and a key file"))
	}
	if c.ClientCAFile != "" && !c.tlsEnabled() {
		errs = append(errs, errors.New("a client CA (mutual TLS) needs TLS: set a certificate and key file"))
	}
	switch c.ClientAuth {
	case "", ClientAuthRequire, ClientAuthOptional:
	default:
		errs = append(errs, fmt.Errorf("client auth %q is not %q or %q", c.ClientAuth, ClientAuthRequire, ClientAuthOptional))
	}
	if c.ClientAuth != "" && c.ClientCAFile == "" {
		errs = append(errs, fmt.Errorf("client auth %q needs a client CA file", c.ClientAuth))
	}
	secrets := map[string]bool{}
	check := func(who, secret string) {
		switch {
		case len(secret) < minTokenLen:
			errs = append(errs, fmt.Errorf("token of %q is shorter than %d characters", who, minTokenLen))
		case strings.ContainsAny(secret, " \t\r\n"):
			errs = append(errs, fmt.Errorf("token of %q contains whitespace", who))
		case secrets[secret]:
			errs = append(errs, fmt.Errorf("token of %q is also another principal's token", who))
		}
		secrets[secret] = true
	}
	if c.AdminToken != "" {
		check(adminPrincipal, c.AdminToken)
	}
	names := map[string]bool{adminPrincipal: c.AdminToken != ""}
	for i, t := range c.Tokens {
		if t.Principal == "" {
			errs = append(errs, fmt.Errorf("token %d has no principal name", i))
		} else if names[t.Principal] {
			errs = append(errs, fmt.Errorf("principal %q has two tokens", t.Principal))
		}
		names[t.Principal] = true
		check(t.Principal, t.Secret)
	}
	for _, host := range c.RegistryInsecure {
		if host == "" || strings.ContainsAny(host, "/ ") {
			errs = append(errs, fmt.Errorf("insecure registry %q is not a host or host:port", host))
		}
	}
	if c.MaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("max body bytes %d is negative", c.MaxBodyBytes))
	}
	if c.TemporalUIURL != "" {
		if u, err := url.Parse(c.TemporalUIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("temporal UI URL %q is not an http(s) URL", c.TemporalUIURL))
		}
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("shutdown timeout %s is negative", c.ShutdownTimeout))
	}
	return errors.Join(errs...)
}

// isLoopbackHost says whether a listen host only accepts connections from this machine.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
