package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/rainflow/rainflow/api"
	"github.com/rainflow/rainflow/internal/readbench"
	"github.com/rainflow/rainflow/store"
)

// BenchmarkComponentRead measures GET /v1/tenants/{t}/apps/{a}/components/{c} as a client sees it:
// over HTTP on 127.0.0.1, through the whole handler (a user's API token, from the token cache; the
// tenant with the caller's membership, the app, the component and its secret env names in one query),
// on a SQLite file, at 1, 8 and 32 concurrent clients. It reports the latency's p50 and p99 (p50-ms,
// p99-ms), the throughput (req/s) and the CPU time per request of this process, client and server
// together (cpu-ms/req). tests/bench_api_test.go runs the same on MariaDB; `make bench-api` runs both.
func BenchmarkComponentRead(b *testing.B) {
	ctx := b.Context()
	st := openBenchStore(b)
	base, token := readbench.Serve(b, ctx, st)
	for _, clients := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("sqlite/clients=%d", clients), func(b *testing.B) {
			readbench.Measure(b, base+"/v1/tenants/acme/apps/shop/components/web", token, clients)
		})
	}
}

// BenchmarkComponentReadHandler is the same read without the network and the client: the API's
// handler (middlewares, token, one query, JSON) called in this goroutine, one read at a time, on a
// SQLite file. Its allocs/op and cpu-us/op (this process's CPU time a read) are the server's own cost
// of a read, which vary far less with the machine's load than the figures over HTTP (or ns/op).
func BenchmarkComponentReadHandler(b *testing.B) {
	ctx := b.Context()
	st := openBenchStore(b)
	_, token := readbench.Serve(b, ctx, st)
	h := api.New(api.Config{}, st, nil, nil, nil).Handler() // a second API over the same store
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/v1/tenants/acme/apps/shop/components/web", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	read := func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("GET %s: %d %s", req.URL.Path, w.Code, w.Body)
		}
	}
	read() // the token into the cache
	b.ReportAllocs()
	b.ResetTimer()
	cpu := readbench.ProcessCPU()
	for b.Loop() {
		read()
	}
	b.ReportMetric(float64(readbench.ProcessCPU()-cpu)/float64(time.Microsecond)/float64(b.N), "cpu-us/op")
}

// openBenchStore opens a store on a SQLite file of the benchmark's own.
func openBenchStore(b *testing.B) *store.Store {
	st, err := store.Open(b.Context(), store.Config{DSN: filepath.Join(b.TempDir(), "bench.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	return st
}
