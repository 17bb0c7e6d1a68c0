package api

import (
	"net/http"

	"github.com/rainflow/rainflow/store"
)

// listReleases answers the component's releases, newest first: what ran, by image digest and spec.
func (s *Server) listReleases(w http.ResponseWriter, r *http.Request) error {
	t, _, c, err := s.componentOf(r)
	if err != nil {
		return err
	}
	return serveList(w, r, func(p store.Page) ([]store.Release, string, error) { return s.store.ListReleases(r.Context(), c.ID, p) },
		func(rel store.Release) releaseView { return newReleaseView(t.Name, rel) })
}
