package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// retryTransport is the proxy's round tripper: it feeds passive health and the latency average of each
// upstream, and retries an idempotent request without a body on another upstream of the backend when
// its upstream cannot be dialed or answers 502, up to the rule's retries.
type retryTransport struct {
	base http.RoundTripper
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ex := exchangeFrom(req.Context())
	if ex == nil || ex.upstream == nil {
		return t.base.RoundTrip(req)
	}
	retries := 0
	if ex.route != nil && replayable(req) {
		retries = ex.route.Options.Retries
	}
	for attempt := 0; ; attempt++ {
		start := time.Now()
		res, err := t.base.RoundTrip(req)
		now := time.Now()
		u := ex.upstream
		switch {
		case err == nil:
			u.succeeded()
			u.ewma.observe(now.Sub(start), now)
		case req.Context().Err() == nil || errors.Is(context.Cause(req.Context()), errReadTimeout):
			u.failed(now)
			ex.upstreamErrors++
		}
		if attempt >= retries || !(isDialError(err) || (err == nil && res.StatusCode == http.StatusBadGateway)) {
			return res, err
		}
		ex.tried |= bit(ex.be.index(u))
		next := ex.be.next(u, ex.tried, now)
		if next == nil {
			return res, err
		}
		if res != nil {
			ex.upstreamErrors++ // a 502 retried
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
			_ = res.Body.Close()
		}
		u.end()
		next.begin()
		ex.upstream = next
		// A RoundTripper must not modify its request: the retry goes out as a shallow copy.
		retry := *req
		url := *req.URL
		url.Host = next.Addr
		retry.URL = &url
		req = &retry
	}
}

// replayable reports whether a request may be sent again: an idempotent method and no body.
func replayable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return req.Body == nil || req.Body == http.NoBody
	}
	return false
}

// isDialError reports whether err is a failure to connect, so the request never reached the upstream.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func bit(i int) uint64 {
	if i >= 64 {
		return 0
	}
	return 1 << i
}
