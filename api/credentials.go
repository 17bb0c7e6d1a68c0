package api

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/crypto/ssh"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/rainflow/rainflow/seal"
	"github.com/rainflow/rainflow/store"
)

// Source credentials of a tenant: PUT /v1/tenants/{t}/credentials/{name} keeps a git token, an SSH
// key or a registry login under a name, sealed at rest (AES-GCM, bound to the tenant, the name and
// the version); builds name it ({"source": {"git": {"credential": "..."}}} or
// {"source": {"image": "...", "credential": "..."}}) and the worker opens it. No answer, log line or
// problem ever holds a secret: reads answer the name, type, host and version only. Developers and
// admins write them, viewers list them (tenantScope); the audit trail records who changed which one.

// Bounds of a credential's parts.
const (
	maxCredentialSecret  = 4096     // a token or a password
	maxCredentialKey     = 16 << 10 // a PEM private key
	maxCredentialHosts   = 64 << 10 // known_hosts lines
	maxCredentialUser    = 255
	maxCredentialHostLen = 253 + 6 // a DNS name and a port
)

// credentialRequest is the body of a PUT: the type and the parts it uses.
type credentialRequest struct {
	Type string `json:"type"` // git-token, git-ssh or registry
	// Host is the host it may be used for: a git server (github.com), a registry (ghcr.io,
	// registry.local:5000); "" any.
	Host       string `json:"host"`
	Username   string `json:"username"`   // git-token (default x-access-token) and registry
	Token      string `json:"token"`      // git-token
	Password   string `json:"password"`   // registry
	PrivateKey string `json:"privateKey"` // git-ssh: a PEM (or OpenSSH) private key
	Passphrase string `json:"passphrase"` // git-ssh: the key's passphrase, if it has one
	KnownHosts string `json:"knownHosts"` // git-ssh: known_hosts lines that the server's key must match
}

// credentialView is a credential as anyone in the tenant may read it: never its secret.
type credentialView struct {
	Name      string            `json:"name"`
	Tenant    string            `json:"tenant"`
	Type      string            `json:"type"`
	Host      string            `json:"host,omitempty"`
	Version   int64             `json:"version"`
	CreatedAt time.Time         `json:"createdAt"`
	UpdatedAt time.Time         `json:"updatedAt"`
	UpdatedBy string            `json:"updatedBy,omitempty"`
	Links     map[string]string `json:"links"`
}

func newCredentialView(t store.Tenant, c store.Credential) credentialView {
	return credentialView{Name: c.Name, Tenant: t.Name, Type: c.Type, Host: c.Host, Version: c.Version,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, UpdatedBy: c.UpdatedBy,
		Links: map[string]string{"self": credentialPath(t.Name, c.Name), "tenant": tenantPath(t.Name)}}
}

func credentialPath(tenant, name string) string { return tenantPath(tenant) + "/credentials/" + name }

// putCredential creates or replaces a credential: 201 when new, 200 when replaced.
func (s *Server) putCredential(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	t, err := s.tenantOf(r)
	if err != nil {
		return err
	}
	name := chi.URLParam(r, "credential")
	var req credentialRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	var errs fieldErrors
	if name == "" || len(validation.IsDNS1123Label(name)) > 0 {
		errs.add("name", "the path's credential name must be a DNS label: at most 63 of a-z, 0-9 and '-', starting and ending with a letter or digit")
	}
	secret := req.validate(&errs)
	if len(errs) > 0 {
		return validationProblem("credential", errs)
	}
	principal, _ := PrincipalFrom(ctx)
	c, created, err := s.store.PutCredential(ctx, store.Credential{TenantID: t.ID, Name: name, Type: req.Type, Host: req.Host},
		secret, principal.Name)
	if err != nil {
		return credentialError(t, name, err)
	}
	s.logger.InfoContext(ctx, "wrote credential", "tenant", t.Name, "credential", c.Name, "type", c.Type, "host", c.Host,
		"version", c.Version, "principal", principal.Name, "request_id", RequestIDFrom(ctx))
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", credentialPath(t.Name, c.Name))
	}
	writeJSON(w, status, newCredentialView(t, c))
	return nil
}

func (s *Server) listCredentials(w http.ResponseWriter, r *http.Request) error {
	t, err := s.tenantOf(r)
	if err != nil {
		return err
	}
	return serveList(w, r, func(p store.Page) ([]store.Credential, string, error) {
		return s.store.ListCredentials(r.Context(), t.ID, p)
	}, func(c store.Credential) credentialView { return newCredentialView(t, c) })
}

func (s *Server) getCredential(w http.ResponseWriter, r *http.Request) error {
	t, err := s.tenantOf(r)
	if err != nil {
		return err
	}
	name := chi.URLParam(r, "credential")
	c, err := s.store.GetCredential(r.Context(), t.ID, name)
	if err != nil {
		return credentialError(t, name, err)
	}
	writeJSON(w, http.StatusOK, newCredentialView(t, c))
	return nil
}

func (s *Server) deleteCredential(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	t, err := s.tenantOf(r)
	if err != nil {
		return err
	}
	name := chi.URLParam(r, "credential")
	if err := s.store.DeleteCredential(ctx, t.ID, name); err != nil {
		return credentialError(t, name, err)
	}
	principal, _ := PrincipalFrom(ctx)
	s.logger.InfoContext(ctx, "deleted credential", "tenant", t.Name, "credential", name, "principal", principal.Name,
		"request_id", RequestIDFrom(ctx))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// credentialError answers the problem of a store error about a credential; none holds the secret.
func credentialError(t store.Tenant, name string, err error) error {
	switch {
	case errors.Is(err, store.ErrNoKeyring):
		return &Problem{Type: typeNoEncryptionKey, Status: http.StatusServiceUnavailable,
			Detail: "the server has no encryption key configured (--encryption-keys / $RAINFLOW_ENCRYPTION_KEYS), " +
				"so it cannot keep a credential; an operator must configure one"}
	case errors.Is(err, seal.ErrUnknownKey), errors.Is(err, seal.ErrCorrupt):
		return &Problem{Type: typeInternal, Status: http.StatusInternalServerError,
			Detail: fmt.Sprintf("credential %q cannot be sealed with the server's encryption keys", name)}
	case errors.Is(err, store.ErrNotFound):
		return notFound("credential %q not found in tenant %q", name, t.Name)
	case errors.Is(err, store.ErrConflict):
		return &Problem{Type: typeStoreUnavailable, Status: http.StatusServiceUnavailable, RetryAfter: 1,
			Detail: fmt.Sprintf("credential %q was written concurrently; try again", name)}
	}
	return err
}

// validate checks the request for its type and answers the secret to seal. Problems name the field
// and never quote a secret.
func (req credentialRequest) validate(errs *fieldErrors) store.CredentialSecret {
	validateCredentialHost(errs, req.Host)
	if len(req.Username) > maxCredentialUser || strings.ContainsFunc(req.Username, isControlOrSpace) {
		errs.add("username", fmt.Sprintf("at most %d bytes, no spaces or control characters", maxCredentialUser))
	}
	// unused reports the parts the type does not take, so that nothing sent is silently dropped.
	unused := func(fields map[string]string) {
		for _, f := range []string{"username", "token", "password", "privateKey", "passphrase", "knownHosts"} {
			if v, ok := fields[f]; ok && v != "" {
				errs.add(f, fmt.Sprintf("is not used by a %s credential", req.Type))
			}
		}
	}
	switch req.Type {
	case store.CredentialGitToken:
		requireSecret(errs, "token", req.Token, maxCredentialSecret)
		unused(map[string]string{"password": req.Password, "privateKey": req.PrivateKey, "passphrase": req.Passphrase, "knownHosts": req.KnownHosts})
		return store.CredentialSecret{Username: req.Username, Token: req.Token}
	case store.CredentialRegistry:
		if req.Username == "" {
			errs.add("username", "is required")
		}
		requireSecret(errs, "password", req.Password, maxCredentialSecret)
		unused(map[string]string{"token": req.Token, "privateKey": req.PrivateKey, "passphrase": req.Passphrase, "knownHosts": req.KnownHosts})
		return store.CredentialSecret{Username: req.Username, Password: req.Password}
	case store.CredentialGitSSH:
		unused(map[string]string{"username": req.Username, "token": req.Token, "password": req.Password})
		validateSSHKey(errs, req.PrivateKey, req.Passphrase)
		validateKnownHosts(errs, req.KnownHosts)
		return store.CredentialSecret{PrivateKey: req.PrivateKey, Passphrase: req.Passphrase, KnownHosts: req.KnownHosts}
	case "":
		errs.add("type", fmt.Sprintf("is required: %s, %s or %s", store.CredentialGitToken, store.CredentialGitSSH, store.CredentialRegistry))
	default:
		errs.add("type", fmt.Sprintf("%q is not %s, %s or %s", cutString(req.Type, 64), store.CredentialGitToken, store.CredentialGitSSH, store.CredentialRegistry))
	}
	return store.CredentialSecret{}
}

func requireSecret(errs *fieldErrors, field, v string, limit int) {
	switch {
	case v == "":
		errs.add(field, "is required")
	case len(v) > limit:
		errs.add(field, fmt.Sprintf("is longer than %d bytes", limit))
	case strings.ContainsFunc(v, isControlOrSpace):
		errs.add(field, "contains spaces or control characters")
	}
}

func isControlOrSpace(r rune) bool { return r <= ' ' || r == 0x7f }

// validateSSHKey checks that the key parses (with its passphrase when it has one). The parser's
// error is not quoted: it may hold part of the key.
func validateSSHKey(errs *fieldErrors, key, passphrase string) {
	switch {
	case key == "":
		errs.add("privateKey", "is required")
		return
	case len(key) > maxCredentialKey:
		errs.add("privateKey", fmt.Sprintf("is longer than %d bytes", maxCredentialKey))
		return
	case len(passphrase) > maxCredentialSecret:
		errs.add("passphrase", fmt.Sprintf("is longer than %d bytes", maxCredentialSecret))
		return
	}
	var err error
	if passphrase == "" {
		_, err = ssh.ParsePrivateKey([]byte(key))
	} else {
		_, err = ssh.ParsePrivateKeyWithPassphrase([]byte(key), []byte(passphrase))
	}
	var missing *ssh.PassphraseMissingError
	switch {
	case err == nil:
	case errors.As(err, &missing):
		errs.add("passphrase", "the key is encrypted: give its passphrase")
	case errors.Is(err, x509.IncorrectPasswordError):
		errs.add("passphrase", "does not open the key")
	default:
		errs.add("privateKey", "is not a PEM or OpenSSH private key that parses")
	}
}

// validateKnownHosts checks known_hosts lines, when given.
func validateKnownHosts(errs *fieldErrors, lines string) {
	if lines == "" {
		return
	}
	if len(lines) > maxCredentialHosts {
		errs.add("knownHosts", fmt.Sprintf("is longer than %d bytes", maxCredentialHosts))
		return
	}
	rest := []byte(lines)
	for n := 0; len(strings.TrimSpace(string(rest))) > 0; n++ {
		_, _, _, _, next, err := ssh.ParseKnownHosts(rest)
		if err != nil {
			errs.add("knownHosts", "is not known_hosts lines (host key-type base64-key)")
			return
		}
		rest = next
	}
}

// validateCredentialHost: a host name or address, with an optional port, lowercase.
func validateCredentialHost(errs *fieldErrors, host string) {
	if host == "" {
		return
	}
	h, port := host, ""
	if strings.Contains(host, ":") && !strings.HasSuffix(host, "]") {
		var err error
		if h, port, err = net.SplitHostPort(host); err != nil {
			errs.add("host", "must be a host name or address with an optional :port")
			return
		}
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if len(host) > maxCredentialHostLen || (net.ParseIP(h) == nil && len(validation.IsDNS1123Subdomain(h)) > 0) {
		errs.add("host", "must be a lowercase host name or an address, with an optional :port")
		return
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			errs.add("host", "the port must be from 1 to 65535")
		}
	}
}
