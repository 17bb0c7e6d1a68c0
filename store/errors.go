package store

import (
	"errors"

	"gorm.io/gorm"
)

// Errors the store returns, wrapped with what was asked; check them with errors.Is.
var (
	// ErrNotFound: the row asked for, or a row it refers to, does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a row with the same unique name or key exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the row changed since the caller read it (optimistic concurrency), or a recorded
	// row with the same id says something else.
	ErrConflict = errors.New("conflict")
	// ErrNotEmpty: the row still has children (a tenant with apps, an app with components).
	ErrNotEmpty = errors.New("not empty")
	// ErrInvalid: the caller passed something the store cannot keep (an empty name, a bad cursor).
	ErrInvalid = errors.New("invalid")
	// ErrNoKeyring: a secret was to be sealed or opened, and the store has no encryption key.
	ErrNoKeyring = errors.New("no encryption key configured (set --encryption-keys / $RAINFLOW_ENCRYPTION_KEYS)")
)

// translate maps the errors gorm reports (already translated from SQLite and MySQL codes by the
// dialects) to the store's own; others pass through.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return ErrAlreadyExists
	default:
		return err
	}
}
