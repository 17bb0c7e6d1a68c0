package api

import (
	"fmt"
	"net/http"
)

// requireAdmin answers 403 unless the authenticated principal is an admin.
func requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		if !p.Admin {
			writeProblem(w, r, &Problem{
				Type: typeForbidden, Status: http.StatusForbidden,
				Detail: fmt.Sprintf("principal %q may not %s %s: only the admin may create or delete tenants", p.Name, r.Method, r.URL.Path),
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}
