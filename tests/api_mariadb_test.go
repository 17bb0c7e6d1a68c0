package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/devstack"
)

// TestAPIOnMariaDB runs every test of the api package (each endpoint over HTTP: roles and tenant
// isolation, tokens, the audit trail, operations, validation) against a real MariaDB server instead of
// SQLite: each of those tests gets a fresh database of its own on it.
func TestAPIOnMariaDB(t *testing.T) {
	ctx := testContext(t)
	db, err := devstack.StartMariaDB(ctx, filepath.Join(stateDir, "mariadb"), 13306)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Stop() })

	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.CommandContext(ctx, goBin, "test", "-count=1", "-run", "^Test", "./api")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "RAINFLOW_TEST_API_MYSQL_DSN="+db.RootDSN())
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go test ./api on MariaDB:\n%s", out)
	require.Contains(t, string(out), "ok", string(out))
	t.Logf("%s", strings.TrimSpace(string(out)))
}
