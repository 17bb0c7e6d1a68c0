package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/rainflow/rainflow/imageref"
)

// ImageChecker says whether an image exists in its registry, before an operation is started on it.
type ImageChecker interface {
	// CheckImage answers the digest the reference resolves to (sha256:...). An image the registry
	// does not have answers ErrImageNotFound; one it refuses to show answers ErrImageDenied; a
	// registry that cannot be reached answers ErrRegistryUnreachable, one that fails answers
	// ErrRegistryFailed.
	CheckImage(ctx context.Context, image string) (digest string, err error)
}

// Image check errors, wrapped with what the registry said.
var (
	ErrImageNotFound       = errors.New("image not found in registry")
	ErrImageDenied         = errors.New("registry denied access to image")
	ErrRegistryUnreachable = errors.New("registry unreachable")
	ErrRegistryFailed      = errors.New("registry failed")
)

// RegistryConfig configures the RegistryImageChecker.
type RegistryConfig struct {
	// Insecure lists registry hosts (host or host:port) reached over plain HTTP; loopback hosts
	// (localhost, 127.0.0.0/8, ::1) always are.
	Insecure []string
	// Timeout bounds one check, retries included. Default 10s.
	Timeout time.Duration
	// Transport carries the requests. Default remote.DefaultTransport.
	Transport http.RoundTripper
	// Retries is how many times a check is retried on a temporary failure (5xx, 429, a reset
	// connection). Default 1; -1 for none.
	Retries int
	// RetryWait is the first wait before a retry, tripled for each next one. Default 200ms.
	RetryWait time.Duration
}

// RegistryImageChecker checks images with a HEAD request for their manifest, anonymously.
type RegistryImageChecker struct {
	cfg RegistryConfig
}

// NewRegistryImageChecker answers an ImageChecker that asks the image's registry.
func NewRegistryImageChecker(cfg RegistryConfig) *RegistryImageChecker {
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Transport == nil {
		cfg.Transport = remote.DefaultTransport
	}
	if cfg.Retries == 0 {
		cfg.Retries = 1
	}
	if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.RetryWait == 0 {
		cfg.RetryWait = 200 * time.Millisecond
	}
	return &RegistryImageChecker{cfg: cfg}
}

var _ ImageChecker = (*RegistryImageChecker)(nil)

// CheckImage asks the registry for the image's manifest.
func (c *RegistryImageChecker) CheckImage(ctx context.Context, image string) (string, error) {
	ref, err := imageref.Parse(image, c.cfg.Insecure)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	desc, err := remote.Head(ref,
		remote.WithContext(ctx),
		remote.WithTransport(c.cfg.Transport),
		remote.WithRetryBackoff(remote.Backoff{Duration: c.cfg.RetryWait, Factor: 3, Steps: c.cfg.Retries + 1}),
	)
	if err != nil {
		return "", fmt.Errorf("check image %s: %w", ref.Name(), classifyRegistryError(err))
	}
	return desc.Digest.String(), nil
}

// classifyRegistryError sorts a registry failure into the ImageChecker's errors, keeping its message.
func classifyRegistryError(err error) error {
	switch {
	case imageref.IsNotFound(err):
		return fmt.Errorf("%w: %v", ErrImageNotFound, err)
	case imageref.IsDenied(err):
		return fmt.Errorf("%w: %v", ErrImageDenied, err)
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		return fmt.Errorf("%w: %v", ErrRegistryFailed, err)
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", ErrRegistryUnreachable, err)
	}
	return fmt.Errorf("%w: %v", ErrRegistryFailed, err)
}
