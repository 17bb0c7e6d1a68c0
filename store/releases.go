package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// maxReleaseIDLen is the longest release id the schema keeps.
const maxReleaseIDLen = 128

// RecordRelease stores a release and answers it with CreatedAt set. Recording the same release id again
// is a no-op that answers the stored release, since workflows retry their activities; recording an id
// already used for another component, operation or image answers ErrConflict. An unknown component
// answers ErrNotFound.
func (s *Store) RecordRelease(ctx context.Context, r Release) (Release, error) {
	if r.ID == "" || len(r.ID) > maxReleaseIDLen || r.ComponentID == "" || r.OperationID == "" || r.ImageDigest == "" {
		return Release{}, fmt.Errorf("record release %q: id (at most %d bytes), component, operation and image digest are required: %w",
			r.ID, maxReleaseIDLen, ErrInvalid)
	}
	db := s.db.WithContext(ctx)
	row := releaseRow{
		ID: r.ID, ComponentID: r.ComponentID, OperationID: r.OperationID, ImageDigest: r.ImageDigest,
		Spec: r.Spec, SecretEnvVersion: r.SecretEnvVersion, Routes: r.Routes, CreatedAt: now(),
	}
	err := db.Create(&row).Error
	switch {
	case err == nil:
		return s.withVersion(ctx, row)
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return Release{}, fmt.Errorf("record release %s: component %s: %w", r.ID, r.ComponentID, ErrNotFound)
	case !errors.Is(err, gorm.ErrDuplicatedKey):
		return Release{}, fmt.Errorf("record release %s: %w", r.ID, translate(err))
	}

	var stored releaseRow
	if err := db.Where("id = ?", r.ID).Take(&stored).Error; err != nil {
		return Release{}, fmt.Errorf("record release %s: read recorded release: %w", r.ID, translate(err))
	}
	if stored.ComponentID != r.ComponentID || stored.OperationID != r.OperationID || stored.ImageDigest != r.ImageDigest {
		return Release{}, fmt.Errorf("record release %s: recorded before for component %s, operation %s, image %s: %w",
			r.ID, stored.ComponentID, stored.OperationID, stored.ImageDigest, ErrConflict)
	}
	return s.withVersion(ctx, stored)
}

// withVersion records the release's image as one of its component's versions (once per digest) and
// answers the release. A retry of a release recorded before its version was records the version then.
func (s *Store) withVersion(ctx context.Context, row releaseRow) (Release, error) {
	if _, err := s.RecordVersion(ctx, Version{ComponentID: row.ComponentID, ImageDigest: row.ImageDigest,
		SourceKind: SourceImage, Source: row.Spec.Image, OperationID: row.OperationID}); err != nil {
		return Release{}, fmt.Errorf("record release %s: %w", row.ID, err)
	}
	return row.model(), nil
}

// GetRelease answers the release with this id.
func (s *Store) GetRelease(ctx context.Context, id string) (Release, error) {
	var row releaseRow
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return Release{}, fmt.Errorf("get release %s: %w", id, translate(err))
	}
	return row.model(), nil
}

// ListReleases answers one page of the component's releases, newest first, and the next page's cursor.
func (s *Store) ListReleases(ctx context.Context, componentID string, page Page) ([]Release, string, error) {
	q := s.db.WithContext(ctx).Model(&releaseRow{}).Where("component_id = ?", componentID)
	rows, next, err := listNewestFirst(q, page, func(r releaseRow) (time.Time, string) { return r.CreatedAt, r.ID })
	if err != nil {
		return nil, "", fmt.Errorf("list releases: %w", translate(err))
	}
	return models(rows, releaseRow.model), next, nil
}
