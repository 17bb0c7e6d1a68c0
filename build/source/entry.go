package source

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// EntryError names the archive entry that was refused and why.
type EntryError struct {
	Name   string
	Reason string
	Err    error // ErrLimit when a limit was exceeded, else nil
}

func (e *EntryError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("entry %q: %s: %v", e.Name, e.Reason, e.Err)
	}
	return fmt.Sprintf("entry %q: %s", e.Name, e.Reason)
}

func (e *EntryError) Unwrap() error { return e.Err }

// ErrLimit is wrapped by every error that reports an exceeded limit.
var ErrLimit = errors.New("archive exceeds a limit")

type entryKind int

const (
	kindDir entryKind = iota + 1
	kindFile
	kindSymlink
)

// cleanName checks an entry name and returns it in clean, slash-separated, relative form. An empty
// result means the entry is the root itself ("./").
func cleanName(name string, maxLen int) (string, error) {
	switch {
	case len(name) > maxLen:
		return "", &EntryError{Name: name, Reason: fmt.Sprintf("name is longer than %d bytes", maxLen), Err: ErrLimit}
	case strings.ContainsRune(name, 0):
		return "", &EntryError{Name: name, Reason: "name contains a NUL byte"}
	case strings.Contains(name, `\`):
		return "", &EntryError{Name: name, Reason: "name contains a backslash"}
	case strings.HasPrefix(name, "/"):
		return "", &EntryError{Name: name, Reason: "absolute path"}
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", &EntryError{Name: name, Reason: "path escapes the root (..)"}
		}
	}
	clean := path.Clean(name)
	if clean == "." {
		return "", nil
	}
	if !fs.ValidPath(clean) {
		return "", &EntryError{Name: name, Reason: "invalid path"}
	}
	return clean, nil
}

// checkLinkTarget refuses a symlink target that could resolve outside the root. The target must be
// relative and may only climb ("..") at its start, no higher than the link's own directory depth;
// later ".." components are refused because, after a symlinked component, they would climb from
// wherever that symlink points rather than from where the name says. Since extraction never writes
// through a symlink, a link's directory is a real directory, and by induction every link resolves
// inside the root.
func checkLinkTarget(name, target string) error {
	switch {
	case target == "":
		return &EntryError{Name: name, Reason: "symlink has an empty target"}
	case strings.HasPrefix(target, "/"):
		return &EntryError{Name: name, Reason: fmt.Sprintf("symlink target %q is absolute", target)}
	case strings.ContainsRune(target, 0), strings.Contains(target, `\`):
		return &EntryError{Name: name, Reason: fmt.Sprintf("symlink target %q has a NUL byte or backslash", target)}
	}
	depth := strings.Count(name, "/") // directories above the link, inside the root
	climbing := true
	for _, part := range strings.Split(target, "/") {
		if part == ".." {
			if !climbing {
				return &EntryError{Name: name, Reason: fmt.Sprintf("symlink target %q has .. after a name", target)}
			}
			depth--
			if depth < 0 {
				return &EntryError{Name: name, Reason: fmt.Sprintf("symlink target %q points outside the root", target)}
			}
			continue
		}
		if part != "" && part != "." {
			climbing = false
		}
	}
	return nil
}

// fileMode keeps only what a source file needs: executable or not. No setuid, setgid, sticky or
// world-writable bits survive.
func fileMode(m fs.FileMode) fs.FileMode {
	if m&0o111 != 0 {
		return 0o755
	}
	return 0o644
}
