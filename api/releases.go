package api

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

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

// getRelease answers one of the component's releases: what ran, its image by digest, spec and routes.
func (s *Server) getRelease(w http.ResponseWriter, r *http.Request) error {
	t, _, c, err := s.componentOf(r)
	if err != nil {
		return err
	}
	id := chi.URLParam(r, "release")
	rel, err := s.store.GetRelease(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rel.ComponentID != c.ID) {
		return notFound("component %q has no release %q", c.Name, id)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newReleaseView(t.Name, rel))
	return nil
}
