package devstack

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestMariaDB(t *testing.T) {
	if os.Getenv("RAINFLOW_DEVSTACK_TEST") != "1" {
		t.Skip("set RAINFLOW_DEVSTACK_TEST=1 to start a real MariaDB")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "mariadb")
	begin := time.Now()
	m, err := StartMariaDB(ctx, dir, 13307)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cold start (install + start): %s", time.Since(begin).Round(time.Millisecond))
	defer func() { _ = m.Stop() }()

	query := func(m *MariaDB) {
		t.Helper()
		db, err := sql.Open("mysql", m.DSN("rainflow_test"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS t (id INT PRIMARY KEY); INSERT IGNORE INTO t VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 1 {
			t.Fatalf("count = %d, %v", n, err)
		}
	}
	query(m)

	// a second start on a running server reuses it
	begin = time.Now()
	again, err := StartMariaDB(ctx, dir, 13307)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("start on a running server: %s", time.Since(begin).Round(time.Millisecond))
	query(again)

	begin = time.Now()
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stop: %s", time.Since(begin).Round(time.Millisecond))
	begin = time.Now()
	warm, err := StartMariaDB(ctx, dir, 13307)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("warm start: %s", time.Since(begin).Round(time.Millisecond))
	query(warm) // data kept
	if err := warm.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := warm.CreateDatabase(ctx, "bad-name;"); err == nil {
		t.Error("bad database name accepted")
	}
}
