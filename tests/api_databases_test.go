package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/devstack"
)

// TestAPIOnRealDatabases runs every test of the api package (each endpoint over HTTP: roles and tenant
// isolation, tokens, the audit trail, operations, validation) against a real MariaDB and a real
// PostgreSQL instead of SQLite, both at once from one build of the package's test binary. On MariaDB
// each test gets a database of its own, on PostgreSQL a schema of its own.
func TestAPIOnRealDatabases(t *testing.T) {
	ctx := testContext(t)
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "api.test")
	build := exec.CommandContext(ctx, goBin, "test", "-c", "-o", bin, "./api")
	build.Dir = repoRoot
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build the api tests:\n%s", out)

	run := func(t *testing.T, env string) {
		cmd := exec.CommandContext(ctx, bin, "-test.count=1", "-test.run", "^Test")
		cmd.Dir = filepath.Join(repoRoot, "api") // where go test runs them: testdata/ is relative
		cmd.Env = append(os.Environ(), env)
		t0 := time.Now()
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "api tests:\n%s", out)
		require.Contains(t, string(out), "PASS", string(out))
		t.Logf("api tests passed in %s", time.Since(t0).Round(time.Second))
	}
	t.Run("MariaDB", func(t *testing.T) {
		t.Parallel()
		db, err := devstack.StartMariaDB(ctx, filepath.Join(stateDir, "mariadb"), 13306)
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Stop() })
		run(t, "RAINFLOW_TEST_API_MYSQL_DSN="+db.RootDSN())
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		db := startPostgres(t)
		name := fmt.Sprintf("rainflow_api_%d", time.Now().UnixNano())
		require.NoError(t, db.CreateDatabase(ctx, name))
		t.Cleanup(func() { _ = db.DropDatabase(context.Background(), name) })
		run(t, "RAINFLOW_TEST_API_POSTGRES_DSN="+db.DSN(name))
	})
}
