package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	networkingv1 "k8s.io/api/networking/v1"
)

// BenchmarkAccessLog is the cost of one request's access line: to the log only, to a collector only
// (the process's log off, as in `make bench-gateway`), and to both. The collector is an httptest server on 127.0.0.1 that discards what it is sent. The
// sender's encoding and requests run on their own goroutine; with GOMAXPROCS 1 (-cpu 1) their CPU
// shows in ns/op.
func BenchmarkAccessLog(b *testing.B) {
	discard := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(discard.Close)
	for _, bc := range []struct {
		name      string
		log       bool
		collector string
	}{
		{name: "log", log: true},
		{name: "collector", collector: discard.URL},
		{name: "log+collector", log: true, collector: discard.URL},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := newMetrics()
			logger := slog.New(slog.DiscardHandler)
			if bc.log {
				logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
			}
			access, c := newAccessLog(AccessLogConfig{CollectorURL: bc.collector}, logger, m)
			c.update(Objects{Ingresses: []*networkingv1.Ingress{withLabels(ingress("t1", "web"), componentLabels("t1", "shop", "web"))}})
			stop := c.start(b.Context())
			ex := &exchange{ingress: "t1/web", backend: "t1/web:http", upstream: &Upstream{Addr: "10.1.0.7:8080"}}
			e := accessEntry{requestID: "0123456789abcdef", method: "GET", host: "shop.example.com", path: "/cart",
				remote: "10.0.0.9:51234", status: 200, bytes: 512, start: time.Now()}
			b.ReportAllocs()
			for b.Loop() {
				logAccess(b.Context(), access, m, ex, e)
			}
			stop()
			if bc.collector != "" {
				var dropped dto.Metric
				_ = m.accessDropped.WithLabelValues("queue-full").Write(&dropped)
				b.ReportMetric(dropped.GetCounter().GetValue()/float64(b.N), "dropped/op")
			}
		})
	}
}
