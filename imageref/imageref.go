// Package imageref parses image references the way every part of Rainflow must agree on: which
// registries are spoken to over plain HTTP, and which registry answers mean "no such image".
package imageref

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Parse parses an image reference ("registry/repo:tag" or "registry/repo@sha256:..."). References to
// a plain-HTTP registry (see PlainHTTP) are marked so.
func Parse(image string, insecure []string) (name.Reference, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return nil, fmt.Errorf("parse image %q: %w", image, err)
	}
	if PlainHTTP(ref.Context().RegistryStr(), insecure) {
		return name.ParseReference(image, name.Insecure)
	}
	return ref, nil
}

// PlainHTTP tells whether registry (host or host:port) is reached over plain HTTP: loopback hosts
// always are, and so are the hosts (with or without port) listed in insecure.
func PlainHTTP(registry string, insecure []string) bool {
	if slices.Contains(insecure, registry) {
		return true
	}
	host := registry
	if h, _, err := net.SplitHostPort(registry); err == nil {
		host = h
	}
	if slices.Contains(insecure, host) || host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// IsNotFound tells whether a registry error says there is no such repository or manifest.
func IsNotFound(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	for _, d := range terr.Errors {
		if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
			return true
		}
	}
	return terr.StatusCode == http.StatusNotFound
}

// IsDenied tells whether a registry error says the caller may not read the image.
func IsDenied(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	for _, d := range terr.Errors {
		if d.Code == transport.UnauthorizedErrorCode || d.Code == transport.DeniedErrorCode {
			return true
		}
	}
	return terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden
}
