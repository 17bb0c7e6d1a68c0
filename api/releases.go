package api

import (
	"net/http"
)

// listReleases answers the component's releases, newest first: what ran, by image digest and spec.
func (s *Server) listReleases(w http.ResponseWriter, r *http.Request) error {
	t, _, c, err := s.componentOf(r)
	if err != nil {
		return err
	}
	page, err := pageOf(r)
	if err != nil {
		return err
	}
	releases, next, err := s.store.ListReleases(r.Context(), c.ID, page)
	if err != nil {
		return listError(err)
	}
	views := make([]releaseView, len(releases))
	for i, rel := range releases {
		views[i] = newReleaseView(t.Name, rel)
	}
	writeList(w, r, views, next)
	return nil
}
