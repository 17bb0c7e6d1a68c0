package devstack

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestPostgres(t *testing.T) {
	if os.Getenv("RAINFLOW_DEVSTACK_TEST") != "1" {
		t.Skip("set RAINFLOW_DEVSTACK_TEST=1 to start a real PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	// the server runs as the postgres user when the test runs as root: let it reach its folder
	for _, d := range []string{filepath.Dir(tmp), tmp} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(tmp, "postgres")
	begin := time.Now()
	p, err := StartPostgres(ctx, dir, 13308)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cold start (initdb + start): %s", time.Since(begin).Round(time.Millisecond))
	defer func() { _ = p.Stop() }()

	query := func(p *Postgres) {
		t.Helper()
		conn, err := pgx.Connect(ctx, p.DSN("rainflow_test"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS t (id INT PRIMARY KEY); INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING"); err != nil {
			t.Fatal(err)
		}
		var n int
		var collation string
		err = conn.QueryRow(ctx, "SELECT (SELECT COUNT(*) FROM t), (SELECT datcollate FROM pg_database WHERE datname = current_database())").Scan(&n, &collation)
		if err != nil || n != 1 || collation != "C" {
			t.Fatalf("count = %d, collation = %q, %v", n, collation, err)
		}
	}
	query(p)

	// a second start on a running server reuses it
	begin = time.Now()
	again, err := StartPostgres(ctx, dir, 13308)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("start on a running server: %s", time.Since(begin).Round(time.Millisecond))
	query(again)

	// a fast shutdown does not wait for open sessions
	idle, err := pgx.Connect(ctx, p.DSN("rainflow_test"))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close(ctx)
	begin = time.Now()
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stop with a session open: %s", time.Since(begin).Round(time.Millisecond))
	if time.Since(begin) > 20*time.Second {
		t.Error("stop waited for the open session")
	}
	begin = time.Now()
	warm, err := StartPostgres(ctx, dir, 13308)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("warm start: %s", time.Since(begin).Round(time.Millisecond))
	query(warm) // data kept
	if err := warm.DropDatabase(ctx, "rainflow_test"); err != nil {
		t.Fatal(err)
	}
	if err := warm.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := warm.CreateDatabase(ctx, "bad-name;"); err == nil {
		t.Error("bad database name accepted")
	}
}
