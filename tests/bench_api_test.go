package tests

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rainflow/rainflow/devstack"
	"github.com/rainflow/rainflow/internal/readbench"
	"github.com/rainflow/rainflow/store"
)

// BenchmarkComponentReadMariaDB is api's BenchmarkComponentRead on a real MariaDB (the one the store
// suite runs against): GET /v1/tenants/{t}/apps/{a}/components/{c} over HTTP on 127.0.0.1 through the
// whole handler (a user's API token, from the token cache; the tenant with the caller's membership, the
// app, the component and its secret env names in one query) at 1, 8 and 32 concurrent clients,
// reporting the latency's p50 and p99, the throughput and the CPU time per request of this process
// (client and API server) and of mariadbd.
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
	base, token := readbench.Serve(b, ctx, st)
	mariadbd := pidOf(b, filepath.Join(stateDir, "mariadb", "mariadbd.server.pid"))
	for _, clients := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("mariadb/clients=%d", clients), func(b *testing.B) {
			before := cpuOf(mariadbd)
			n := readbench.Measure(b, base+"/v1/tenants/acme/apps/shop/components/web", token, clients)
			if n > 0 && mariadbd != 0 {
				b.ReportMetric(float64(cpuOf(mariadbd)-before)/float64(time.Millisecond)/float64(n), "mariadb-cpu-ms/req")
			}
		})
	}
}

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
