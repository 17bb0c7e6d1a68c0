package api

import (
	"context"
	"net/http"
	"time"
)

// healthChecker is what /readyz asks besides the store; TemporalWorkflows is one.
type healthChecker interface {
	CheckHealth(ctx context.Context) error
}

// healthz answers 200 while the process serves.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the store and the workflow engine answer, 503 naming the one that does not.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		writeProblem(w, r, &Problem{Type: typeStoreUnavailable, Status: http.StatusServiceUnavailable, Detail: err.Error()})
		return
	}
	if hc, ok := s.wf.(healthChecker); ok {
		if err := hc.CheckHealth(ctx); err != nil {
			writeProblem(w, r, &Problem{Type: typeWorkflowsUnavailable, Status: http.StatusServiceUnavailable, Detail: err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
