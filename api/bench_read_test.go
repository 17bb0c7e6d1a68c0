package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rainflow/rainflow/api"
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
	base, token := serveForReads(b, ctx, st)
	for _, clients := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("sqlite/clients=%d", clients), func(b *testing.B) {
			measureReads(b, base+"/v1/tenants/acme/apps/shop/components/web", token, clients)
		})
	}
}

// serveForReads serves the API over st on a port of 127.0.0.1 with tenant acme (among 50 others), app
// shop and components web and 49 more, and answers its base URL and the API token of user ana, a
// viewer of acme.
func serveForReads(b *testing.B, ctx context.Context, st *store.Store) (base, token string) {
	b.Helper()
	srv := api.New(api.Config{AdminToken: adminToken}, st, newFakeWorkflows(), &fakeImages{}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	})
	base = "http://" + ln.Addr().String()
	call := func(method, path, body string, want int) map[string]any {
		req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewBufferString(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want && (want != 0 || resp.StatusCode >= 300) {
			b.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return out
	}
	for i := range 50 {
		call("POST", "/v1/tenants", fmt.Sprintf(`{"name":"tenant-%d"}`, i), http.StatusCreated)
	}
	call("POST", "/v1/tenants", `{"name":"acme"}`, http.StatusCreated)
	call("POST", "/v1/tenants/acme/apps", `{"name":"shop"}`, http.StatusCreated)
	for i := range 49 {
		call("POST", "/v1/tenants/acme/apps/shop/components", componentBody(fmt.Sprintf("c%d", i), webImage), http.StatusCreated)
	}
	call("POST", "/v1/tenants/acme/apps/shop/components", componentBody("web", webImage), http.StatusCreated)
	call("POST", "/v1/users", `{"name":"ana"}`, http.StatusCreated)
	call("PUT", "/v1/tenants/acme/members/ana", `{"role":"viewer"}`, 0) // 200 or 201
	created := call("POST", "/v1/users/ana/tokens", `{"name":"bench"}`, http.StatusCreated)
	token, _ = created["token"].(string)
	if token == "" {
		b.Fatalf("no token in %v", created)
	}
	return base, token
}

// measureReads GETs url b.N times from clients concurrent clients (each with its own keep-alive
// connection) and reports the latency's p50 and p99 in milliseconds and the requests per second.
func measureReads(b *testing.B, url, token string, clients int) {
	transport := &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	get := func() (time.Duration, error) {
		req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		elapsed := time.Since(start)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return elapsed, err
	}
	for range clients { // open the connections and warm the caches
		if _, err := get(); err != nil {
			b.Fatal(err)
		}
	}

	latencies := make([][]time.Duration, clients)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start, cpuStart := time.Now(), processCPU()
	for c := range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				d, err := get()
				if err != nil {
					b.Error(err)
					return
				}
				latencies[c] = append(latencies[c], d)
			}
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), processCPU()-cpuStart
	b.StopTimer()

	all := slices.Concat(latencies...)
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	at := func(q float64) float64 {
		return float64(all[min(len(all)-1, int(q*float64(len(all))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(len(all)), "cpu-ms/req")
}

// processCPU answers the CPU time this process used so far (user and system): the cost of a request,
// client and server together, varies far less with the machine's load than its latency.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
