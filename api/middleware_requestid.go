package api

import (
	"context"
	"net/http"

	"github.com/google/uuid"
)

// requestIDHeader carries the request id, in the request (from a proxy, kept) and in the response.
const requestIDHeader = "X-Request-Id"

type requestIDKey struct{}

var requestIDCtxKey = &requestIDKey{}

// RequestIDFrom answers the request's id, "" outside a request.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDCtxKey).(string)
	return id
}

// requestID gives every request an id: the caller's X-Request-Id when it is sane, a new UUID otherwise.
// The id is answered in X-Request-Id, logged, and put in every problem.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestIDHeader)
		if !saneRequestID(id) {
			id = uuid.NewString()
		}
		w.Header().Set(requestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDCtxKey, id)))
	})
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}
