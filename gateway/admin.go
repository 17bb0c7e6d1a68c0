package gateway

import (
	"encoding/json"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newAdminHandler serves the operator's endpoints:
//
//	GET /healthz        200 while the process serves
//	GET /readyz         200 once the first routing snapshot is published, 503 before
//	GET /metrics        Prometheus metrics
//	GET /debug/routes   the running Routes as JSON, with the TCP and UDP routes l4 lists under "l4"
func newAdminHandler(table *atomic.Pointer[Table], m *metrics, l4 func() []L4RouteStatus) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		plainError(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if table.Load() == nil {
			plainError(w, http.StatusServiceUnavailable, "no routing snapshot published yet")
			return
		}
		plainError(w, http.StatusOK, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /debug/routes", func(w http.ResponseWriter, _ *http.Request) {
		t := table.Load()
		if t == nil {
			plainError(w, http.StatusServiceUnavailable, "no routing snapshot published yet")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		view := debugRoutes{Routes: t.Routes(), L4: []L4RouteStatus{}}
		if l4 != nil {
			view.L4 = l4()
		}
		_ = enc.Encode(view)
	})
	return mux
}

// debugRoutes is the JSON of /debug/routes: the fields of Routes ("http", "default", "tls") and "l4".
type debugRoutes struct {
	Routes
	L4 []L4RouteStatus `json:"l4"`
}
