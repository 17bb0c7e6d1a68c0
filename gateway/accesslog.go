package gateway

import (
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
		elapsed := time.Since(start)

		status := rec.status
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
		logger.LogAttrs(r.Context(), slog.LevelInfo, "http request",
			slog.String("request_id", r.Header.Get(HeaderRequestID)),
			slog.String("method", r.Method),
			slog.String("host", r.Host),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", elapsed),
			slog.String("remote", r.RemoteAddr),
			slog.String("ingress", ex.ingress),
			slog.String("backend", ex.backend),
			slog.String("upstream", upstream),
		)
	})
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
