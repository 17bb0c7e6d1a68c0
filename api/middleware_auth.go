package api

import (
	"errors"
	"net/http"
)

// authenticate answers 401 to a request its authenticator does not accept, and puts the principal
// of one it does in the request's context.
func authenticate(a Authenticator) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := a.Authenticate(r)
			if err != nil {
				if !errors.Is(err, ErrNoCredentials) && !errors.Is(err, ErrBadCredentials) {
					writeProblem(w, r, &Problem{Type: typeStoreUnavailable, Status: http.StatusServiceUnavailable,
						Detail: "cannot check the credentials now: " + err.Error(), RetryAfter: 5})
					return
				}
				challenge := `Bearer realm="rainflow"`
				if errors.Is(err, ErrBadCredentials) {
					challenge += `, error="invalid_token"`
				}
				w.Header().Set("WWW-Authenticate", challenge)
				writeProblem(w, r, &Problem{
					Type: typeUnauthorized, Status: http.StatusUnauthorized, Detail: err.Error(),
				})
				return
			}
			next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
		})
	}
}
