package api

import "net/http"

// tenantScope guards every route inside a tenant. (Roles arrive in the next change; until then every
// authenticated principal passes, as before.)
func (s *Server) tenantScope(next http.Handler) http.Handler {
	return next
}
