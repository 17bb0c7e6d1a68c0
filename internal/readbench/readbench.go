// Package readbench measures the API's reads as a client sees them, for the read benchmarks of api/
// (SQLite) and tests/ (MariaDB): one setup, one measurement, so that both report the same figures.
package readbench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rainflow/rainflow/api"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// noWorkflows is the API's Workflows where nothing starts one: reads and the setup never do.
type noWorkflows struct{ api.Workflows }

// Serve serves the API over st on a port of 127.0.0.1 with tenant acme (among 50 others), app
// shop and components web and 49 more, and answers its base URL and the API token of user ana, a
// viewer of acme.
func Serve(b *testing.B, ctx context.Context, st *store.Store) (base, token string) {
	b.Helper()
	const adminToken = "bench-admin-0123456789"
	srv := api.New(api.Config{AdminToken: adminToken}, st, noWorkflows{}, nil, nil)
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
	call := func(method, path, body string) map[string]any {
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
		if resp.StatusCode >= 300 {
			b.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return out
	}
	spec, err := json.Marshal(contract.ComponentSpec{
		Image: "registry.example:5000/shop/web:1.0", Replicas: 1,
		Ports:     []contract.Port{{Name: "http", Port: 8080}},
		Readiness: &contract.Probe{HTTPPath: "/healthz", Port: 8080},
	})
	if err != nil {
		b.Fatal(err)
	}
	// tenants straight into the store: through the API each would start its setup workflow
	for i := range 50 {
		if _, err := st.CreateTenant(ctx, store.Tenant{Name: fmt.Sprintf("tenant-%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := st.CreateTenant(ctx, store.Tenant{Name: "acme"}); err != nil {
		b.Fatal(err)
	}
	call("POST", "/v1/tenants/acme/apps", `{"name":"shop"}`)
	for i := range 49 {
		call("POST", "/v1/tenants/acme/apps/shop/components", fmt.Sprintf(`{"name":"c%d","spec":%s}`, i, spec))
	}
	call("POST", "/v1/tenants/acme/apps/shop/components", fmt.Sprintf(`{"name":"web","spec":%s}`, spec))
	call("POST", "/v1/users", `{"name":"ana"}`)
	call("PUT", "/v1/tenants/acme/members/ana", `{"role":"viewer"}`)
	created := call("POST", "/v1/users/ana/tokens", `{"name":"bench"}`)
	token, _ = created["token"].(string)
	if token == "" {
		b.Fatalf("no token in %v", created)
	}
	return base, token
}

// Measure GETs url b.N times from clients concurrent clients (each with its own keep-alive
// connection), reports the latency's p50 and p99 in milliseconds, the requests per second and this
// process's CPU time per request, and answers how many requests it measured.
func Measure(b *testing.B, url, token string, clients int) int {
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
	// open every client's connection and warm the caches: concurrently, as the measurement runs (one
	// client after the other would share one connection, and the measurement would open the others)
	warmErrs := make(chan error, clients)
	var warm sync.WaitGroup
	for range clients {
		warm.Go(func() {
			for range 5 {
				if _, err := get(); err != nil {
					warmErrs <- err
					return
				}
			}
		})
	}
	warm.Wait()
	close(warmErrs)
	for err := range warmErrs {
		b.Fatal(err)
	}

	latencies := make([][]time.Duration, clients)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start, cpuStart := time.Now(), ProcessCPU()
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
	elapsed, cpu := time.Since(start), ProcessCPU()-cpuStart
	b.StopTimer()

	all := slices.Concat(latencies...)
	if len(all) == 0 {
		return 0
	}
	slices.Sort(all)
	at := func(q float64) float64 {
		return float64(all[min(len(all)-1, int(q*float64(len(all))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(len(all)), "cpu-ms/req")
	return len(all)
}

// ProcessCPU answers the CPU time this process used so far (user and system).
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
