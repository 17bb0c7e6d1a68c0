package activities

import (
	"context"
	"errors"
	"fmt"

	"github.com/rainflow/rainflow/store"
)

// ComponentForgetter deletes a component's record and its releases; *store.Store is one. Store finds
// it on its Releases field (the worker passes the *store.Store there), so no wiring changes.
type ComponentForgetter interface {
	DeleteComponent(ctx context.Context, id string) error
}

// ForgetComponentInput names the component whose record goes.
type ForgetComponentInput struct {
	ComponentID string `json:"componentId"`
}

// ForgetComponentResult says whether this call removed the record.
type ForgetComponentResult struct {
	// Forgotten is false when the record was gone already (a retry, or a second delete).
	Forgotten bool `json:"forgotten"`
}

// ForgetComponent deletes the component's record and its releases, the last step of a delete: the
// records of its operations stay, without it. A record already gone is success, so retries are safe.
func (s *Store) ForgetComponent(ctx context.Context, in ForgetComponentInput) (ForgetComponentResult, error) {
	if in.ComponentID == "" {
		return ForgetComponentResult{}, permanent(ErrTypeInvalidSpec, errors.New("forget component: the component id is required"))
	}
	f, ok := s.Releases.(ComponentForgetter)
	if !ok {
		return ForgetComponentResult{}, permanent(ErrTypeInvalidSpec,
			fmt.Errorf("forget component %s: the worker's store (%T) cannot delete components", in.ComponentID, s.Releases))
	}
	err := f.DeleteComponent(ctx, in.ComponentID)
	switch {
	case err == nil:
		return ForgetComponentResult{Forgotten: true}, nil
	case errors.Is(err, store.ErrNotFound):
		return ForgetComponentResult{}, nil
	case errors.Is(err, store.ErrInvalid):
		return ForgetComponentResult{}, permanent(ErrTypeInvalidSpec, fmt.Errorf("forget component %s: %w", in.ComponentID, err))
	}
	return ForgetComponentResult{}, fmt.Errorf("forget component %s: %w", in.ComponentID, err)
}
