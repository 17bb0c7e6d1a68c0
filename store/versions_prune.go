package store

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// maxPrunable bounds how many versions one PrunableVersions answers; a later build prunes the rest.
const maxPrunable = 100

// unreleased keeps the versions no release of their component ran (a release records its image by
// digest, the same string a version holds).
const unreleased = `NOT EXISTS (SELECT 1 FROM releases r
	WHERE r.component_id = versions.component_id AND r.image_digest = versions.image_digest)`

// PrunableVersions answers, oldest first and at most 100, the component's versions that retention may
// delete when it keeps the newest keep: older than the newest keep versions (of any source), made by a
// build (an image deployed as it is stays: it is not the platform's), referenced by no release of the
// component, and not the component's current image. keep < 1 answers ErrInvalid; an unknown component
// answers ErrNotFound.
func (s *Store) PrunableVersions(ctx context.Context, componentID string, keep int) ([]Version, error) {
	if keep < 1 {
		return nil, fmt.Errorf("list prunable versions: keep %d: at least 1: %w", keep, ErrInvalid)
	}
	c, err := s.GetComponentByID(ctx, componentID)
	if err != nil {
		return nil, fmt.Errorf("list prunable versions: %w", err)
	}
	db := s.db.WithContext(ctx)
	// the oldest version kept: everything older is beyond the newest keep
	var last versionRow
	err = db.Select("created_at", "id").Where("component_id = ?", componentID).
		Order("created_at DESC, id DESC").Offset(keep - 1).Limit(1).Take(&last).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil // keep or fewer versions
	}
	if err != nil {
		return nil, fmt.Errorf("list prunable versions of component %s: %w", componentID, translate(err))
	}
	at := last.CreatedAt.UTC()
	var rows []versionRow
	err = db.Where("component_id = ? AND (created_at < ? OR (created_at = ? AND id < ?))", componentID, at, at, last.ID).
		Where("build_operation_id IS NOT NULL AND image_digest <> ?", c.Spec.Image).
		Where(unreleased).Order("created_at ASC, id ASC").Limit(maxPrunable).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list prunable versions of component %s: %w", componentID, translate(err))
	}
	return models(rows, versionRow.model), nil
}

// DeleteVersion deletes a version of the component unless a release references its image or it is
// the component's current image (either answers ErrConflict, and the version stays). A version that
// is not there answers nil: retention retries its deletes.
func (s *Store) DeleteVersion(ctx context.Context, componentID, versionID string) error {
	c, err := s.GetComponentByID(ctx, componentID)
	if errors.Is(err, ErrNotFound) {
		return nil // the component's versions went with it
	}
	if err != nil {
		return fmt.Errorf("delete version %s: %w", versionID, err)
	}
	db := s.db.WithContext(ctx)
	res := db.Where("id = ? AND component_id = ? AND image_digest <> ?", versionID, componentID, c.Spec.Image).
		Where(unreleased).Delete(&versionRow{})
	if res.Error != nil {
		return fmt.Errorf("delete version %s: %w", versionID, translate(res.Error))
	}
	if res.RowsAffected == 1 {
		return nil
	}
	var n int64
	if err := db.Model(&versionRow{}).Where("id = ? AND component_id = ?", versionID, componentID).Count(&n).Error; err != nil {
		return fmt.Errorf("delete version %s: %w", versionID, translate(err))
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("delete version %s: a release or the component runs its image: %w", versionID, ErrConflict)
}

// VersionInUse says whether a release of the component references the image or the component runs it
// now: retention checks it right before it deletes the image from the registry.
func (s *Store) VersionInUse(ctx context.Context, componentID, imageDigest string) (bool, error) {
	c, err := s.GetComponentByID(ctx, componentID)
	if err != nil {
		return false, fmt.Errorf("check version in use: %w", err)
	}
	if c.Spec.Image == imageDigest {
		return true, nil
	}
	var n int64
	err = s.db.WithContext(ctx).Model(&releaseRow{}).
		Where("component_id = ? AND image_digest = ?", componentID, imageDigest).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("check version %s in use: %w", imageDigest, translate(err))
	}
	return n > 0, nil
}
