package gateway

import "context"

// exchange is what the handlers of one request learn about it, for the access log: which route and
// upstream served it and what the upstream answered. It is owned by the request's goroutine.
type exchange struct {
	ingress        string // namespace/name of the matched Ingress, "" for the default backend
	backend        string // Backend.Key
	upstream       *Upstream
	upstreamStatus int
	clientGone     bool
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
