package gateway

import (
	"context"
	"time"
)

// exchange is what the handlers of one request learn about it, for the access log: which route and
// upstream served it and what the upstream answered. It is owned by the request's goroutine.
type exchange struct {
	ingress        string // namespace/name of the matched Ingress, "" for the default backend
	backend        string // Backend.Key
	upstream       *Upstream
	upstreamStatus int
	clientGone     bool

	route          *route      // the matched rule, nil for the default backend
	be             *backend    // the backend proxied to
	tried          uint64      // upstreams tried (a bit per index in be), for retries
	sticky         uint64      // the upstream hash the request's sticky cookie holds
	hasSticky      bool        // the request held a well-formed sticky cookie
	upstreamErrors int         // failed upstream attempts, for the route's metrics
	readTimer      *time.Timer // the read timeout, stopped when the response headers arrive
}

// exchangeKey is the context key of *exchange; only the accessors below use it.
type exchangeKey struct{}

func withExchange(ctx context.Context, ex *exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, ex)
}

// exchangeFrom returns the request's exchange, nil when none was attached.
func exchangeFrom(ctx context.Context) *exchange {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	return ex
}
