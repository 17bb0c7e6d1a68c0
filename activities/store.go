package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// ReleaseRecorder records releases; *store.Store is one.
type ReleaseRecorder interface {
	RecordRelease(ctx context.Context, r store.Release) (store.Release, error)
}

// Store holds the activities that write the metadata database.
type Store struct {
	Releases ReleaseRecorder
}

// RecordReleaseInput is a release that ran.
type RecordReleaseInput struct {
	ReleaseID   string                 `json:"releaseId"`
	ComponentID string                 `json:"componentId"`
	OperationID string                 `json:"operationId"`
	Image       string                 `json:"image"` // repository@sha256:...
	Spec        contract.ComponentSpec `json:"spec"`
}

// RecordReleaseResult is the recorded release.
type RecordReleaseResult struct {
	ReleaseID string    `json:"releaseId"`
	CreatedAt time.Time `json:"createdAt"`
}

// RecordRelease stores the release; recording the same release id again is a no-op, so retries are safe.
func (s *Store) RecordRelease(ctx context.Context, in RecordReleaseInput) (RecordReleaseResult, error) {
	r, err := s.Releases.RecordRelease(ctx, store.Release{
		ID: in.ReleaseID, ComponentID: in.ComponentID, OperationID: in.OperationID,
		ImageDigest: in.Image, Spec: in.Spec,
	})
	if err != nil {
		err = fmt.Errorf("record release %s: %w", in.ReleaseID, err)
		if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrNotFound) {
			return RecordReleaseResult{}, permanent(ErrTypeInvalidSpec, err)
		}
		return RecordReleaseResult{}, err
	}
	return RecordReleaseResult{ReleaseID: r.ID, CreatedAt: r.CreatedAt}, nil
}
