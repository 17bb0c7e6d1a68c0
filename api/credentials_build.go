package api

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// buildCredential checks the credential a JSON build's source names, if any: that the tenant has it,
// that its type reads this kind of source, and that its host (when it has one) is the source's. It
// answers the reference the build input carries: the name only, never the secret.
func (s *Server) buildCredential(ctx context.Context, t store.Tenant, src buildSourceRequest) (*contract.CredentialRef, error) {
	field, credName, want, host := "source.credential", src.Credential, store.CredentialRegistry, ""
	if g := src.Git; g != nil {
		if src.Credential != "" {
			return nil, validationProblem("build request", []FieldError{{Field: "source.credential",
				Reason: "a git source names its credential as source.git.credential"}})
		}
		field, credName = "source.git.credential", g.Credential
		want, host = gitCredentialFor(g.URL)
	} else if ref, err := name.ParseReference(src.Image); err == nil {
		host = ref.Context().RegistryStr()
	}
	if credName == "" {
		return nil, nil
	}
	if want == "" {
		return nil, validationProblem("build request", []FieldError{{Field: field, Reason: "a local repository takes no credential"}})
	}
	c, err := s.store.GetCredential(ctx, t.ID, credName)
	if errors.Is(err, store.ErrNotFound) {
		return nil, validationProblem("build request", []FieldError{{Field: field,
			Reason: fmt.Sprintf("tenant %q has no credential %q", t.Name, cutString(credName, 64))}})
	}
	if err != nil {
		return nil, err
	}
	switch {
	case c.Type != want:
		return nil, validationProblem("build request", []FieldError{{Field: field,
			Reason: fmt.Sprintf("credential %q is a %s credential; this source needs a %s one", c.Name, c.Type, want)}})
	case c.Host != "" && !hostMatches(c.Host, host):
		return nil, validationProblem("build request", []FieldError{{Field: field,
			Reason: fmt.Sprintf("credential %q is for host %s, not %s", c.Name, c.Host, host)}})
	}
	return &contract.CredentialRef{TenantID: t.ID, Name: c.Name}, nil
}

// gitCredentialFor answers the credential type a git URL takes and the host it reaches; no type for
// a local repository.
func gitCredentialFor(raw string) (credType, host string) {
	if strings.HasPrefix(raw, "/") {
		return "", ""
	}
	if !strings.Contains(raw, "://") { // scp-style user@host:path
		_, rest, _ := strings.Cut(raw, "@")
		host, _, _ = strings.Cut(rest, ":")
		return store.CredentialGitSSH, host
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", ""
	}
	switch u.Scheme {
	case "https":
		return store.CredentialGitToken, u.Host
	case "ssh":
		return store.CredentialGitSSH, u.Host
	}
	return "", ""
}

// hostMatches: a credential's host names the source's host, with or without its port.
func hostMatches(credHost, host string) bool {
	if strings.EqualFold(credHost, "docker.io") {
		credHost = name.DefaultRegistry // what go-containerregistry calls Docker Hub
	}
	if strings.EqualFold(credHost, host) {
		return true
	}
	h, _, found := strings.Cut(host, ":")
	return found && !strings.Contains(credHost, ":") && strings.EqualFold(credHost, h)
}
