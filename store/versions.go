package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Where a version came from.
const (
	SourceImage   = "image"   // an image the component was deployed from
	SourceGit     = "git"     // built from a git repository at a revision
	SourceArchive = "archive" // built from an uploaded archive
)

// Version is an image a component ran or that was built for it, by digest: recorded once per
// component and digest, with where it came from.
type Version struct {
	ID          string
	ComponentID string
	ImageDigest string // repository@sha256:...
	SourceKind  string // SourceImage, SourceGit or SourceArchive
	Source      string // the image reference as given, the git URL, or the archive's name
	Revision    string // the source revision (git commit) it was built from
	// BuildOperationID is the build that made it; empty for an image deployed as it is.
	BuildOperationID string
	// OperationID is the operation that recorded it (its build, or its first deploy).
	OperationID string
	// BuildKey identifies what was built (source revision and build settings): a build whose key a
	// version of the component has returns that version instead of building. Empty for an image
	// deployed as it is.
	BuildKey string
	Builder  string // the builder that made it (contract.Builder*)
	Language string // the language detection found
	// SizeBytes is the image's compressed size; BuildDuration how long its build took.
	SizeBytes     int64
	BuildDuration time.Duration
	CreatedAt     time.Time
}

type versionRow struct {
	ID               string    `gorm:"column:id;primaryKey"`
	ComponentID      string    `gorm:"column:component_id"`
	ImageDigest      string    `gorm:"column:image_digest"`
	SourceKind       string    `gorm:"column:source_kind"`
	Source           string    `gorm:"column:source"`
	Revision         string    `gorm:"column:revision"`
	BuildOperationID *string   `gorm:"column:build_operation_id"`
	OperationID      *string   `gorm:"column:operation_id"`
	BuildKey         string    `gorm:"column:build_key"`
	Builder          string    `gorm:"column:builder"`
	Language         string    `gorm:"column:language"`
	SizeBytes        int64     `gorm:"column:size_bytes"`
	BuildMS          int64     `gorm:"column:build_ms"`
	CreatedAt        time.Time `gorm:"column:created_at"`
}

func (versionRow) TableName() string { return "versions" }

func (r versionRow) model() Version {
	return Version{ID: r.ID, ComponentID: r.ComponentID, ImageDigest: r.ImageDigest, SourceKind: r.SourceKind,
		Source: r.Source, Revision: r.Revision, BuildOperationID: deref(r.BuildOperationID),
		OperationID: deref(r.OperationID), BuildKey: r.BuildKey, Builder: r.Builder, Language: r.Language,
		SizeBytes: r.SizeBytes, BuildDuration: time.Duration(r.BuildMS) * time.Millisecond, CreatedAt: r.CreatedAt.UTC()}
}

// RecordVersion stores a version of a component unless the component has one with the same digest,
// and answers the stored one (so retries and redeploys of one image record it once). An unknown
// component answers ErrNotFound.
func (s *Store) RecordVersion(ctx context.Context, v Version) (Version, error) {
	if v.ComponentID == "" || v.ImageDigest == "" || v.SourceKind == "" {
		return Version{}, fmt.Errorf("record version: component, image digest and source kind are required: %w", ErrInvalid)
	}
	db := s.db.WithContext(ctx)
	row := versionRow{ID: newID(), ComponentID: v.ComponentID, ImageDigest: v.ImageDigest, SourceKind: v.SourceKind,
		Source: cut(v.Source, 1024), Revision: cut(v.Revision, 255), BuildOperationID: nullable(v.BuildOperationID),
		OperationID: nullable(v.OperationID), BuildKey: cut(v.BuildKey, 64), Builder: cut(v.Builder, 32),
		Language: cut(v.Language, 32), SizeBytes: v.SizeBytes, BuildMS: v.BuildDuration.Milliseconds(), CreatedAt: now()}
	err := db.Create(&row).Error
	switch {
	case err == nil:
		return row.model(), nil
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return Version{}, fmt.Errorf("record version: component %s: %w", v.ComponentID, ErrNotFound)
	case !errors.Is(err, gorm.ErrDuplicatedKey):
		return Version{}, fmt.Errorf("record version %s of component %s: %w", v.ImageDigest, v.ComponentID, translate(err))
	}
	var stored versionRow
	if err := db.Where("component_id = ? AND image_digest = ?", v.ComponentID, v.ImageDigest).Take(&stored).Error; err != nil {
		return Version{}, fmt.Errorf("record version %s of component %s: read recorded one: %w", v.ImageDigest, v.ComponentID, translate(err))
	}
	return stored.model(), nil
}

// FindBuiltVersion answers the component's version an earlier build with this key made, or ErrNotFound.
func (s *Store) FindBuiltVersion(ctx context.Context, componentID, buildKey string) (Version, error) {
	if buildKey == "" {
		return Version{}, fmt.Errorf("find built version: empty build key: %w", ErrInvalid)
	}
	var row versionRow
	err := s.db.WithContext(ctx).Where("component_id = ? AND build_key = ?", componentID, buildKey).
		Order("created_at DESC").Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Version{}, fmt.Errorf("find built version of component %s: %w", componentID, ErrNotFound)
	}
	if err != nil {
		return Version{}, fmt.Errorf("find built version of component %s: %w", componentID, translate(err))
	}
	return row.model(), nil
}

// ListVersions answers one page of the component's versions, newest first.
func (s *Store) ListVersions(ctx context.Context, componentID string, page Page) ([]Version, string, error) {
	q := s.db.WithContext(ctx).Model(&versionRow{}).Where("component_id = ?", componentID)
	rows, next, err := listNewestFirst(q, page, func(r versionRow) (time.Time, string) { return r.CreatedAt, r.ID })
	if err != nil {
		return nil, "", fmt.Errorf("list versions: %w", translate(err))
	}
	return models(rows, versionRow.model), next, nil
}
