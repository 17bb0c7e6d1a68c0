package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/rainflow/rainflow/store"
)

// PruneStore finds and deletes the versions retention may drop; *store.Store is one.
type PruneStore interface {
	PrunableVersions(ctx context.Context, componentID string, keep int) ([]store.Version, error)
	VersionInUse(ctx context.Context, componentID, imageDigest string) (bool, error)
	DeleteVersion(ctx context.Context, componentID, versionID string) error
}

// PruneVersionsInput names the component, how many of its newest versions to keep, and an image to
// keep whatever its age (the one the build is about to deploy).
type PruneVersionsInput struct {
	ComponentID string `json:"componentId"`
	Keep        int    `json:"keep"`
	Except      string `json:"except,omitempty"`
}

// PrunedVersion is a version retention deleted, or kept and why.
type PrunedVersion struct {
	Image  string `json:"image"`
	Reason string `json:"reason,omitempty"`
}

// PruneVersionsResult lists the versions deleted (their images and rows) and those retention would
// have deleted but kept (the registry refused the delete, or a release came to use it meanwhile).
type PruneVersionsResult struct {
	Deleted []PrunedVersion `json:"deleted,omitempty"`
	Kept    []PrunedVersion `json:"kept,omitempty"`
}

// PruneVersions deletes the component's versions beyond its newest Keep that no release references
// and that it does not run (store.PrunableVersions): each one's image from the registry by digest,
// then its row. It is idempotent: an image the registry no longer has counts as deleted, so a retry
// finishes what an attempt began. A registry that does not allow deletes keeps the version, which
// the result reports. Keep below 1 deletes nothing.
func (b *BuildStore) PruneVersions(ctx context.Context, in PruneVersionsInput) (PruneVersionsResult, error) {
	var res PruneVersionsResult
	if in.Keep < 1 {
		return res, nil
	}
	if in.ComponentID == "" {
		return res, permanent(ErrTypeInvalidSpec, errors.New("prune versions: component id is required"))
	}
	versions, err := b.Versions.PrunableVersions(ctx, in.ComponentID, in.Keep)
	if errors.Is(err, store.ErrNotFound) {
		return res, nil // the component and its versions are gone
	}
	if err != nil {
		return res, fmt.Errorf("prune versions: %w", err)
	}
	for _, v := range versions {
		if v.ImageDigest == in.Except {
			continue
		}
		pruned, deleted, err := b.pruneVersion(ctx, v)
		if err != nil {
			return res, err
		}
		if deleted {
			res.Deleted = append(res.Deleted, pruned)
		} else {
			res.Kept = append(res.Kept, pruned)
		}
		activity.RecordHeartbeat(ctx, len(res.Deleted)+len(res.Kept))
	}
	return res, nil
}

// pruneVersion deletes one version's image and row, unless it came to be in use since it was listed.
func (b *BuildStore) pruneVersion(ctx context.Context, v store.Version) (PrunedVersion, bool, error) {
	out := PrunedVersion{Image: v.ImageDigest}
	inUse, err := b.Versions.VersionInUse(ctx, v.ComponentID, v.ImageDigest)
	if err != nil {
		return out, false, fmt.Errorf("prune version %s: %w", v.ImageDigest, err)
	}
	if inUse {
		out.Reason = "a release or the component uses it"
		return out, false, nil
	}
	if _, err := b.registry().DeleteImage(ctx, DeleteImageInput{Image: v.ImageDigest}); err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.Type() == ErrTypeDeleteUnsupported {
			slog.WarnContext(ctx, "version kept: registry refuses deletes", "component", v.ComponentID, "image", v.ImageDigest, "err", err)
			out.Reason = "the registry does not allow deletes"
			return out, false, nil
		}
		return out, false, fmt.Errorf("prune version %s: %w", v.ImageDigest, err)
	}
	err = b.Versions.DeleteVersion(ctx, v.ComponentID, v.ID)
	if errors.Is(err, store.ErrConflict) {
		// a release came to reference it between the check and the delete: the row stays, so the
		// version is listed, though its image is gone
		out.Reason = "a release came to use it while it was deleted"
		return out, false, nil
	}
	if err != nil {
		return out, false, fmt.Errorf("prune version %s: %w", v.ImageDigest, err)
	}
	return out, true, nil
}

// registry answers the registry client of deletes: loopback registries are plain HTTP.
func (b *BuildStore) registry() *Registry {
	if b.Registry != nil {
		return b.Registry
	}
	return &Registry{}
}
