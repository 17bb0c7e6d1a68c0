package gitsource

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
)

// maxURLLength and maxRefLength bound what a build request may name.
const (
	maxURLLength = 2048
	maxRefLength = 255
)

// scpURL is an scp-style SSH address: user@host:path (the path not starting with '/' twice or '-').
var scpURL = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~][A-Za-z0-9._~/+-]*$`)

// ValidateURL checks that raw names a repository this package fetches: https://, ssh://, or scp-style
// user@host:path; file:// URLs and absolute local paths only when allowLocal. A URL carrying a password
// is refused: credentials go in Auth, never in the URL.
func ValidateURL(raw string, allowLocal bool) error {
	switch {
	case raw == "":
		return fmt.Errorf("%w: empty", ErrInvalidURL)
	case len(raw) > maxURLLength:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidURL, maxURLLength)
	case strings.HasPrefix(raw, "-"):
		return fmt.Errorf("%w: starts with '-'", ErrInvalidURL)
	case strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fmt.Errorf("%w: contains spaces or control characters", ErrInvalidURL)
	}
	if scpURL.MatchString(raw) && !strings.Contains(raw, "://") {
		return nil
	}
	if filepath.IsAbs(raw) {
		if !allowLocal {
			return fmt.Errorf("%w: local paths are not allowed", ErrInvalidURL)
		}
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrInvalidURL, scrubParseError(err))
	}
	switch u.Scheme {
	case "https", "ssh":
		if u.Host == "" || u.Hostname() == "" {
			return fmt.Errorf("%w: no host", ErrInvalidURL)
		}
		if _, ok := u.User.Password(); ok {
			return fmt.Errorf("%w: credentials in the URL (give them as the source's credential)", ErrInvalidURL)
		}
		if u.Scheme == "https" && u.User != nil {
			return fmt.Errorf("%w: a user name in an https URL (give it with the credential)", ErrInvalidURL)
		}
		if strings.Trim(u.Path, "/") == "" {
			return fmt.Errorf("%w: no repository path", ErrInvalidURL)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("%w: a query or fragment", ErrInvalidURL)
		}
		return nil
	case "file":
		if !allowLocal {
			return fmt.Errorf("%w: file URLs are not allowed", ErrInvalidURL)
		}
		if u.Host != "" || u.Path == "" {
			return fmt.Errorf("%w: a file URL is file:///absolute/path", ErrInvalidURL)
		}
		return nil
	case "http":
		return fmt.Errorf("%w: plain http is not allowed, use https", ErrInvalidURL)
	default:
		return fmt.Errorf("%w: scheme %q is not https or ssh", ErrInvalidURL, u.Scheme)
	}
}

// scrubParseError is a URL parse error without the URL (which may hold a password).
func scrubParseError(err error) string {
	var ue *url.Error
	if e, ok := err.(*url.Error); ok {
		ue = e
		return ue.Err.Error()
	}
	return "malformed"
}

// Scrub is raw with any password in it replaced, for errors and logs.
func Scrub(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if err != nil && strings.Contains(raw, "://") {
			return "(malformed URL)"
		}
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// ValidateRef checks a branch, tag, full ref name ("refs/...") or commit against git
// check-ref-format's rules; "" (the default branch) is valid.
func ValidateRef(ref string) error {
	if ref == "" {
		return nil
	}
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrInvalidRef, truncate(ref, 64), why) }
	switch {
	case len(ref) > maxRefLength:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidRef, maxRefLength)
	case ref == "@":
		return bad("is '@'")
	case strings.HasPrefix(ref, "-"):
		return bad("starts with '-'")
	case strings.HasPrefix(ref, "/") || strings.HasSuffix(ref, "/"):
		return bad("starts or ends with '/'")
	case strings.HasSuffix(ref, "."):
		return bad("ends with '.'")
	case strings.Contains(ref, ".."), strings.Contains(ref, "//"), strings.Contains(ref, "@{"):
		return bad("contains '..', '//' or '@{'")
	case strings.ContainsFunc(ref, func(r rune) bool { return r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) }):
		return bad("contains a space, a control character or one of ~^:?*[\\")
	}
	for _, part := range strings.Split(ref, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return bad("a component starts with '.' or ends with '.lock'")
		}
	}
	return nil
}

// isHex reports whether s is a commit hash or its prefix (at least 7 hex digits).
func isHex(s string) bool {
	if len(s) < 7 || len(s) > 40 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
