package api

import (
	"errors"
	"strings"

	"github.com/rainflow/rainflow/build/gitsource"
)

// validateGitSource checks a git source's URL and ref as the worker will. Local repositories
// (file:// and paths) pass here: whether a worker reads them is its own setting (--allow-local-git,
// off but in tests), and the build fails there when it does not.
func validateGitSource(g gitSourceRequest) []FieldError {
	var errs []FieldError
	if g.URL == "" {
		errs = append(errs, FieldError{Field: "source.git.url", Reason: "required: an https or ssh URL of the repository"})
	} else if err := gitsource.ValidateURL(g.URL, true); err != nil {
		errs = append(errs, FieldError{Field: "source.git.url", Reason: withoutSentinel(err, gitsource.ErrInvalidURL)})
	}
	if err := gitsource.ValidateRef(g.Ref); err != nil {
		errs = append(errs, FieldError{Field: "source.git.ref", Reason: withoutSentinel(err, gitsource.ErrInvalidRef)})
	}
	return errs
}

// withoutSentinel is err's message without the sentinel's words in front.
func withoutSentinel(err, sentinel error) string {
	msg := err.Error()
	if errors.Is(err, sentinel) {
		msg = strings.TrimPrefix(strings.TrimPrefix(msg, sentinel.Error()), ":")
	}
	return strings.TrimSpace(msg)
}
