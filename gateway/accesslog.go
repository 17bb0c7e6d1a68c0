package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// statusClientClosed is logged (nginx's convention) when the client went away before the answer.
const statusClientClosed = 499

// withAccessLog logs one line per request and feeds the request metrics.
func withAccessLog(next http.Handler, logger *slog.Logger, m *metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ex := &exchange{}
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(withExchange(r.Context(), ex)))
		logAccess(r.Context(), logger, m, ex, accessEntry{
			requestID: r.Header.Get(HeaderRequestID), method: r.Method, host: r.Host, path: r.URL.Path,
			remote: r.RemoteAddr, status: rec.status, bytes: rec.bytes, start: start,
		})
	})
}

// accessEntry is what the access log says of one request besides its exchange.
type accessEntry struct {
	requestID, method, host, path, remote string
	status                                int // as answered, 0 when nothing was written
	bytes                                 int64
	start                                 time.Time
}

// logAccess writes one request's access log line and feeds the request and per-route metrics; both
// the net/http path and the fast path end a request with it.
func logAccess(ctx context.Context, logger *slog.Logger, m *metrics, ex *exchange, e accessEntry) {
	elapsed := time.Since(e.start)
	status := e.status
	switch {
	case ex.clientGone:
		status = statusClientClosed
	case status == 0 && ex.upstreamStatus == http.StatusSwitchingProtocols:
		status = http.StatusSwitchingProtocols // hijacked: the upgrade answer bypassed rec
	case status == 0:
		status = http.StatusOK
	}
	code := strconv.Itoa(status)
	m.requests.WithLabelValues(code).Inc()
	m.duration.WithLabelValues(code[:1] + "xx").Observe(elapsed.Seconds())
	if ex.route != nil {
		ex.route.stats.get(m, ex.ingress).observe(status, elapsed, ex.upstreamErrors)
	}

	upstream := ""
	if ex.upstream != nil {
		upstream = ex.upstream.Addr
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "http request",
		slog.String("request_id", e.requestID),
		slog.String("method", e.method),
		slog.String("host", e.host),
		slog.String("path", e.path),
		slog.Int("status", status),
		slog.Int64("bytes", e.bytes),
		slog.Duration("duration", elapsed),
		slog.String("remote", e.remote),
		slog.String("ingress", ex.ingress),
		slog.String("backend", ex.backend),
		slog.String("upstream", upstream),
	)
}

// recorder remembers the status and size of an answer. Unwrap lets http.ResponseController (used by
// ReverseProxy for flushing and for hijacking on Upgrade) reach the real writer.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += int64(n)
	return n, err
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }
