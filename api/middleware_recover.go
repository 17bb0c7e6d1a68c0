package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
)

// recoverPanics turns a handler's panic into a logged 500 problem instead of a dropped connection.
func recoverPanics(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v) // the server's own way to abort a response
				}
				logger.ErrorContext(r.Context(), "handler panicked",
					"request_id", RequestIDFrom(r.Context()), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				writeProblem(w, r, &Problem{
					Type: typeInternal, Status: http.StatusInternalServerError,
					Detail: "the server failed while answering; the log has request id " + RequestIDFrom(r.Context()),
				})
			}()
			next.ServeHTTP(w, r)
		})
	}
}
