package gitsource

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
)

// Auth is a repository's credential: an HTTPS token, or an SSH private key. The zero value fetches
// anonymously.
type Auth struct {
	// Token is sent as the password of HTTP basic auth (GitHub, GitLab and Gitea take tokens so), with
	// Username (default "x-access-token").
	Token    string
	Username string
	// SSHKey is a PEM private key for ssh:// and scp-style URLs, opened with SSHPassphrase if set.
	SSHKey        []byte
	SSHPassphrase string
}

// HostKeys says how SSH host keys are checked.
type HostKeys struct {
	// KnownHostsFiles are known_hosts files; empty: $SSH_KNOWN_HOSTS or ~/.ssh/known_hosts.
	KnownHostsFiles []string
	// Insecure skips host key checking (tests, or a network the operator trusts).
	Insecure bool
}

// secrets are the strings that must never appear in an error.
func (a Auth) secrets() []string {
	var s []string
	if a.Token != "" {
		s = append(s, a.Token)
	}
	if a.SSHPassphrase != "" {
		s = append(s, a.SSHPassphrase)
	}
	return s
}

// method is the transport auth for rawURL: the token for https, the key for ssh; nil when none fits.
func (a Auth) method(rawURL string, hk HostKeys) (transport.AuthMethod, error) {
	ssh := isSSH(rawURL)
	switch {
	case a.Token != "" && strings.HasPrefix(rawURL, "https://"):
		user := a.Username
		if user == "" {
			user = "x-access-token"
		}
		return &githttp.BasicAuth{Username: user, Password: a.Token}, nil
	case len(a.SSHKey) > 0 && ssh:
		user := sshUser(rawURL)
		keys, err := gitssh.NewPublicKeys(user, a.SSHKey, a.SSHPassphrase)
		if err != nil {
			return nil, fmt.Errorf("%w: read the ssh key: %s", ErrAuth, redact(err.Error(), a.secrets()))
		}
		cb, err := hk.callback()
		if err != nil {
			return nil, err
		}
		keys.HostKeyCallback = cb
		return keys, nil
	case ssh:
		return nil, fmt.Errorf("%w: an ssh URL needs an ssh key", ErrAuth)
	}
	return nil, nil
}

func (hk HostKeys) callback() (ssh.HostKeyCallback, error) {
	if hk.Insecure {
		return ssh.InsecureIgnoreHostKey(), nil //nolint:gosec // the operator chose it
	}
	cb, err := gitssh.NewKnownHostsCallback(hk.KnownHostsFiles...)
	if err != nil {
		return nil, fmt.Errorf("read known hosts: %w", err)
	}
	return cb, nil
}

func isSSH(rawURL string) bool {
	return strings.HasPrefix(rawURL, "ssh://") || scpURL.MatchString(rawURL) && !strings.Contains(rawURL, "://")
}

// sshUser is the URL's user name, default "git".
func sshUser(rawURL string) string {
	if strings.HasPrefix(rawURL, "ssh://") {
		if u, err := url.Parse(rawURL); err == nil && u.User != nil && u.User.Username() != "" {
			return u.User.Username()
		}
		return "git"
	}
	if at := strings.Index(rawURL, "@"); at > 0 {
		return rawURL[:at]
	}
	return "git"
}

// hostOf is the host a URL reaches ("" for a local one).
func hostOf(rawURL string) string {
	if isSSH(rawURL) && !strings.Contains(rawURL, "://") {
		h := rawURL[strings.Index(rawURL, "@")+1:]
		return h[:strings.Index(h, ":")]
	}
	if u, err := url.Parse(rawURL); err == nil {
		return u.Host
	}
	return ""
}

// redact replaces every secret in msg.
func redact(msg string, secrets []string) string {
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	return msg
}

// scrubError is err with the secrets taken out of its message; it keeps err's chain only when no
// secret was in it.
func scrubError(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := redact(msg, secrets); clean != msg {
		return errors.New(clean)
	}
	return err
}
