package gateway

import (
	"crypto/rand"
	"net/http"
)

// HeaderRequestID carries the id that ties one request's log lines together across the gateway and
// the component that served it.
const HeaderRequestID = "X-Request-ID"

// withRequestID keeps a client's X-Request-ID when it is sane (1 to 128 visible ASCII characters) and
// sets a random one otherwise, on the request passed on and on the response.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !saneRequestID(id) {
			id = rand.Text()
			r.Header.Set(HeaderRequestID, id)
		}
		w.Header().Set(HeaderRequestID, id)
		next.ServeHTTP(w, r)
	})
}

func saneRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}
