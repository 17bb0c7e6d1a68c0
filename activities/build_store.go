package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// VersionStore records builds' versions and sets a component's image; *store.Store is one.
type VersionStore interface {
	FindBuiltVersion(ctx context.Context, componentID, buildKey string) (store.Version, error)
	RecordVersion(ctx context.Context, v store.Version) (store.Version, error)
	GetComponentByID(ctx context.Context, id string) (store.Component, error)
	UpdateComponentSpec(ctx context.Context, id string, expectedVersion int64, spec contract.ComponentSpec) (store.Component, error)
	PruneStore
}

// BuildStore holds the activities that write what builds make to the metadata database.
type BuildStore struct {
	Versions VersionStore
	// Registry deletes the images of pruned versions; nil reaches loopback registries over plain HTTP
	// and every other over HTTPS.
	Registry *Registry
}

// FindBuiltVersionInput names an equal build.
type FindBuiltVersionInput struct {
	ComponentID string `json:"componentId"`
	BuildKey    string `json:"buildKey"`
}

// FindBuiltVersionResult is the version an equal build made, Found false when none did.
type FindBuiltVersionResult struct {
	Found   bool                 `json:"found"`
	Version contract.BuildResult `json:"version,omitempty"`
}

// FindBuiltVersion answers the version an earlier build of the same revision with the same settings
// made, if the component has one.
func (b *BuildStore) FindBuiltVersion(ctx context.Context, in FindBuiltVersionInput) (FindBuiltVersionResult, error) {
	v, err := b.Versions.FindBuiltVersion(ctx, in.ComponentID, in.BuildKey)
	if errors.Is(err, store.ErrNotFound) {
		return FindBuiltVersionResult{}, nil
	}
	if err != nil {
		return FindBuiltVersionResult{}, err
	}
	return FindBuiltVersionResult{Found: true, Version: contract.BuildResult{
		Image: v.ImageDigest, Revision: v.Revision, Builder: v.Builder, Language: v.Language,
		Size: v.SizeBytes, Duration: v.BuildDuration, Reused: true,
	}}, nil
}

// RecordBuildInput is a finished build.
type RecordBuildInput struct {
	ComponentID string               `json:"componentId"`
	OperationID string               `json:"operationId"`
	BuildKey    string               `json:"buildKey"`
	Source      contract.BuildSource `json:"source"`
	Result      contract.BuildResult `json:"result"`
}

// RecordBuildResult is the recorded version's id.
type RecordBuildResult struct {
	VersionID string `json:"versionId"`
}

// RecordBuild records the built image as a version of the component, once per digest.
func (b *BuildStore) RecordBuild(ctx context.Context, in RecordBuildInput) (RecordBuildResult, error) {
	v, err := b.Versions.RecordVersion(ctx, store.Version{
		ComponentID: in.ComponentID, ImageDigest: in.Result.Image, SourceKind: in.Source.Kind,
		Source: sourceName(in.Source), Revision: in.Result.Revision, BuildOperationID: in.OperationID,
		OperationID: in.OperationID, BuildKey: in.BuildKey, Builder: in.Result.Builder, Language: in.Result.Language,
		SizeBytes: in.Result.Size, BuildDuration: in.Result.Duration,
	})
	if errors.Is(err, store.ErrNotFound) {
		return RecordBuildResult{}, permanent(ErrTypeComponentDeleted, fmt.Errorf("record build: %w", err))
	}
	if err != nil {
		return RecordBuildResult{}, err
	}
	return RecordBuildResult{VersionID: v.ID}, nil
}

// sourceName is what a version says it was built from.
func sourceName(s contract.BuildSource) string {
	switch s.Kind {
	case contract.SourceGit:
		if s.GitRef != "" {
			return s.GitURL + "#" + s.GitRef
		}
		return s.GitURL
	case contract.SourceImage:
		return s.Image
	default:
		return s.ArchiveName
	}
}

// SetComponentImageInput names the component and its new image.
type SetComponentImageInput struct {
	ComponentID string `json:"componentId"`
	Image       string `json:"image"`
}

// SetComponentImageResult is the component's spec version after the change.
type SetComponentImageResult struct {
	SpecVersion int64 `json:"specVersion"`
}

// SetComponentImage makes image the component's image in its stored spec (and nothing else of it),
// so that a later deploy runs what was built; a concurrent change of the spec is read again and kept.
func (b *BuildStore) SetComponentImage(ctx context.Context, in SetComponentImageInput) (SetComponentImageResult, error) {
	for attempt := 0; ; attempt++ {
		c, err := b.Versions.GetComponentByID(ctx, in.ComponentID)
		if errors.Is(err, store.ErrNotFound) {
			return SetComponentImageResult{}, permanent(ErrTypeComponentDeleted, fmt.Errorf("set component image: %w", err))
		}
		if err != nil {
			return SetComponentImageResult{}, err
		}
		if c.Spec.Image == in.Image {
			return SetComponentImageResult{SpecVersion: c.Version}, nil
		}
		spec := c.Spec
		spec.Image = in.Image
		updated, err := b.Versions.UpdateComponentSpec(ctx, c.ID, c.Version, spec)
		if errors.Is(err, store.ErrConflict) && attempt < 10 {
			select {
			case <-ctx.Done():
				return SetComponentImageResult{}, ctx.Err()
			case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return SetComponentImageResult{}, fmt.Errorf("set component image: %w", err)
		}
		return SetComponentImageResult{SpecVersion: updated.Version}, nil
	}
}
