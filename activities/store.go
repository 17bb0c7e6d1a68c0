package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// ReleaseRecorder records and lists releases; *store.Store is one.
type ReleaseRecorder interface {
	RecordRelease(ctx context.Context, r store.Release) (store.Release, error)
	ListReleases(ctx context.Context, componentID string, page store.Page) ([]store.Release, string, error)
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
	// SecretEnvVersion is the secret env version the release ran (0: none).
	SecretEnvVersion int64 `json:"secretEnvVersion,omitempty"`
	// Routes are the routes the release ran with.
	Routes []contract.Route `json:"routes,omitempty"`
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
		ImageDigest: in.Image, Spec: in.Spec, SecretEnvVersion: in.SecretEnvVersion, Routes: in.Routes,
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

// LatestReleaseInput names a component.
type LatestReleaseInput struct {
	ComponentID string `json:"componentId"`
}

// LatestReleaseResult is the component's newest release, if it has one.
type LatestReleaseResult struct {
	Found     bool                   `json:"found"`
	ReleaseID string                 `json:"releaseId,omitempty"`
	Image     string                 `json:"image,omitempty"` // repository@sha256:...
	Spec      contract.ComponentSpec `json:"spec"`
	// SecretEnvVersion is the secret env version it ran (0: none), which a failed upgrade restores.
	SecretEnvVersion int64 `json:"secretEnvVersion,omitempty"`
	// Routes are the routes it ran with, which a failed upgrade restores.
	Routes []contract.Route `json:"routes,omitempty"`
}

// componentReader reads a component's record; *store.Store is one. LatestRelease uses it, when the
// store has it, to refuse a deploy of a component deleted meanwhile.
type componentReader interface {
	GetComponentByID(ctx context.Context, id string) (store.Component, error)
}

// LatestRelease reads the release that runs now: an upgrade that fails goes back to it. A component
// whose record is gone (deleted by an operation that ran before this one in its queue) fails for good
// here, before anything is applied.
func (s *Store) LatestRelease(ctx context.Context, in LatestReleaseInput) (LatestReleaseResult, error) {
	if r, ok := s.Releases.(componentReader); ok {
		_, err := r.GetComponentByID(ctx, in.ComponentID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return LatestReleaseResult{}, permanent(ErrTypeComponentDeleted,
				fmt.Errorf("component %s was deleted: there is nothing to deploy", in.ComponentID))
		case err != nil:
			return LatestReleaseResult{}, fmt.Errorf("read component %s: %w", in.ComponentID, err)
		}
	}
	rels, _, err := s.Releases.ListReleases(ctx, in.ComponentID, store.Page{Limit: 1})
	if err != nil {
		err = fmt.Errorf("read latest release of component %s: %w", in.ComponentID, err)
		if errors.Is(err, store.ErrInvalid) {
			return LatestReleaseResult{}, permanent(ErrTypeInvalidSpec, err)
		}
		return LatestReleaseResult{}, err
	}
	if len(rels) == 0 {
		return LatestReleaseResult{}, nil
	}
	r := rels[0]
	return LatestReleaseResult{Found: true, ReleaseID: r.ID, Image: r.ImageDigest, Spec: r.Spec, SecretEnvVersion: r.SecretEnvVersion, Routes: r.Routes}, nil
}
