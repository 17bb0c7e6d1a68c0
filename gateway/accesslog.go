package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// statusClientClosed is logged (nginx's convention) when the client went away before the answer.
const statusClientClosed = 499

// accessLog is the access log: one line per request to the process's log (stdout) when it takes info
// lines, and, when a collector is configured, to the access stream of the component the request's
// route belongs to. The proxy hands it a typed entry; nothing is parsed back from a log record.
type accessLog struct {
	logger    *slog.Logger     // the process's log, with log=access; nil: none
	collector *accessCollector // nil without a collector
}

// Enabled reports whether the process's log takes access lines at level. The fast path asks it once
// per request head: the strings of a line it does not take may be buffers the connection reuses (the
// collector side copies what it keeps).
func (a *accessLog) Enabled(ctx context.Context, level slog.Level) bool {
	return a != nil && a.logger != nil && a.logger.Enabled(ctx, level)
}

// withAccessLog logs one line per request and feeds the request metrics.
func withAccessLog(next http.Handler, access *accessLog, m *metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ex := &exchange{}
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(withExchange(r.Context(), ex)))
		logAccess(r.Context(), access, m, ex, accessEntry{
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
	end                                   time.Time // when the answer was written; zero: now
	// unlogged keeps the line out of the process's log: its strings are buffers the connection reuses
	// (the fast path decided so at the request head). The collector side still copies it.
	unlogged bool
}

// logAccess feeds the request and per-route metrics and writes one request's access line: to the
// process's log when it takes info lines, and to the collector when the route belongs to a component.
// Both the net/http path and the fast path end a request with it. It allocates nothing when the
// process's log does not take the line.
func logAccess(ctx context.Context, access *accessLog, m *metrics, ex *exchange, e accessEntry) {
	end := e.end
	if end.IsZero() {
		end = time.Now()
	}
	elapsed := end.Sub(e.start)
	status := e.status
	switch {
	case ex.clientGone:
		status = statusClientClosed
	case status == 0 && ex.upstreamStatus == http.StatusSwitchingProtocols:
		status = http.StatusSwitchingProtocols // hijacked: the upgrade answer bypassed rec
	case status == 0:
		status = http.StatusOK
	}
	cm := m.codes.get(m, status)
	cm.requests.Inc()
	cm.duration.Observe(elapsed.Seconds())
	if ex.route != nil {
		ex.route.stats.get(m, ex.ingress).observe(status, elapsed, ex.upstreamErrors)
	}
	if access == nil {
		return
	}
	if access.collector != nil {
		access.collector.add(ex, &e, status, elapsed, end)
	}
	if e.unlogged || !access.Enabled(ctx, slog.LevelInfo) {
		return // no attributes built for a discarded line
	}
	access.logger.LogAttrs(ctx, slog.LevelInfo, "http request",
		slog.String(accessKeyRequestID, e.requestID),
		slog.String(accessKeyMethod, e.method),
		slog.String(accessKeyHost, e.host),
		slog.String(accessKeyPath, e.path),
		slog.Int(accessKeyStatus, status),
		slog.Int64(accessKeyBytes, e.bytes),
		slog.Duration(accessKeyDuration, elapsed),
		slog.String(accessKeyRemote, e.remote),
		slog.String(accessKeyIngress, ex.ingress),
		slog.String(accessKeyBackend, ex.backend),
		slog.String(accessKeyUpstream, ex.upstreamAddr()),
	)
}

// upstreamAddr is the address of the upstream that served the request, "" when none did.
func (ex *exchange) upstreamAddr() string {
	if ex.upstream == nil {
		return ""
	}
	return ex.upstream.Addr
}

// Keys of the access log's attributes in the process's log.
const (
	accessKeyRequestID = "request_id"
	accessKeyMethod    = "method"
	accessKeyHost      = "host"
	accessKeyPath      = "path"
	accessKeyStatus    = "status"
	accessKeyBytes     = "bytes"
	accessKeyDuration  = "duration"
	accessKeyRemote    = "remote"
	accessKeyIngress   = "ingress"
	accessKeyBackend   = "backend"
	accessKeyUpstream  = "upstream"
)

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
