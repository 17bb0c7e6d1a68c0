package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAPIOnPostgres runs every test of the api package (each endpoint over HTTP: roles and tenant
// isolation, tokens, the audit trail, operations, validation) against a real PostgreSQL server instead
// of SQLite, in a fresh database: each of those tests gets a fresh schema of its own in it.
func TestAPIOnPostgres(t *testing.T) {
	ctx := testContext(t)
	db := startPostgres(t)
	name := fmt.Sprintf("rainflow_api_%d", time.Now().UnixNano())
	require.NoError(t, db.CreateDatabase(ctx, name))
	t.Cleanup(func() { _ = db.DropDatabase(context.Background(), name) })

	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.CommandContext(ctx, goBin, "test", "-count=1", "-run", "^Test", "./api")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "RAINFLOW_TEST_API_POSTGRES_DSN="+db.DSN(name))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go test ./api on PostgreSQL:\n%s", out)
	require.Contains(t, string(out), "ok", string(out))
	t.Logf("%s", strings.TrimSpace(string(out)))
}
