package api_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rainflow/rainflow/internal/readbench"
	"github.com/rainflow/rainflow/store"
)

// BenchmarkComponentRead measures GET /v1/tenants/{t}/apps/{a}/components/{c} as a client sees it:
// over HTTP on 127.0.0.1, through the whole handler (a user's API token looked up, its membership
// checked, tenant, app and component read from the store), on a SQLite file, at 1, 8 and 32
// concurrent clients. It reports the latency's p50 and p99 (p50-ms, p99-ms), the throughput (req/s)
// and the CPU time per request of this process, client and server together (cpu-ms/req). tests/bench_api_test.go runs the same on MariaDB; `make bench-api` runs both.
func BenchmarkComponentRead(b *testing.B) {
	ctx := b.Context()
	st, err := store.Open(ctx, store.Config{DSN: filepath.Join(b.TempDir(), "bench.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	base, token := readbench.Serve(b, ctx, st)
	for _, clients := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("sqlite/clients=%d", clients), func(b *testing.B) {
			readbench.Measure(b, base+"/v1/tenants/acme/apps/shop/components/web", token, clients)
		})
	}
}
