package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rainflow/rainflow/api"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/devstack"
	"github.com/rainflow/rainflow/store"
)

// BenchmarkComponentReadMariaDB is api's BenchmarkComponentRead on a real MariaDB (the one the store
// suite runs against): GET /v1/tenants/{t}/apps/{a}/components/{c} over HTTP on 127.0.0.1 through the
// whole handler (a user's API token looked up, its membership checked, tenant, app and component read
// from the store) at 1, 8 and 32 concurrent clients, reporting the latency's p50 and p99, the
// throughput and the CPU time per request of this process (client and API server) and of mariadbd.
// Run it with `make bench-api`, which holds the stack lock.
func BenchmarkComponentReadMariaDB(b *testing.B) {
	ctx := b.Context()
	db, err := devstack.StartMariaDB(ctx, filepath.Join(stateDir, "mariadb"), 13306)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Stop() })
	name := fmt.Sprintf("rainflow_bench_%d", time.Now().UnixNano())
	if err := db.CreateDatabase(ctx, name); err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(ctx, store.Config{Driver: store.DriverMySQL, DSN: db.DSN(name)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	base, token := serveForReads(b, ctx, st)
	mariadbd := pidOf(b, filepath.Join(stateDir, "mariadb", "mariadbd.server.pid"))
	for _, clients := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("mariadb/clients=%d", clients), func(b *testing.B) {
			before := cpuOf(mariadbd)
			n := measureReads(b, base+"/v1/tenants/acme/apps/shop/components/web", token, clients)
			if n > 0 && mariadbd != 0 {
				b.ReportMetric(float64(cpuOf(mariadbd)-before)/float64(time.Millisecond)/float64(n), "mariadb-cpu-ms/req")
			}
		})
	}
}

// noWorkflows is the API's Workflows where nothing starts one: reads and the setup below never do.
type noWorkflows struct{ api.Workflows }

// pidOf reads a pid file; 0 when it cannot.
func pidOf(b *testing.B, path string) int {
	raw, err := os.ReadFile(path)
	var pid int
	if err == nil {
		_, err = fmt.Sscan(string(raw), &pid)
	}
	if err != nil {
		b.Logf("no mariadbd pid in %s: %v", path, err)
		return 0
	}
	return pid
}

// cpuOf answers the CPU time (user and system) a process used so far, from /proc; 0 when unknown.
func cpuOf(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// the fields after the command's closing parenthesis: state is field 3, utime 14, stime 15
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	fields := bytes.Fields(stat[i+1:])
	if len(fields) < 13 {
		return 0
	}
	var utime, stime int64
	if _, err := fmt.Sscan(string(fields[11])+" "+string(fields[12]), &utime, &stime); err != nil {
		return 0
	}
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// serveForReads serves the API over st on a port of 127.0.0.1 with tenant acme (among 50 others), app
// shop and components web and 49 more, and answers its base URL and the API token of user ana, a
// viewer of acme.
func serveForReads(b *testing.B, ctx context.Context, st *store.Store) (base, token string) {
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

// measureReads GETs url b.N times from clients concurrent clients (each with its own keep-alive
// connection), reports the latency's p50 and p99 in milliseconds, the requests per second and this
// process's CPU time per request, and answers how many requests it measured.
func measureReads(b *testing.B, url, token string, clients int) int {
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

// processCPU answers the CPU time this process used so far (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
