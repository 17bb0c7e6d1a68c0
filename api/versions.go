package api

import (
	"net/http"
	"time"

	"github.com/rainflow/rainflow/store"
)

// versionView is one of a component's versions: an image it ran or that was built for it.
type versionView struct {
	ID          string `json:"id"`
	ImageDigest string `json:"imageDigest"`
	SourceKind  string `json:"sourceKind"` // image, git or archive
	Source      string `json:"source,omitempty"`
	Revision    string `json:"revision,omitempty"`
	// BuildOperation is the build that made it, absent for an image deployed as it was.
	BuildOperation string `json:"buildOperation,omitempty"`
	Operation      string `json:"operation,omitempty"` // the operation that recorded it
	// Builder, Language, SizeBytes and BuildSeconds say how a build made it.
	Builder      string            `json:"builder,omitempty"`
	Language     string            `json:"language,omitempty"`
	SizeBytes    int64             `json:"sizeBytes,omitempty"`
	BuildSeconds float64           `json:"buildSeconds,omitempty"`
	CreatedAt    time.Time         `json:"createdAt"`
	Links        map[string]string `json:"links,omitempty"`
}

func newVersionView(tenant string, v store.Version) versionView {
	out := versionView{ID: v.ID, ImageDigest: v.ImageDigest, SourceKind: v.SourceKind, Source: v.Source, Revision: v.Revision,
		BuildOperation: v.BuildOperationID, Operation: v.OperationID, Builder: v.Builder, Language: v.Language,
		SizeBytes: v.SizeBytes, BuildSeconds: v.BuildDuration.Seconds(), CreatedAt: v.CreatedAt, Links: map[string]string{}}
	if v.OperationID != "" {
		out.Links["operation"] = operationPath(tenant, v.OperationID)
	}
	if v.BuildOperationID != "" {
		out.Links["build"] = operationPath(tenant, v.BuildOperationID)
	}
	return out
}

// listVersions answers the component's versions, newest first: each image it ran (or that was built
// for it) once, by digest, with where it came from.
func (s *Server) listVersions(w http.ResponseWriter, r *http.Request) error {
	t, _, c, err := s.componentOf(r)
	if err != nil {
		return err
	}
	return serveList(w, r, func(p store.Page) ([]store.Version, string, error) { return s.store.ListVersions(r.Context(), c.ID, p) },
		func(v store.Version) versionView { return newVersionView(t.Name, v) })
}
